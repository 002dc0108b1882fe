"""Where the load generator's time goes: ways of handing records to librdkafka, measured side by side.

Each variant runs the closed-loop hot path of the producer role (one record id and send stamp
per record, its delivery accounted for) against a broker for a few seconds, alternating variants
(A B C D, D C B A, ...), and prints acknowledged records/s (the flush after the window included)
and producer CPU microseconds per record. Usage:

    python benchmarks/generator_cost.py BOOTSTRAP [--rounds 3] [--seconds 5] [--size 100] [--partitions 4]

Variants:
- headers:        produce() with the id and stamp as headers, one functools.partial callback per
                  record (the producer role as it is);
- prefix:         the id and stamp as a fixed 16-byte prefix of the value, same callbacks;
- prefix-shared:  the prefix, one shared callback that reads the sequence number back from the value;
- batch:          produce_batch() of 256 prefixed records, the shared callback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import time
import uuid
from functools import partial

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench import modes

_PREFIX = struct.Struct(">qq")  # sequence number, intended send time (monotonic ns)
_BATCH = 256


def _config(bootstrap: str, outstanding: int, outstanding_kb: int) -> dict:
    return {**modes.get("at_least_once").producer_config({"bootstrap.servers": bootstrap}), "linger.ms": "5",
            "queue.buffering.max.messages": str(outstanding), "queue.buffering.max.kbytes": str(outstanding_kb)}


def run(variant: str, bootstrap: str, topic: str, seconds: float, size: int, outstanding: int, outstanding_kb: int) -> tuple[float, float]:
    producer = Producer(_config(bootstrap, outstanding, outstanding_kb))
    states = bytearray(1 << 24)
    payload = os.urandom(max(size - _PREFIX.size, 0))
    produce, poll, monotonic = producer.produce, producer.poll, time.monotonic_ns

    def delivered(seq: int, err, msg) -> None:
        states[seq] = 1 if err is None else 2

    def shared(err, msg) -> None:
        states[_PREFIX.unpack_from(msg.value())[0]] = 1 if err is None else 2

    start = monotonic()
    end = start + int(seconds * 1e9)
    cpu0, seq = time.process_time(), 0
    while True:
        now = monotonic()
        if now >= end:
            break
        if variant == "batch":
            batch = [{"value": _PREFIX.pack(seq + i, now) + payload} for i in range(_BATCH)]
            while batch:
                queued = producer.produce_batch(topic, batch, on_delivery=shared)
                failed = [m for m in batch if "_error" in m]
                seq += queued
                batch = [{"value": m["value"]} for m in failed]
                if batch:
                    poll(0.001)
            poll(0)
            continue
        while True:
            try:
                if variant == "headers":
                    produce(topic, payload, headers=[("eosbench-id", b"1-0:%d" % seq), ("eosbench-ts", now.to_bytes(8, "big"))],
                            on_delivery=partial(delivered, seq))
                elif variant == "prefix":
                    produce(topic, _PREFIX.pack(seq, now) + payload, on_delivery=partial(delivered, seq))
                else:
                    produce(topic, _PREFIX.pack(seq, now) + payload, on_delivery=shared)
                break
            except BufferError:
                poll(0.001)
        seq += 1
        if seq % 256 == 0:
            poll(0)
    producer.flush(60)  # what is still queued counts: the rate is of acknowledged records, to the last one
    elapsed, cpu = (monotonic() - start) / 1e9, time.process_time() - cpu0
    acked = states[:seq].count(1)
    assert acked == seq, f"{variant}: {seq - acked} records not acknowledged"
    return seq / elapsed, 1e6 * cpu / seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--outstanding", type=int, default=100_000, help="queue.buffering.max.messages (librdkafka's default)")
    parser.add_argument("--outstanding-kb", type=int, default=1 << 20, help="queue.buffering.max.kbytes (librdkafka's default)")
    parser.add_argument("--variants", default="headers,prefix,prefix-shared,batch")
    args = parser.parse_args()
    variants = args.variants.split(",")
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for variant in variants if r % 2 == 0 else variants[::-1]:
            topic = f"generator-cost-{uuid.uuid4().hex[:8]}"
            admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(30)
            results[variant].append(run(variant, args.bootstrap, topic, args.seconds, args.size, args.outstanding, args.outstanding_kb))
            admin.delete_topics([topic])[topic].result(30)
    print(f"{args.size} B records, {args.partitions} partitions, {args.seconds:g} s x {args.rounds} rounds, "
          f"queue.buffering.max.messages={args.outstanding}, queue.buffering.max.kbytes={args.outstanding_kb}")
    for variant, runs in results.items():
        rates, cpus = zip(*runs)
        print(f"{variant:14s} {statistics.median(rates):>10,.0f} records/s  {statistics.median(cpus):6.2f} us CPU/record  "
              f"(rates {', '.join(f'{r:,.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
