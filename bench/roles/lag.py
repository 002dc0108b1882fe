"""The lag sampler: once a second, how far the measured consumer group is behind.

Per partition: the high-watermark lag (what `kafka-consumer-groups.sh`, Burrow and
kafka-lag-exporter report); the last-stable-offset lag (open transactions hold the LSO back); the
readable lag, which is the LSO lag except that it is 0 when nothing readable is left (a
read_committed consumer's committed offset rests on the last commit marker, which it never
receives, so the LSO lag alone never reaches 0); and the time lag, the age of the oldest readable
record not yet consumed, read from the log at the committed offset by a read_committed probe.
What the high-watermark lag adds over the readable lag is transaction overhead: alerting on it
pages people for nothing.
"""

from __future__ import annotations

import time
import uuid
from multiprocessing.connection import Connection

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from bench.metrics import LAG_COLUMNS as COLUMNS
from bench.roles import cpu_seconds, sleep_until, wait_for_go
from bench.roles.reading import next_batch

_PROBE_TIMEOUT_S = 0.3


def run(spec: dict, conn: Connection) -> dict:
    admin = AdminClient(spec["config"])
    probe = Consumer({**spec["config"], "group.id": f"eosbench-lag-probe-{uuid.uuid4().hex[:8]}",
                      "enable.auto.commit": "false", "isolation.level": "read_committed"})
    targets = [(g["group"], [TopicPartition(g["topic"], p) for p in range(spec["partitions"])]) for g in spec["groups"]]
    timeline = wait_for_go(conn)
    missed = 0
    tick = timeline.measure_start_ns
    while True:
        sleep_until(tick)
        if conn.poll() and conn.recv()[0] == "stop":
            break
        phase = "measure" if tick < timeline.measure_end_ns else "drain"
        t_s = round((tick - timeline.measure_start_ns) / 1e9, 3)
        rows = []
        for group, partitions in targets:
            try:
                rows += [(t_s, phase, group, *sample) for sample in _sample(admin, probe, group, partitions)]
            except (KafkaException, TimeoutError):  # a broker down under a fault: this second has no sample
                missed += 1
        conn.send(("rows", rows))  # streamed, so a sampler that dies under a fault keeps what it saw
        tick += 1_000_000_000
    probe.close()
    return {"missed_samples": missed, "cpu_total_s": cpu_seconds()}


def _sample(admin: AdminClient, probe: Consumer, group: str, partitions: list[TopicPartition]) -> list[tuple]:
    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, partitions)])[group].result(5)
    by_partition = {tp.partition: max(tp.offset, 0) for tp in committed.topic_partitions}
    latest = {tp: OffsetSpec.latest() for tp in partitions}
    hw = _offsets(admin.list_offsets(latest, isolation_level=IsolationLevel.READ_UNCOMMITTED))
    lso = _offsets(admin.list_offsets(latest, isolation_level=IsolationLevel.READ_COMMITTED))
    behind = [TopicPartition(tp.topic, tp.partition, by_partition.get(tp.partition, 0))
              for tp in partitions if hw[tp.partition] > by_partition.get(tp.partition, 0)]
    ages = _ages(probe, behind)
    out = []
    for tp in partitions:
        c, h, s = by_partition.get(tp.partition, 0), hw[tp.partition], lso[tp.partition]
        readable = max(s - c, 0) if tp.partition in ages else 0
        out.append((tp.topic, tp.partition, c, h, s, max(h - c, 0), max(s - c, 0), readable, ages.get(tp.partition, 0.0)))
    return out


def _ages(probe: Consumer, behind: list[TopicPartition]) -> dict[int, float]:
    """Age in seconds of the first readable record at each partition's committed offset.

    A partition absent from the answer has nothing readable left (only commit markers, aborted
    records or an open transaction above the committed offset).
    """
    if not behind:
        return {}
    probe.assign(behind)
    ages: dict[int, float] = {}
    deadline = time.monotonic() + _PROBE_TIMEOUT_S
    while len(ages) < len(behind) and time.monotonic() < deadline:
        for message in next_batch(probe, len(behind), 0.05):
            if message.error() is None and message.partition() not in ages:
                ages[message.partition()] = max(0.0, time.time() - message.timestamp()[1] / 1000.0)
    probe.unassign()
    return ages


def _offsets(futures: dict) -> dict[int, int]:
    return {tp.partition: f.result(5).offset for tp, f in futures.items()}
