"""A cell's metrics, derived from what its roles reported: the accounting of every record, the
measured window's throughput, latencies, transactions, CPU, and whether the generator or a broker
quota, not Kafka's capacity, set the pace. Written to the cell's metrics.json."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from bench.cell.spec import CellSpec
from bench.metrics import Accounting, LatencySeries
from bench.roles.protocol import ConsumerResult, ProcessorResult, ProducerResult, Timeline

GENERATOR_CPU_LIMIT = 0.9  # share of one core above which the generator, not Kafka, sets the pace


def metrics(spec: CellSpec, producers: list[ProducerResult], processor: ProcessorResult | None, consumer: ConsumerResult,
            cpu_s: dict[str, float], latencies: dict[str, LatencySeries], timeline: Timeline) -> dict[str, Any]:
    states = {r.producer_index: np.frombuffer(r.states, dtype=np.uint8) for r in producers}
    accounting = Accounting.reconcile(states, consumer.ids)
    window_records = processor.window_committed if processor else sum(r.window_acked for r in producers)
    duration = timeline.duration_s
    throughput = window_records / duration
    transactions = [processor] if processor else producers
    cpu_share = max((r.cpu_window_s / duration for r in producers), default=0.0)
    out: dict[str, Any] = {
        **asdict(accounting),
        "window_records": window_records,
        "throughput_msgs": throughput,
        "throughput_mb": throughput * spec.message_size / 1e6,
        "transactions": sum(r.transactions for r in transactions),
        "aborts": sum(r.aborts for r in transactions),
        "aborts_on_purpose": sum(r.aborts_on_purpose for r in producers),
        "rewinds": processor.rewinds if processor else 0,
        "consumer_window_msgs": consumer.window_received / duration,
        "cpu_s": {name: round(s, 3) for name, s in cpu_s.items()},
        "generator_cpu_share": round(cpu_share, 3),
        "backlog": sum(r.backlog for r in producers),  # open loop: scheduled, never sent in the window
        # throttle time the brokers imposed for a quota, summed over requests (so it can pass 1.0 with
        # several requests in flight), per producer, as a share of the window
        "throttled_share": round(sum(r.throttle_ms for r in producers) / (1000 * duration * len(producers)), 3),
        "loop": "closed" if spec.rate is None else "open",
        "out_of_range": {k: s.out_of_range for k, s in latencies.items()},
    }
    for kind, series in latencies.items():
        out[kind] = series.percentiles_ms()
    # A fault stalls sends by design: then only the CPU criterion can tell that the generator was the limit.
    send_delay = LatencySeries() if spec.faults else latencies["send_delay"]
    out["generator_bound"], out["generator_reason"] = generator_bound(cpu_share)
    out["behind_schedule"] = behind_schedule(cpu_share, send_delay)
    return out


def generator_bound(cpu_share: float) -> tuple[bool, str]:
    """The load generator, not Kafka, set the pace: a producer process near a full core."""
    if cpu_share >= GENERATOR_CPU_LIMIT:
        return True, f"a producer process used {cpu_share:.0%} of a core: add producers or use a bigger machine"
    return False, ""


def behind_schedule(cpu_share: float, send_delay: LatencySeries) -> str:
    """Why an open-loop producer fell ever further behind its schedule, or '' if it did not.

    With a core to spare the producer was waiting, on librdkafka's full queue or on a commit:
    Kafka did not take the rate (saturated, or throttled by a quota). Near a full core it is the
    generator, which `generator_bound` already says.
    """
    means = [h.get_mean_value() for _, h in sorted(send_delay.intervals.items())]
    if len(means) < 6:
        return ""
    third = len(means) // 3
    early, late = np.mean(means[:third]), np.mean(means[-third:])
    if late <= 10_000 or late <= 2 * early:
        return ""
    who = "the generator" if cpu_share >= GENERATOR_CPU_LIMIT else "Kafka (saturated, or throttled by a quota)"
    return (f"send delay grew from {early / 1000:.1f} ms to {late / 1000:.1f} ms with the producer at {cpu_share:.0%} "
            f"of a core: {who} did not keep the rate")
