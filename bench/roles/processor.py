"""Consume-transform-produce: the processor of topology `process`.

exactly_once_v2 consumes read_committed, produces inside a transaction and commits its input
offsets in that same transaction with `send_offsets_to_transaction(positions,
consumer_group_metadata())` (KIP-447). at_least_once flushes its output, then commits the input
offsets. Both commit every `transaction_size` records or `transaction_ms`, so the two modes are
compared at the same commit interval. After an abort, or a failed delivery in at_least_once,
the consumer rewinds to the last committed offsets: nothing is skipped, which is the point.

A processor whose partitions are revoked or lost while a transaction is open (a rebalance, or
its own membership gone after a stall: a zombie) aborts that transaction in the rebalance
callback: its input may be another member's now, and whoever owns it reads on from the committed
offsets. A zombie that commits before it learns of the rebalance sends offsets with its old
generation or member epoch, which the group coordinator refuses: an abortable error, counted as
an abort (`aborts`) like any other.
"""

from __future__ import annotations


from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer

from bench.roles import clock
from bench.metrics import IntervalRecorder, ids_by_producer, read_prefixes
from bench.roles import Channel, ClientLog, RoleFailed, cpu_seconds, retrying, wait_for_go
from bench.roles.protocol import Kind, ProcessorResult, ProcessorSpec, Timeline
from bench.roles.reading import DistinctIds, Drain, LogEnd, join, next_batch


def run(spec: ProcessorSpec, channel: Channel) -> ProcessorResult:
    log = ClientLog(spec.role, spec.consumer_config, spec.producer_config)
    consumer = Consumer(spec.consumer_config, logger=log.logger)
    producer = Producer(spec.producer_config, logger=log.logger)
    transactional = "transactional.id" in spec.producer_config
    if transactional:
        retrying(producer.init_transactions, 60)
    processor = _Processor(spec, consumer, producer, transactional, channel)
    pending = join(consumer, [spec.input_topic], on_revoke=processor.revoked, on_lost=processor.revoked)
    processor.timeline = wait_for_go(channel)
    return processor.run(pending, log)


