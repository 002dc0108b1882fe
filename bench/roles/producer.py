"""The load generator: one producer process, closed loop or on an intended-time schedule.

Closed loop (`rate` None) sends as fast as librdkafka's queue takes records. Open loop sends
record i at start + i/rate: when it falls behind, the delay is recorded as `send_delay` and the
record's stamp stays the intended time, so end-to-end latency includes the stall instead of
hiding it (no coordinated omission).
"""

from __future__ import annotations

import json
import os
import random
import struct
import time
from array import array
from dataclasses import replace

import numpy as np
from confluent_kafka import KafkaError, KafkaException, Producer

from bench.roles import clock
from bench.metrics import ABORTED, ACKED, FAILED, PREFIX_SIZE, RECORD_PREFIX, SEQ_OFFSET, IntervalRecorder, record_keys
from bench.roles import Channel, ClientLog, RoleFailed, client_errors_unmasked, cpu_seconds, retrying, threads, wait_for_go
from bench.roles.protocol import Kind, ProducerResult, ProducerSpec, Timeline

_PAYLOADS = 64  # distinct random payloads, so batches do not compress to nothing
# Records handed to librdkafka at once (produce_batch): 2.5x the records/s of one produce() call
# per record with headers, at 100 B (benchmarks/generator_cost.py).
_BATCH = 256
_SEQ = struct.Struct(">q")
_NOT_YET = 1 << 62
# What librdkafka reports when a newer producer with the same transactional.id took over
_FENCED = (KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)


def run(spec: ProducerSpec, channel: Channel) -> ProducerResult:
    throttle = BrokerThrottle()
    log = ClientLog(spec.role, spec.config)
    producer = Producer({**spec.config, "stats_cb": throttle.on_stats}, logger=log.logger)
    transactional = "transactional.id" in spec.config
    if transactional:
        retrying(producer.init_transactions, 60)
    timeline = wait_for_go(channel)
    result = _Generator(spec, producer, transactional, timeline, channel).run()
    return replace(result, throttle_ms=throttle.total_ms(timeline.measure_start_ns, timeline.measure_end_ns), client_log=log.result())


