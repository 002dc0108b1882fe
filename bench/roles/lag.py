"""The lag sampler: once a second, how far the measured consumer group is behind.

Two offsets bound what a reader can read: the high watermark (what `kafka-consumer-groups.sh`
and Burrow report) and the last stable offset (what a read_committed reader can actually read,
held back by open transactions). Both lags are sampled, per partition, so the difference that
open transactions make is visible instead of paging someone.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from bench.roles import cpu_seconds, sleep_until, wait_for_go

COLUMNS = ("t_s", "phase", "group", "topic", "partition", "committed", "high_watermark", "last_stable", "hw_lag", "lso_lag")


def run(spec: dict, conn: Connection) -> dict:
    admin = AdminClient(spec["config"])
    targets = [(g["group"], g["topic"], [TopicPartition(g["topic"], p) for p in range(spec["partitions"])]) for g in spec["groups"]]
    timeline = wait_for_go(conn)
    rows: list[tuple] = []
    tick = timeline.measure_start_ns
    while True:
        sleep_until(tick)
        if conn.poll() and conn.recv()[0] == "stop":
            break
        phase = "measure" if tick < timeline.measure_end_ns else "drain"
        t_s = round((tick - timeline.measure_start_ns) / 1e9, 3)
        for group, topic, partitions in targets:
            rows += [(t_s, phase, group, topic, *sample) for sample in _sample(admin, group, partitions)]
        tick += 1_000_000_000
    return {"columns": COLUMNS, "rows": rows, "cpu_total_s": cpu_seconds()}


def _sample(admin: AdminClient, group: str, partitions: list[TopicPartition]) -> list[tuple]:
    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, partitions)])[group].result(5)
    by_partition = {tp.partition: max(tp.offset, 0) for tp in committed.topic_partitions}
    latest = {tp: OffsetSpec.latest() for tp in partitions}
    hw = _offsets(admin.list_offsets(latest, isolation_level=IsolationLevel.READ_UNCOMMITTED))
    lso = _offsets(admin.list_offsets(latest, isolation_level=IsolationLevel.READ_COMMITTED))
    out = []
    for tp in partitions:
        c, h, s = by_partition.get(tp.partition, 0), hw[tp.partition], lso[tp.partition]
        out.append((tp.partition, c, h, s, max(h - c, 0), max(s - c, 0)))
    return out


def _offsets(futures: dict) -> dict[int, int]:
    return {tp.partition: f.result(5).offset for tp, f in futures.items()}