class _Processor:
    def __init__(self, spec: ProcessorSpec, consumer: Consumer, producer: Producer, transactional: bool, channel: Channel):
        self.spec, self.consumer, self.producer, self.transactional = spec, consumer, producer, transactional
        self.channel = channel
        self.timeline: Timeline | None = None  # set at GO, before the first record counts
        self.failed_deliveries = 0
        self.uncommitted = 0
        self.in_txn = False
        self.reassigned = False  # a revocation since the last batch was taken
        self.rewind_kept = False  # ... that aborted a transaction: the partitions kept must be rewound
        self.window_committed = self.processed = self.commits = self.aborts = self.rewinds = 0
        self.first_commit_ns: int | None = None

    def revoked(self, consumer: Consumer, partitions: list) -> None:
        """Partitions revoked or lost (librdkafka's rebalance callback, on this thread, inside poll):
        an open transaction holds records of them, so it is aborted rather than committed under a
        generation it no longer belongs to."""
        self.reassigned = True
        if self.in_txn:
            retrying(self.producer.abort_transaction, 60)
            self.in_txn = False
            self.aborts += 1
            self.uncommitted = 0
            self.rewind_kept = True

    def _still_assigned(self, records: list) -> list:
        """After a revocation inside the poll that returned `records`, those of partitions still
        assigned: the batch may hold records fetched before the callback ran. If the revocation
        aborted a transaction, the partitions kept go back to their committed offsets and the batch
        is dropped: the aborted transaction held their records too, which are read again from there
        (left where they were, they would be lost)."""
        if not self.reassigned:
            return records
        self.reassigned = False
        if self.rewind_kept:
            self.rewind_kept = False
            self._rewind()
            return []
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        return [m for m in records if (m.topic(), m.partition()) in assigned]

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.failed_deliveries += 1

    def run(self, pending: list, log: ClientLog) -> ProcessorResult:
        out = self.spec.output_topic
        every = self.spec.transaction_size or 0
        every_ns = int((self.spec.transaction_ms or 0) * 1e6)
        produce, poll = self.producer.produce, self.producer.poll
        self.commit_latency = IntervalRecorder(self.timeline.measure_start_ns)
        drain = Drain(LogEnd(self.spec.consumer_config, log.logger))
        distinct = DistinctIds()  # rewinds and duplicated input make `processed` overcount
        last_commit = last_progress = clock.now_ns()
        transform = self._transform()
        while True:
            batch = pending or next_batch(self.consumer, 500, 0.05)
            pending = []
            records = self._still_assigned([m for m in batch if m.error() is None])
            if records and self.transactional and not self.in_txn:
                self.producer.begin_transaction()
                self.in_txn = True
            records, values, ids = transform(records)
            for value in values:
                while True:
                    try:
                        produce(out, value, on_delivery=self._delivered)
                        break
                    except BufferError:
                        poll(0.001)
            poll(0)
            if records:
                distinct.add(ids_by_producer(read_prefixes(ids)))
            self.uncommitted += len(records)
            self.processed += len(records)
            now = clock.now_ns()
            if self.uncommitted and ((every and self.uncommitted >= every) or (every_ns and now - last_commit >= every_ns)):
                self._commit(now)
                last_commit = clock.now_ns()
            self.commit_latency.tick(now)
            if now - last_progress > 1_000_000_000:  # what a kill would otherwise take with it (bench.cell.faults)
                self.channel.send(Kind.PROGRESS, self.window_committed)
                last_progress = now
            drain.listen(self.channel)
            if drain.done(now, distinct.count, bool(records), self.consumer):
                break
        if self.uncommitted:
            self._commit(clock.now_ns())
        self.consumer.close()
        drain.close()
        return ProcessorResult(
            processed=self.processed, cut_off=drain.cut_off, window_committed=self.window_committed,
            transactions=self.commits if self.transactional else 0, aborts=self.aborts, rewinds=self.rewinds,
            cpu_total_s=cpu_seconds(), histograms={"commit": self.commit_latency.encoded()}, client_log=log.result(),
            first_commit_ns=self.first_commit_ns,
        )

    def _transform(self):
        """records -> (the records that count, the output values, the values carrying the ids):
        bytes pass through (the id travels in the value); with a registry every input record is
        decoded and every output record encoded, as an Avro pipeline stage does."""
        if not self.spec.registry:
            def passthrough(records: list) -> tuple[list, list, list]:
                values = [m.value() for m in records]
                return records, values, values

            return passthrough
        from bench.roles.avro import AvroReader, AvroValues

        avro, encode = AvroReader(self.spec.registry, [self.spec.input_topic]), AvroValues.encoder(self.spec.registry, self.spec.output_topic)

        def transform(records: list) -> tuple[list, list, list]:
            records, decoded = avro.records(records)
            return records, [encode(record) for record in decoded], avro.ids(decoded)

        return transform

    def _commit(self, now: int) -> None:
        started = clock.now_ns()
        committed = self._commit_transaction() if self.transactional else self._commit_after_flush()
        self.in_txn = False
        if committed:
            self.commits += 1
            self.first_commit_ns = self.first_commit_ns or clock.now_ns()
            if self.timeline.measure_start_ns <= now < self.timeline.measure_end_ns:
                self.window_committed += self.uncommitted
                self.commit_latency.record((clock.now_ns() - started) // 1000)
        self.uncommitted = 0

    def _positions(self):
        return self.consumer.position(self.consumer.assignment())

    def _commit_transaction(self) -> bool:
        try:
            retrying(self.producer.send_offsets_to_transaction, self._positions(), self.consumer.consumer_group_metadata(), 60)
            retrying(self.producer.commit_transaction, 60)
            return True
        except KafkaException as exc:
            err = exc.args[0]
            if not err.txn_requires_abort():
                raise RoleFailed(f"fatal transaction error in processor: {err.str()}") from exc
            retrying(self.producer.abort_transaction, 60)
            self.aborts += 1
            self._rewind()
            return False

    def _commit_after_flush(self) -> bool:
        positions = self._positions()
        if self.producer.flush(60) or self.failed_deliveries:
            self.failed_deliveries = 0
            self._rewind()
            return False
        try:
            self.consumer.commit(offsets=positions, asynchronous=False)
        except KafkaException as exc:  # the group moved on (a zombie's commit): its output stays, as at-least-once allows
            if exc.args[0].fatal():
                raise RoleFailed(f"fatal error committing the processor's offsets: {exc.args[0].str()}") from exc
            self.aborts += 1
            self._rewind()
            return False
        return True

    def _rewind(self) -> None:
        """Back to the last committed input offsets, so uncommitted work is done again."""
        self.rewinds += 1
        for tp in self.consumer.committed(self.consumer.assignment(), timeout=30):
            tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            self.consumer.seek(tp)
