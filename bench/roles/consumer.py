"""The verifying consumer: reads the cell's final topic, records end-to-end latency, and keeps
every `eosbench-id` it sees so the cell runner can account for each record.

It is also the mode's consumer: it commits offsets before processing a batch in at_most_once and
after it otherwise, so its group's lag is the lag an application of that mode would show.
"""

from __future__ import annotations

import time
from collections import defaultdict
from multiprocessing.connection import Connection

import numpy as np
from confluent_kafka import Consumer

from bench.metrics import IntervalRecorder, parse_id
from bench.roles import cpu_seconds, wait_for_go
from bench.roles.reading import Drain, join


def run(spec: dict, conn: Connection) -> dict:
    consumer = Consumer(spec["config"])
    pending = join(consumer, [spec["topic"]])
    timeline = wait_for_go(conn)
    e2e = IntervalRecorder(timeline.measure_start_ns)
    seen: dict[int, list[int]] = defaultdict(list)
    commit_first = spec["commit_offsets_before_processing"]
    drain = Drain()
    received = window_received = 0
    measure_start, measure_end = timeline.measure_start_ns, timeline.measure_end_ns
    record = e2e.record
    while True:
        batch = pending or consumer.consume(1000, 0.1)
        pending = []
        now = time.monotonic_ns()
        records = [m for m in batch if m.error() is None]
        if records and commit_first:
            consumer.commit(asynchronous=True)
        for message in records:
            headers = message.headers()
            producer, seq = parse_id(headers[0][1])
            seen[producer].append(seq)
            intended = int.from_bytes(headers[1][1], "big")
            if intended >= measure_start:
                record((now - intended) // 1000)
            if measure_start <= now < measure_end:
                window_received += 1
        if records and not commit_first:
            consumer.commit(asynchronous=True)
        received += len(records)
        e2e.tick(now)
        drain.listen(conn)
        if drain.done(now, received, bool(records)):
            break
    consumer.close()
    return {
        "ids": {p: np.asarray(s, dtype=np.int64) for p, s in seen.items()},
        "received": received,
        "window_received": window_received,
        "cpu_total_s": cpu_seconds(),
        "histograms": {"e2e": e2e.encoded()},
    }