class BrokerThrottle:
    """How long brokers held this producer back for a quota, from librdkafka's statistics
    (`statistics.interval.ms`): a slowdown a broker imposed on purpose is told apart from one
    it could not help."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, float]] = []  # (arrival, throttle ms summed over brokers in the interval)

    def on_stats(self, raw: str) -> None:
        brokers = json.loads(raw).get("brokers", {}).values()
        self.samples.append((clock.now_ns(), float(sum((b.get("throttle") or {}).get("sum", 0) for b in brokers))))

    def total_ms(self, start_ns: int, end_ns: int) -> float:
        """Throttle reported for the window; a report covers the second before it arrives."""
        return sum(ms for t, ms in self.samples if start_ns < t <= end_ns + 1_000_000_000)


class _Generator:
    def __init__(self, spec: ProducerSpec, producer: Producer, transactional: bool, timeline: Timeline, channel: Channel):
        self.spec, self.producer, self.transactional, self.timeline, self.channel = spec, producer, transactional, timeline, channel
        self.topics = [spec.topic, *spec.fan_out_topics]
        self.states = bytearray(1 << 16)
        self.remaining = bytearray(1 << 16) if len(self.topics) > 1 else None  # per event: records not yet acknowledged
        # a transactional producer's partition of every acknowledged record: how many partitions each
        # transaction touched, which sets what its commit costs (librdkafka's sticky partitioner keeps
        # keyless records on one partition for 10 ms, so a short transaction touches one of many)
        self.partitions = array("H", bytes(2 << 16)) if transactional and self.remaining is None else None
        self.seq = 0
        self.window_from = [_NOT_YET]  # the first sequence number of the measured window (a cell the callback reads)
        self.produce_latency = IntervalRecorder(timeline.measure_start_ns, scale=1e6)
        self.send_delay = IntervalRecorder(timeline.measure_start_ns)
        self.commit_latency = IntervalRecorder(timeline.measure_start_ns)
        self.transactions = self.aborts = self.aborts_on_purpose = 0  # aborts after an error: the difference
        self.committed: list[int] = []  # first, end of each committed transaction
        self.fenced = False
        self.in_txn = False
        self.txn_first_seq = 0
        self.txn_started_ns = 0
        self.rng = random.Random(spec.producer_index)
        self.cpu_at_window_start: float | None = None
        self.threads_at_window_start: tuple[int, threads.Snapshot] | None = None  # (when, every thread then)
        self.acked_at_start: int | None = None  # records acknowledged when the window opened
        self.backlog = 0  # open loop: scheduled records not yet sent when the window ended
        self.acked_during_window = 0  # acknowledged while the window ran, whenever they were due (broker costs' denominator)
        self.values = None  # serialization bytes: the id followed by random payload
        if spec.registry:
            from bench.roles.avro import AvroValues  # the registry client and Avro only where a cell uses them

            self.values = AvroValues(spec.registry, self.topics, spec.message_size)
        self.id_offset = self.values.id_offset if self.values else 0  # where a value carries the record's id
        self.delivered = self._delivery_report()
        self.turns = _Turns(spec.turns, timeline) if spec.turns else None

    def run(self) -> ProducerResult:
        try:
            with client_errors_unmasked():
                self._load()
        except KafkaException as exc:
            # A zombie woken after its successor took over can meet the fence in any call
            # (produce, poll, commit): its open transaction is aborted, anything else fails the role.
            if not self.transactional:
                raise
            self._fenced_or_raise(exc, self.txn_first_seq if self.in_txn else self.seq)
        cpu_window_s = cpu_seconds() - (self.cpu_at_window_start or cpu_seconds())
        busiest_thread = None
        if self.turns:
            cpu_window_s, busiest_thread = self.turns.cpu_s, self.turns.busiest()
        elif self.threads_at_window_start:
            since, before = self.threads_at_window_start
            busiest_thread = threads.busiest(before, threads.snapshot(), (clock.now_ns() - since) / 1e9)
        self.acked_during_window = self.states.count(ACKED) - (self.acked_at_start or 0)
        if self.in_txn and not self.fenced:
            self._end_transaction(True)
        self.producer.flush(60)
        self.finished_ns = clock.now_ns()
        self._tick(self.finished_ns)
        return replace(self._result(cpu_window_s), busiest_thread=busiest_thread,
                       turn_edges=tuple(self.turns.edges) if self.turns else (),
                       turn_seconds=tuple(self.turns.seconds) if self.turns else ())

    def _load(self) -> None:
        """Send the schedule (or as fast as librdkafka takes records) until the window ends. Each
        pass: the turn schedule says whether this producer may send (order alternating), the pacing
        which records are due, the window's start and the transaction's bounds cut them, they are
        sent, and a transaction that reached its bound is committed."""
        spec, tl = self.spec, self.timeline
        pacing = _Pacing(tl, int(1e9 / spec.rate) if spec.rate else 0, spec.max_records, self.producer.poll)
        bounds = _TransactionBounds(spec.transaction_size or 0, int((spec.transaction_ms or 0) * 1e6))
        send = self._sender()
        last_progress = 0
        now = clock.now_ns()
        while now < tl.start_ns:
            time.sleep(min(0.01, (tl.start_ns - now) / 1e9))
            now = clock.now_ns()
        try:
            while True:
                now = clock.now_ns()
                seq = self.seq
                if self.acked_at_start is None and now >= tl.measure_start_ns:
                    self.acked_at_start = self.states.count(ACKED)
                if self.turns:
                    allowed = self._take_turn(now)
                    if allowed is None:
                        break
                    if not allowed:
                        continue
                due = pacing.due(now, seq)
                if due is None:
                    break
                if due is _WAIT:
                    continue
                intended, n = due
                n = self._cut_at_window_start(seq, intended, n, pacing.interval_ns)
                if self.fenced:
                    break
                if self.transactional:
                    if not self.in_txn and not self._begin_transaction(seq, now):
                        break
                    n = bounds.cut(self.txn_first_seq, seq, n)
                stamps = [intended + i * pacing.interval_ns for i in range(n)] if pacing.interval_ns else [intended] * n
                send(seq, stamps, now)
                self.seq = seq + n
                if pacing.interval_ns and seq >= self.window_from[0]:
                    self.send_delay.record_many(np.maximum(0, (now - np.asarray(stamps, dtype=np.int64)) // 1000))
                if self.in_txn and bounds.reached(self.txn_first_seq, self.seq, self.txn_started_ns, now):
                    self._end_transaction(seq >= self.window_from[0])
                    self.in_txn = False
                self.producer.poll(0)
                self._tick(now)
                if now - last_progress > 1_000_000_000:
                    self.channel.send(Kind.PROGRESS, self.seq)
                    last_progress = now
        finally:
            self.backlog = pacing.backlog

    def _cut_at_window_start(self, seq: int, intended: int, n: int, interval_ns: int) -> int:
        """The first record due in the window marks its start (and the CPU then); on a schedule a
        batch never straddles the window's start."""
        if seq < self.window_from[0]:
            if intended >= self.timeline.measure_start_ns:
                self.window_from[0] = seq
                self.cpu_at_window_start = cpu_seconds()
                self.threads_at_window_start = (clock.now_ns(), threads.snapshot())
            elif interval_ns:
                n = min(n, -(-(self.timeline.measure_start_ns - intended) // interval_ns))
        return n

    def _begin_transaction(self, seq: int, now: int) -> bool:
        """A new transaction from record `seq`; False when this producer was fenced off instead."""
        try:
            self.producer.begin_transaction()
        except KafkaException as exc:
            self._fenced_or_raise(exc, seq)
            return False
        self.in_txn, self.txn_first_seq, self.txn_started_ns = True, seq, now
        return True

    def _sender(self):
        """What sends records seq.. with their stamps: the bytes layout or Avro through the
        registry, to every topic of an event, keyed when the cell counts per key."""
        spec = self.spec
        payloads = [os.urandom(max(spec.message_size - PREFIX_SIZE, 0)) for _ in range(_PAYLOADS)]
        changes = [(self.timeline.measure_start_ns + int(at_s * 1e9), at_s, version) for at_s, version in sorted(spec.schema_changes)]
        ordinal, index, pack = spec.cell_ordinal, spec.producer_index, RECORD_PREFIX.pack
        keys = record_keys(spec.keys) if spec.keys else []

        def send(seq: int, stamps: list[int], now: int) -> None:
            n = len(stamps)
            self._grow(seq + n)
            if self.remaining is not None:
                self.remaining[seq:seq + n] = bytes([len(self.topics)]) * n
            if self.values is None:
                batches = [[{"value": pack(ordinal, index, seq + i, stamp) + payloads[(seq + i) % _PAYLOADS]} for i, stamp in enumerate(stamps)]]
                batches += [[{"value": m["value"]} for m in batches[0]] for _ in self.topics[1:]]
            else:
                if changes and now >= changes[0][0]:
                    self.values.change(changes[0][2], changes.pop(0)[1], seq)
                values = self.values.batch(seq, [pack(ordinal, index, seq + i, stamp) for i, stamp in enumerate(stamps)])
                batches = None if values is None else [[{"value": v} for v in topic_values] for topic_values in values]
            if batches is None:  # refused by the schema registry, or not serializable: never sent
                self.states[seq:seq + n] = bytes([FAILED]) * n
                return
            for topic, batch in zip(self.topics, batches):  # an event's records, in the same transaction
                if keys:
                    for i, message in enumerate(batch):
                        message["key"] = keys[(seq + i) % len(keys)]
                self._send(topic, batch)

        return send

    def _grow(self, records: int) -> None:
        """Room for `records` in the per-record arrays, doubling them."""
        while records > len(self.states):
            if self.remaining is not None:
                self.remaining.extend(bytearray(len(self.states)))
            if self.partitions is not None:
                self.partitions.extend(bytes(2 * len(self.states)))
            self.states.extend(bytearray(len(self.states)))

    def _take_turn(self, now: int) -> bool | None:
        """Order alternating: whether this producer may send now (True), waits for its next turn
        (False) or has had its last (None). A turn ends when what it sent is acknowledged: a
        transactional producer commits its open transaction, any other waits for its outstanding
        records (a mode taking turns leaves nothing in flight while another sends), and that tail
        counts in the turn's length, so the last commit of a turn is paid for like every other."""
        turns = self.turns
        if turns.index == len(turns.slots):
            return None
        start, end = turns.slots[turns.index]
        if now >= end:
            if turns.first is not None:
                if self.in_txn and not self.fenced:
                    self._end_transaction(turns.measured)
                    self.in_txn = False
                else:
                    self.producer.flush(60)
                turns.close(self.seq)
            turns.index += 1
            return False
        if now < start:
            self.producer.poll(min(0.05, (start - now) / 1e9))  # serves delivery reports as they come, wakes for the turn
            self._tick(now)
            return False
        if turns.first is None:
            turns.open(self.seq)
        return True

    def _send(self, topic: str, batch: list[dict]) -> None:
        """Hand a batch to librdkafka, waiting while its queue is full (the bound on records
        outstanding); a record it refuses for another reason is FAILED, as a delivery report would say."""
        while batch:
            try:
                self.producer.produce_batch(topic, batch, on_delivery=self.delivered)
            except BufferError:
                self._wait_for_room(len(batch))
                continue
            refused = [m for m in batch if "_error" in m]
            batch = []
            for message in refused:
                if message["_error"].code() == KafkaError._QUEUE_FULL:
                    batch.append({k: message[k] for k in ("value", "key") if k in message})
                else:
                    self.states[RECORD_PREFIX.unpack_from(message["value"], self.id_offset)[2]] = FAILED
            if batch:
                self._wait_for_room(len(batch))

    def _wait_for_room(self, records: int) -> None:
        """Serve delivery reports until about `records` have left librdkafka's queue. Offering the
        refused records again after each report re-sends a whole batch for the few places one
        report frees: a loop of refusals on the core the broker needs."""
        room_at = max(0, len(self.producer) - records)
        while len(self.producer) > room_at:
            self.producer.poll(0.001)

    def _delivery_report(self):
        """The delivery callback, the hottest code of the generator: a closure over locals. The
        record's sequence number is read back from its value."""
        states, record, window_from, seq_of = self.states, self.produce_latency.record, self.window_from, _SEQ.unpack_from
        remaining, partitions, at = self.remaining, self.partitions, self.id_offset + SEQ_OFFSET

        def delivered(err, msg) -> None:
            seq = seq_of(msg.value(), at)[0]
            if err is None:
                states[seq] = ACKED
                if seq >= window_from[0]:
                    record(msg.latency())  # float seconds, measured by librdkafka in C
            else:
                states[seq] = FAILED

        def delivered_transactional(err, msg) -> None:
            seq = seq_of(msg.value(), at)[0]
            if err is None:
                states[seq] = ACKED
                partitions[seq] = msg.partition()
                if seq >= window_from[0]:
                    record(msg.latency())
            else:
                states[seq] = FAILED

        def delivered_fan_out(err, msg) -> None:
            """An event is acknowledged once every one of its records is; one failure fails it."""
            seq = seq_of(msg.value(), at)[0]
            if err is None:
                remaining[seq] -= 1
                if not remaining[seq] and states[seq] != FAILED:
                    states[seq] = ACKED
                if seq >= window_from[0]:
                    record(msg.latency())
            else:
                states[seq] = FAILED

        if remaining is not None:
            return delivered_fan_out
        return delivered if partitions is None else delivered_transactional

    def _tick(self, now: int) -> None:
        self.produce_latency.tick(now)
        self.send_delay.tick(now)
        self.commit_latency.tick(now)

    def _end_transaction(self, in_window: bool) -> None:
        """Commit (or abort, for `abort_ratio`), classifying errors as librdkafka does."""
        first, last = self.txn_first_seq, self.seq
        if self.rng.random() < self.spec.abort_ratio:
            # Flush first: the aborted records then really are in the log, so read_committed
            # filtering is exercised, and librdkafka#4849 (INVALID_TXN_STATE when aborting
            # while partitions are still being added) cannot strike.
            self.producer.flush(60)
            retrying(self.producer.abort_transaction, 60)
            self.states[first:last] = bytes([ABORTED]) * (last - first)
            self.aborts += 1
            self.aborts_on_purpose += 1
            return
        started = clock.now_ns()
        if self.spec.announce_transactions:
            self.channel.send(Kind.TXN, [first, last])
        while True:
            try:
                self.producer.commit_transaction(60)
                break
            except KafkaException as exc:
                err = exc.args[0]
                if err.retriable():
                    continue
                if err.txn_requires_abort():
                    try:
                        retrying(self.producer.abort_transaction, 60)
                    except KafkaException as fatal:  # fenced while aborting: a zombie woken mid-commit
                        self._fenced_or_raise(fatal, first)
                        return
                    self.states[first:last] = bytes([ABORTED]) * (last - first)
                    self.aborts += 1
                    return
                self._fenced_or_raise(exc, first)
                return
        if in_window:
            self.commit_latency.record((clock.now_ns() - started) // 1000)
        self.transactions += 1
        self.committed += [first, last]

    def _fenced_or_raise(self, exc: KafkaException, first: int) -> None:
        """A newer instance with this transactional.id fenced this one off (a zombie): its open
        transaction can never commit, so its records are aborted, and it stops. Anything else fatal fails the role."""
        err = exc.args[0]
        if err.code() not in _FENCED:
            raise RoleFailed(f"fatal transaction error: {err.str()}") from exc
        self.producer.flush(10)  # what is still queued fails now; it belongs to the aborted transaction
        self.states[first:self.seq] = bytes([ABORTED]) * (self.seq - first)
        self.aborts += 1
        self.fenced = True

    def _result(self, cpu_window_s: float) -> ProducerResult:
        first = min(self.window_from[0], self.seq)
        states = bytes(self.states[: self.seq])
        return ProducerResult(
            producer_index=self.spec.producer_index, states=states, sent=self.seq,
            elapsed_s=(self.finished_ns - self.timeline.start_ns) / 1e9,
            window_acked=states[first:].count(ACKED), acked_during_window=self.acked_during_window, backlog=self.backlog,
            transactions=self.transactions, aborts=self.aborts, aborts_on_purpose=self.aborts_on_purpose,
            cpu_window_s=cpu_window_s, cpu_total_s=cpu_seconds(), throttle_ms=0.0,
            histograms={"produce": self.produce_latency.encoded(), "send_delay": self.send_delay.encoded(),
                        "commit": self.commit_latency.encoded()},
            client_log=None,  # filled in by run()
            committed=np.asarray(self.committed, dtype=np.int64) if self.transactional else None,
            committed_partitions=self._partitions_touched(), fenced=self.fenced,
            schemas=self.values.result() if self.values else [], serialize_errors=self.values.errors if self.values else 0,
        )

    def _partitions_touched(self) -> np.ndarray | None:
        """How many distinct partitions each committed transaction wrote to (aligned with `committed`)."""
        if self.partitions is None or not self.committed:
            return None
        edges = np.asarray(self.committed, dtype=np.int64).reshape(-1, 2)
        parts = np.frombuffer(self.partitions, dtype=np.uint16)
        sizes = edges[:, 1] - edges[:, 0]
        txn = np.repeat(np.arange(len(edges)), sizes)
        seqs = np.repeat(edges[:, 0], sizes) + np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        distinct = np.unique(txn * 65536 + parts[seqs]) // 65536
        return np.bincount(distinct, minlength=len(edges)).astype(np.int64)


_WAIT = object()  # nothing is due yet: look again


class _Pacing:
    """Which records are due. Open loop (`interval_ns`): record i at start + i x interval, every
    one due up to a batch, none past the window's end; what was still due when the window closed
    is the backlog Kafka did not take. Closed loop: a batch whenever librdkafka takes one, up to
    `budget` records (0 or None: no budget)."""

    def __init__(self, timeline: Timeline, interval_ns: int, budget: int | None, poll):
        self.timeline, self.interval_ns, self.budget, self.poll = timeline, interval_ns, budget, poll
        self.backlog = 0

    def due(self, now: int, seq: int):
        """(intended time, records) due now; _WAIT when none is yet; None when the window has ended."""
        tl, interval_ns = self.timeline, self.interval_ns
        if not interval_ns:
            if now >= tl.measure_end_ns or (self.budget and seq >= self.budget):
                return None
            return now, min(_BATCH, self.budget - seq) if self.budget else _BATCH
        intended = tl.start_ns + seq * interval_ns
        if intended >= tl.measure_end_ns or now >= tl.measure_end_ns:
            # Behind schedule at the end of the window, the rest of the schedule is the backlog
            # Kafka did not take; sending it afterwards would credit the window with records
            # sent after it.
            self.backlog = max(0, -(-(tl.measure_end_ns - intended) // interval_ns))  # ceiling
            return None
        if now < intended:
            # Wait without spinning: librdkafka's poll() rounds its timeout down to whole
            # milliseconds, so a shorter wait there is a busy loop that burns the core the broker
            # needs (measured: 101% of a core at 2,000 msg/s).
            wait_s = (intended - now) / 1e9
            if wait_s >= 0.001:
                self.poll(0.001)
            else:
                time.sleep(wait_s)
            return _WAIT
        # every record that is due, up to a batch and not past the window's end
        return intended, min(_BATCH, (now - intended) // interval_ns + 1, -(-(tl.measure_end_ns - intended) // interval_ns))


class _TransactionBounds:
    """Where a transaction ends: after `size` records, or once it has been open `ns` (0: no such bound)."""

    def __init__(self, size: int, ns: int):
        self.size, self.ns = size, ns

    def cut(self, first: int, seq: int, n: int) -> int:
        """At most the records that keep the transaction within its size."""
        return min(n, first + self.size - seq) if self.size else n

    def reached(self, first: int, end: int, started_ns: int, now: int) -> bool:
        return bool((self.size and end - first >= self.size) or (self.ns and now - started_ns >= self.ns))


class _Turns:
    """A producer's turns (order alternating, bench.cell.turns) on the shared clock, and what it
    spent in the measured ones: the sequence numbers each covered, how long each lasted (from its
    first send until what it sent was acknowledged), CPU, and its threads' demand summed over them
    (the idle time between turns is nobody's)."""

    def __init__(self, slots: tuple, timeline: Timeline):
        self.slots = [(timeline.start_ns + int(a * 1e9), timeline.start_ns + int(b * 1e9)) for a, b in slots]
        self.measure_start_ns = timeline.measure_start_ns
        self.index = 0
        self.first: int | None = None  # the open turn's first sequence number
        self.edges: list[int] = []     # [first, end) of every measured turn, flattened
        self.seconds: list[float] = []  # every measured turn's length
        self.cpu_s = 0.0
        self.demand: threads.Snapshot = {}  # tid -> (name, ns on a CPU, ns waiting), summed over measured turns
        self._at: tuple[int, float, threads.Snapshot] | None = None

    @property
    def measured(self) -> bool:
        return self.slots[self.index][0] >= self.measure_start_ns

    def open(self, seq: int) -> None:
        self.first = seq
        if self.measured:
            self._at = (clock.now_ns(), cpu_seconds(), threads.snapshot())

    def close(self, seq: int) -> None:
        if self._at is not None:
            since, cpu, before = self._at
            self.edges += [self.first, seq]
            self.seconds.append((clock.now_ns() - since) / 1e9)
            self.cpu_s += cpu_seconds() - cpu
            for tid, (name, on_cpu, waiting) in threads.snapshot().items():
                _, on_0, wait_0 = before.get(tid, (name, 0, 0))
                _, on_sum, wait_sum = self.demand.get(tid, (name, 0, 0))
                self.demand[tid] = (name, on_sum + on_cpu - on_0, wait_sum + waiting - wait_0)
        self.first, self._at = None, None

    def busiest(self) -> threads.ThreadDemand | None:
        return threads.busiest({}, self.demand, sum(self.seconds)) if self.demand else None
