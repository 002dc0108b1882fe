"""What recording every latency costs the load generator, measured on the real producer code.

Runs eosbench's own producer role in-process against a broker, closed loop, alternating
(A B A B ...) between normal recording and recorders whose `record`/`tick` do nothing, and prints
the throughput of each and their ratio. Usage:

    python benchmarks/recording_cost.py BOOTSTRAP [--rounds 5] [--seconds 10] [--size 1024]
"""

from __future__ import annotations

import argparse
import statistics
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from bench import modes
from bench.metrics import IntervalRecorder
from bench.roles import producer
from bench.roles.protocol import ProducerSpec, Timeline


class _Channel:
    def send(self, kind, payload=None) -> None:
        pass


class _Silent(IntervalRecorder):
    """A recorder that records nothing: the baseline of the comparison."""

    def __init__(self, window_start_ns: int):
        super().__init__(window_start_ns)
        self.record = id  # a builtin that takes one argument and does nothing we keep: the cheapest call

    def tick(self, now_ns: int) -> None:
        pass


def measure(bootstrap: str, seconds: float, size: int, recording: bool) -> tuple[float, float]:
    """(throughput msg/s, producer CPU microseconds per record) over the measured window."""
    topic = f"recording-cost-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(30)
    config = modes.get("at_least_once").producer_config({"bootstrap.servers": bootstrap})
    spec = ProducerSpec("producer-0", config, topic, 0, 0, size, None, None, None, 0.0)
    timeline = Timeline.starting_in(0.1, 2.0, seconds)
    generator = producer._Generator(spec, producer.Producer(config), False, timeline, _Channel())
    if not recording:
        for name in ("produce_latency", "send_delay", "commit_latency"):
            setattr(generator, name, _Silent(timeline.measure_start_ns))
    result = generator.run()
    admin.delete_topics([topic])[topic].result(30)
    return result.window_acked / timeline.duration_s, 1e6 * result.cpu_window_s / result.window_acked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for i in range(args.rounds):
        for recording in (True, False) if i % 2 == 0 else (False, True):
            runs[recording].append(measure(args.bootstrap, args.seconds, args.size, recording))
            rate, cpu = runs[recording][-1]
            print(f"round {i + 1} {'recording' if recording else 'silent   '} {rate:>10,.0f} msg/s  {cpu:.2f} us CPU/record", flush=True)
    for label, index, unit in (("throughput", 0, "msg/s"), ("CPU per record", 1, "us")):
        on = [r[index] for r in runs[True]]
        off = [r[index] for r in runs[False]]
        ratios = [a / b for a, b in zip(on, off)]
        print(f"{label}: recording median {statistics.median(on):,.2f} {unit}, silent median {statistics.median(off):,.2f} {unit}, "
              f"paired ratio median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
