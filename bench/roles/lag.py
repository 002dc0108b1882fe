"""The lag sampler: once a second, how far the measured consumer group is behind.

Per partition: the high-watermark lag (what `kafka-consumer-groups.sh`, Burrow and
kafka-lag-exporter report); the last-stable-offset lag (open transactions hold the LSO back); the
readable lag, which is the LSO lag except that it is 0 when nothing readable is left (a
read_committed consumer's committed offset rests on the last commit marker, which it never
receives, so the LSO lag alone never reaches 0); and the time lag, the age of the oldest readable
record not yet consumed, read from the log at the committed offset by a read_committed probe.
What the high-watermark lag adds over the readable lag is transaction overhead: alerting on it
pages people for nothing.

Committed offsets are read by a consumer that carries the group's id and never joins it
(`committed()`, one OffsetFetch), not by AdminClient.list_consumer_group_offsets: under a broker kill
that call aborted the sampler process in librdkafka (`rd_kafka_enq_once_del_source_return: Assertion
eonce->refcnt > 0`, librdkafka issues #4605 and #3663, open), 2 runs in 8 on this project's cluster.

Offsets only grow, so reading the committed offset, then the last stable offset, then the high
watermark gives samples that cannot contradict each other (LSO lag <= HW lag). A probe that
neither gets a record nor reaches the end of the partition in time records the readable and time
lag as unknown (empty), not as "nothing readable".
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from bench.roles import Channel, ClientLog, clock, cpu_seconds, wait_for_go
from bench.roles.protocol import Kind, LagResult, LagSpec
from bench.roles.reading import next_batch

_PROBE_TIMEOUT_S = 0.5
NOTHING_READABLE = -1.0


def run(spec: LagSpec, channel: Channel) -> LagResult:
    log = ClientLog(spec.role, spec.config)
    admin = AdminClient(spec.config, logger=log.logger)
    probe = Consumer({**spec.config, "group.id": f"eosbench-lag-probe-{uuid.uuid4().hex[:8]}",
                      "enable.auto.commit": "false", "isolation.level": "read_committed", "enable.partition.eof": "true"},
                     logger=log.logger)
    readers = {g.group: Consumer({**spec.config, "group.id": g.group, "enable.auto.commit": "false"}, logger=log.logger)
               for g in spec.groups}  # never subscribe: they read the group's commits, they do not join it
    targets = [(g.group, [TopicPartition(g.topic, p) for p in range(spec.partitions)]) for g in spec.groups]
    timeline = wait_for_go(channel)
    tick = timeline.measure_start_ns
    while True:
        if channel.poll(max(0.0, (tick - clock.now_ns()) / 1e9)) and channel.recv()[0] is Kind.STOP:
            break  # waits for the next second's tick, or stops at once: the cell does not wait a tick for it
        phase = "measure" if tick < timeline.measure_end_ns else "drain"
        t_s = round((tick - timeline.measure_start_ns) / 1e9, 3)
        rows = []
        for group, partitions in targets:
            try:
                rows += [(t_s, phase, group, *sample) for sample in _sample(admin, probe, readers[group], partitions)]
            except (KafkaException, TimeoutError):  # a broker down under a fault: this second has no sample
                pass
        channel.send(Kind.ROWS, rows)  # streamed, so a sampler that dies under a fault keeps what it saw
        admin.poll(0)  # serves the admin client's log lines
        tick += 1_000_000_000
    for consumer in (probe, *readers.values()):
        consumer.close()
    return LagResult(cpu_total_s=cpu_seconds(), client_log=log.result())


def _sample(admin: AdminClient, probe: Consumer, group: Consumer, partitions: list[TopicPartition]) -> list[tuple]:
    by_partition = {tp.partition: max(tp.offset, 0) for tp in group.committed(partitions, timeout=5)}
    latest = {tp: OffsetSpec.latest() for tp in partitions}
    lso = _offsets(admin.list_offsets(latest, isolation_level=IsolationLevel.READ_COMMITTED))  # before the HW: see above
    hw = _offsets(admin.list_offsets(latest, isolation_level=IsolationLevel.READ_UNCOMMITTED))
    behind = [TopicPartition(tp.topic, tp.partition, by_partition.get(tp.partition, 0))
              for tp in partitions if hw[tp.partition] > by_partition.get(tp.partition, 0)]
    ages = _ages(probe, behind)
    out = []
    for tp in partitions:
        c, h, s = by_partition.get(tp.partition, 0), hw[tp.partition], lso[tp.partition]
        age = ages.get(tp.partition, 0.0 if h <= c else None)  # nothing behind: nothing readable
        readable = None if age is None else (max(s - c, 0) if age != NOTHING_READABLE else 0)
        out.append((tp.topic, tp.partition, c, h, s, max(h - c, 0), max(s - c, 0), readable,
                    None if age is None else max(age, 0.0)))
    return out


def _ages(probe: Consumer, behind: list[TopicPartition]) -> dict[int, float]:
    """Age in seconds of the first readable record at each partition's committed offset, or
    NOTHING_READABLE where the probe reached the end of the readable log first (only commit
    markers, aborted records or an open transaction above the committed offset). A partition
    absent from the answer could not be probed in time: its readable lag is unknown.
    """
    if not behind:
        return {}
    probe.assign(behind)
    ages: dict[int, float] = {}
    deadline = time.monotonic() + _PROBE_TIMEOUT_S
    while len(ages) < len(behind) and time.monotonic() < deadline:
        for message in next_batch(probe, len(behind), 0.05):
            if message.partition() in ages:
                continue
            error = message.error()
            if error is None:
                ages[message.partition()] = max(0.0, time.time() - message.timestamp()[1] / 1000.0)
            elif error.code() == KafkaError._PARTITION_EOF:
                ages[message.partition()] = NOTHING_READABLE
    probe.unassign()
    return ages


def _offsets(futures: dict) -> dict[int, int]:
    return {tp.partition: f.result(5).offset for tp, f in futures.items()}
