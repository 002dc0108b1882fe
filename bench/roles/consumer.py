"""The verifying consumer: reads the cell's final topic, records end-to-end latency, and keeps
every record id it sees (the value's prefix, bench.metrics) so the cell runner can account for each record;
behind a stateful processor, also the final count of every key (the highest count read of it).

It is also the mode's consumer: it commits offsets before processing a batch in at_most_once and
after it otherwise, so its group's lag is the lag an application of that mode would show.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
from confluent_kafka import Consumer

from bench.roles import clock
from bench.metrics import IntervalRecorder, ids_by_stream, read_counts, read_prefixes
from bench.roles import Channel, ClientLog, cpu_seconds, wait_for_go
from bench.roles.protocol import ConsumerResult, ConsumerSpec
from bench.roles.reading import DistinctIds, Drain, LogEnd, ReaderHold, join, next_batch


# The verifying consumer commits its position (before or after handling a batch, as its mode
# says) at most this often. Once per batch, a low rate meant hundreds of OffsetCommits a second:
# the group coordinator fell behind (commit round trips of 0.8 s queued up, measured at 1,000
# msg/s with two producers), the committed offsets the lag sampler reads lagged by that queue,
# and closing the consumer waited 5.4 s for it. Kafka Streams commits every 100 ms under EOS.
COMMIT_INTERVAL_NS = 100_000_000


def run(spec: ConsumerSpec, channel: Channel) -> ConsumerResult:
    log = ClientLog(spec.role, spec.config)
    consumer = Consumer(spec.config, logger=log.logger)
    topics = [spec.topic, *spec.fan_out_topics]
    pending = join(consumer, topics)
    timeline = wait_for_go(channel)
    tally = _Tally(spec, topics, timeline, latency=not spec.after_window)
    commit_first = spec.commit_offsets_before_processing
    drain = Drain(LogEnd(spec.config, log.logger))
    received = window_received = 0
    last_commit = 0
    measure_start, measure_end = timeline.measure_start_ns, timeline.measure_end_ns
    hold = ReaderHold(timeline.measure_end_ns) if spec.after_window else None
    while True:
        if hold is not None and hold.held(consumer, pending):  # the runner says nothing to a reader before the window has ended
            continue
        batch = pending or next_batch(consumer, 1000, 0.1)
        pending = []
        now = clock.now_ns()
        records = [m for m in batch if m.error() is None]
        commit = bool(records) and now - last_commit >= COMMIT_INTERVAL_NS
        if commit:
            last_commit = now
        if records:
            if commit and commit_first:
                consumer.commit(asynchronous=True)
            records = tally.add(records, now)
            if measure_start <= now < measure_end:
                window_received += len(records)
            if commit and not commit_first:
                consumer.commit(asynchronous=True)
        received += len(records)
        tally.e2e.tick(now)
        pause_s = drain.listen(channel)
        if pause_s:  # a `consumer_pause` fault: stop reading and committing, stay in the group
            time.sleep(pause_s)
        if drain.done(now, tally.distinct.count, bool(records), consumer):
            break
    consumer.close()
    drain.close()
    avro = tally.avro
    return ConsumerResult(
        ids={key: np.concatenate(chunks) for key, chunks in tally.seen.items()},
        received=received, cut_off=drain.cut_off, window_received=window_received, cpu_total_s=cpu_seconds(),
        histograms={"e2e": tally.e2e.encoded()}, client_log=log.result(), aggregates=tally.aggregates,
        schema_ids=dict(avro.schema_ids) if avro else None, undecodable=avro.undecodable if avro else 0,
    )


class _Tally:
    """What the reader keeps of the records it reads: every id per stream (each is accounted for
    later), how many distinct ids (the drain's measure of done), each key's highest count (a
    stateful cell's aggregates), and end-to-end latency from each record's intended time."""

    def __init__(self, spec: ConsumerSpec, topics: list[str], timeline, latency: bool):
        self.topic_index = {t: i for i, t in enumerate(topics)} if len(topics) > 1 else None
        self.e2e = IntervalRecorder(timeline.measure_start_ns)
        self.measure_start = timeline.measure_start_ns
        self.latency = latency  # a reader held until the window's end measures no latency
        self.seen: dict[int, list[np.ndarray]] = defaultdict(list)
        self.distinct = DistinctIds()
        self.keys = spec.aggregate_keys
        self.aggregates = np.zeros(spec.aggregate_keys, dtype=np.int64) if spec.aggregate_keys else None
        self.avro = None
        if spec.registry:
            from bench.roles.avro import AvroReader  # the registry client and Avro only where a cell uses them

            self.avro = AvroReader(spec.registry, topics)

    def add(self, records: list, now: int) -> list:
        """Tally `records`, read at `now`; returns those that count (with Avro, the decodable ones)."""
        values = [m.value() for m in records]
        if self.avro is None:
            prefixes = read_prefixes(values)
        else:  # decoded with the writer's schema, the id read from its field
            records, decoded = self.avro.records(records)
            prefixes = read_prefixes(self.avro.ids(decoded))
        streams = (np.fromiter((self.topic_index[m.topic()] for m in records), np.int64, len(records))
                   if self.topic_index else None)
        ids = ids_by_stream(prefixes, streams)
        if self.aggregates is not None:  # a count only grows: its highest value read is the key's final aggregate
            np.maximum.at(self.aggregates, prefixes["seq"].astype(np.int64) % self.keys, read_counts(values))
        for key, seqs in ids.items():
            self.seen[key].append(seqs)
        self.distinct.add(ids)
        if self.latency:
            intended = prefixes["intended_ns"].astype(np.int64)
            self.e2e.record_many((now - intended[intended >= self.measure_start]) // 1000)
        return records
