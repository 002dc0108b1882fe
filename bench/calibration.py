"""Does eosbench measure Kafka or Python? Its producer against Kafka's own perf tool.

Kafka's `ProducerPerformance` (kafka-producer-perf-test, from the `kafka-tools` artifact of the
same version) and eosbench's producer role take turns (A B A B ...) against the same broker,
each sending the same number of records of the same size with the same acks, idempotence and
transaction duration to a fresh topic. The ratio of their throughputs, with a confidence
interval over the pairs, says how much of a figure the Python generator could be hiding.

`kip98` runs Confluent's published KIP-98 comparison (1 KB, a transaction every 100 ms, against
acks=all with one request in flight and against acks=1 with five) with both tools in one
invocation, so each tool's transactional overhead stands beside the published 3% and 20%.
"""

from __future__ import annotations

import math
import re
import subprocess
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
from confluent_kafka.admin import AdminClient, NewTopic

from bench import jvm, modes
from bench.analysis.stats import Estimate, one_sample
from bench.cell.derive import GENERATOR_CPU_LIMIT
from bench.broker.distribution import Distribution, Java
from bench.errors import BadInput, CellFailed, EnvironmentProblem
from bench.metrics import LatencySeries
from bench.roles import quiet_logger
from bench.roles.launcher import CommandLauncher, SpawnLauncher
from bench.roles.protocol import ROLES, Kind, ProducerSpec, Timeline

PERF_CLASS = "org.apache.kafka.tools.ProducerPerformance"
CALIBRATED_MODES = ("at_least_once", "idempotent", "transactional")
TOOLS = ("perf-test", "eosbench")
# Everything a producer's throughput depends on, set the same for both tools (Java's names, which
# librdkafka accepts too), beside what the mode fixes (acks, idempotence, retries). librdkafka's own
# defaults differ (batch.size 1 MB, not 16 KB), which made an earlier 1 KB ratio of 1.7 say little.
# batch.size is Java's default unless given (`--batch-size`): at 1 KB, 16 KB batches cost librdkafka
# about 9 us of CPU per record against 3 with 1 MB ones (its broker thread, one per broker, builds
# and sends every batch), so it decides whether librdkafka or the broker is the limit.
COMMON = {"linger.ms": "5", "compression.type": "none", "max.in.flight.requests.per.connection": "5"}
DEFAULT_BATCH_SIZE = 16384
# What bounds the records each producer holds unsent: Java's buffer.memory (32 MiB by default) and
# its librdkafka counterpart, the same number of bytes.
BUFFER_BYTES = 32 << 20
JAVA_ONLY = {"buffer.memory": str(BUFFER_BYTES)}
LIBRDKAFKA_ONLY = {"queue.buffering.max.kbytes": str(BUFFER_BYTES >> 10), "queue.buffering.max.messages": "2000000"}


@dataclass(frozen=True)
class Measurement:
    tool: str
    repetition: int
    records: int
    throughput_msgs: float
    throughput_mb: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    # eosbench's producer process: its CPU seconds while it handed records over, per second until
    # the last acknowledgement (start-up excluded); perf-test: not read
    generator_cpu_share: float = math.nan
    # eosbench's producer thread that most wanted a CPU (bench.roles.threads): its name and the
    # share of the run it was on a CPU or waiting for one; perf-test: not read
    generator_thread: str = ""
    generator_thread_demand: float = math.nan

    @property
    def generator_bound(self) -> bool:
        """As a cell's `generator_bound` (bench.cell.derive): a thread that never waited for Kafka,
        or where threads were not measured, a process near a full core."""
        if not math.isnan(self.generator_thread_demand):
            return self.generator_thread_demand >= GENERATOR_CPU_LIMIT
        return self.generator_cpu_share >= GENERATOR_CPU_LIMIT


@dataclass(frozen=True)
class Setup:
    """One producer configuration of the KIP-98 comparison."""

    name: str
    mode: str
    max_in_flight: int


KIP98_SETUPS = (Setup("transactional", "transactional", 5), Setup("at_least_once, 1 in flight", "at_least_once", 1),
                Setup("at_most_once (acks=1), 5 in flight", "at_most_once", 5))
# What Confluent published with KIP-98 (2017; 1 KB records, a transaction every 100 ms): the
# transactional producer's throughput this far below each baseline.
KIP98_PUBLISHED_PCT = {"at_least_once, 1 in flight": 3.0, "at_most_once (acks=1), 5 in flight": 20.0}
KIP98_TRANSACTION_MS = 100.0


@dataclass(frozen=True)
class Calibration:
    mode: str
    message_size: int
    records: int
    measurements: list[Measurement]

    def ratios(self) -> np.ndarray:
        by = {(m.tool, m.repetition): m.throughput_msgs for m in self.measurements}
        reps = sorted({m.repetition for m in self.measurements})
        return np.array([by[("eosbench", r)] / by[("perf-test", r)] for r in reps if ("eosbench", r) in by and ("perf-test", r) in by])

    def ratio(self) -> tuple[float, float, float]:
        """Geometric-mean ratio eosbench / perf-test and its 95% interval."""
        estimate = one_sample(np.log(self.ratios()))
        return math.exp(estimate.mean), math.exp(estimate.low), math.exp(estimate.high)


def settings(mode: str, driver: str = "librdkafka", max_in_flight: int = 5, batch_size: int = DEFAULT_BATCH_SIZE) -> dict[str, tuple[str, str]]:
    """Each tool's effective producer settings: property -> (perf-test, eosbench)."""
    fixed = {**modes.get(mode).producer, **_common(max_in_flight, batch_size)}
    java = {**fixed, **JAVA_ONLY}
    ours = java if driver == "java" else {**fixed, **LIBRDKAFKA_ONLY}
    return {k: (java.get(k, "-"), ours.get(k, "-")) for k in dict.fromkeys([*fixed, *JAVA_ONLY, *(LIBRDKAFKA_ONLY if driver != "java" else {})])}


@dataclass(frozen=True)
class Rig:
    """What every measurement of a calibration shares: the broker, both tools, the settings both get."""

    bootstrap: str
    dist: Distribution
    java: Java
    driver: str = "librdkafka"  # eosbench's producer role: librdkafka, or Kafka's Java client (bench/jvm/)
    batch_size: int = DEFAULT_BATCH_SIZE
    partitions: int = 4

    def common(self, max_in_flight: int) -> dict[str, str]:
        return _common(max_in_flight, self.batch_size)


def run(rig: Rig, mode: str, message_size: int, records: int, repeat: int, transaction_ms: float = 100.0,
        on_measurement=None) -> Calibration:
    """`repeat` pairs (A B, B A, ...) after one discarded run of each tool (repetition 0), which
    warms the broker (page cache, log segments, the transaction coordinator) for both.
    ProducerPerformance of Kafka 4.1.1 has no --warmup-records and starts a fresh JVM every run, so
    its JIT warm-up is inside each of its figures, as it is for anyone who runs it: keep `records`
    large enough that it is a small part (docs/calibration.md). `rig.driver` java measures eosbench's
    Java producer role (bench/jvm/), a fresh JVM per run too, against the same tool."""
    if mode not in CALIBRATED_MODES:
        raise BadInput(f"calibrate takes {', '.join(CALIBRATED_MODES)}, not '{mode}'")
    setup = Setup(mode, mode, 5)
    measured = _turns(rig, [setup], message_size, records, repeat, transaction_ms, on_measurement)
    return Calibration(mode, message_size, records, measured[setup.name])


@dataclass(frozen=True)
class Kip98:
    """Both tools' measurements of every KIP-98 setup, and what they say against the published figures."""

    message_size: int
    records: int
    measurements: dict[str, list[Measurement]]  # setup name -> both tools' measurements

    def throughput(self, setup: str, tool: str) -> float:
        """Geometric mean over the repetitions."""
        values = [m.throughput_msgs for m in self.measurements[setup] if m.tool == tool]
        return math.exp(float(np.mean(np.log(values))))

    def overhead(self, baseline: str, tool: str) -> tuple[float, float, float]:
        """How far the transactional setup's throughput lies below `baseline`'s, in percent, paired
        by repetition (the two ran in the same round): (overhead, low, high) at 95%."""
        e = _paired_log_ratios(self.measurements["transactional"], self.measurements[baseline], tool, tool)
        return tuple(-100.0 * math.expm1(v) for v in (e.mean, e.high, e.low))

    def ratio(self, setup: str) -> tuple[float, float, float]:
        """eosbench / perf-test in one setup (a calibration ratio): (ratio, low, high) at 95%."""
        e = _paired_log_ratios(self.measurements[setup], self.measurements[setup], "eosbench", "perf-test")
        return tuple(math.exp(v) for v in (e.mean, e.low, e.high))

    def generator_bound(self) -> list[str]:
        """The setups in which eosbench's producer used a whole core in some repetition."""
        return [name for name, ms in self.measurements.items() if any(m.generator_bound for m in ms)]


def kip98(rig: Rig, message_size: int, records: int, repeat: int, on_measurement=None) -> Kip98:
    """Every KIP-98 setup by both tools, one discarded run of each first, then `repeat` rounds in
    a rotating order; paired by round, so a drift of the shared machine moves both sides of a ratio."""
    measured = _turns(rig, list(KIP98_SETUPS), message_size, records, repeat, KIP98_TRANSACTION_MS, on_measurement)
    return Kip98(message_size, records, measured)


def _turns(rig: Rig, setups: list[Setup], size: int, records: int, repeat: int, transaction_ms: float,
           on_measurement) -> dict[str, list[Measurement]]:
    """Setup x tool in turns: repetition 0 discarded, then round r starts r - 1 turns further on
    (A B, then B A for one setup with two tools), so no turn always runs first."""
    turns = [(setup, tool) for setup in setups for tool in TOOLS]
    measured: dict[str, list[Measurement]] = {setup.name: [] for setup in setups}
    for rep in range(repeat + 1):
        start = max(rep - 1, 0) % len(turns)
        for setup, tool in turns[start:] + turns[:start]:
            with _topic(rig.bootstrap, rig.partitions) as topic:
                m = _measure(rig, tool, setup, size, records, transaction_ms, topic, rep)
            if rep:
                measured[setup.name].append(m)
            if on_measurement:
                on_measurement(setup, m)
    return measured


def _paired_log_ratios(mine: list[Measurement], theirs: list[Measurement], my_tool: str, their_tool: str) -> Estimate:
    """The mean log ratio of same-repetition throughputs, with its 95% interval (NaN bounds with
    fewer than two pairs)."""
    a = {m.repetition: m.throughput_msgs for m in mine if m.tool == my_tool}
    b = {m.repetition: m.throughput_msgs for m in theirs if m.tool == their_tool}
    return one_sample(np.log([a[r] / b[r] for r in sorted(a) if r in b]))


def _common(max_in_flight: int, batch_size: int) -> dict[str, str]:
    return {**COMMON, "batch.size": str(batch_size), "max.in.flight.requests.per.connection": str(max_in_flight)}


def _measure(rig: Rig, tool: str, setup: Setup, size: int, records: int, transaction_ms: float, topic: str, rep: int) -> Measurement:
    if tool == "perf-test":
        return _perf_test(rig, setup, size, records, transaction_ms, topic, rep)
    return _eosbench(rig, setup, size, records, transaction_ms, topic, rep)


@contextmanager
def _topic(bootstrap: str, partitions: int) -> Iterator[str]:
    """A fresh topic for one measurement, deleted after it: left behind, every measurement's log
    (300 MB at 300,000 records of 1 KB) stayed on the broker and on disk, and the kernel's writeback
    of it ran under the later measurements (throughputs fell from round to round)."""
    name = f"eosbench.calibrate.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=quiet_logger())
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
    try:
        yield name
    finally:
        admin.delete_topics([name])[name].result(30)


def _perf_test(rig: Rig, setup: Setup, size: int, records: int, transaction_ms: float, topic: str, rep: int) -> Measurement:
    mode = setup.mode
    props = {**modes.get(mode).producer, **rig.common(setup.max_in_flight), **JAVA_ONLY, "bootstrap.servers": rig.bootstrap}
    cmd = [rig.java.executable, "-Xmx512m", "-cp", rig.dist.classpath, PERF_CLASS, "--topic", topic, "--num-records", str(records),
           "--record-size", str(size), "--throughput", "-1", "--producer-props", *[f"{k}={v}" for k, v in props.items()]]
    if mode == "transactional":
        cmd += ["--transactional-id", f"{topic}.perf", "--transaction-duration-ms", str(int(transaction_ms))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    total = [ln for ln in proc.stdout.splitlines() if "records sent" in ln and "99.9th" in ln]
    if proc.returncode != 0 or not total:
        raise EnvironmentProblem(f"kafka-producer-perf-test failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    line = total[-1]

    def number(pattern: str) -> float:
        return float(re.search(pattern, line).group(1))

    return Measurement("perf-test", rep, int(number(r"(\d+) records sent")), number(r"([\d.]+) records/sec"),
                       number(r"\(([\d.]+) MB/sec\)") * 1.048576, number(r"(\d+) ms 50th"), number(r"(\d+) ms 99th"),
                       number(r"(\d+) ms 99\.9th"))


def _eosbench(rig: Rig, setup: Setup, size: int, records: int, transaction_ms: float, topic: str, rep: int) -> Measurement:
    mode = setup.mode
    own = JAVA_ONLY if rig.driver == "java" else LIBRDKAFKA_ONLY
    config = modes.get(mode).producer_config({**rig.common(setup.max_in_flight), **own, "bootstrap.servers": rig.bootstrap})
    if mode == "transactional":
        config["transactional.id"] = f"{topic}.eosbench"
    spec = ProducerSpec("producer", config, topic, 0, 0, size, None, None, transaction_ms if mode == "transactional" else None,
                        0.0, max_records=records)
    if rig.driver == "java":
        launcher = CommandLauncher(lambda role: [rig.java.executable, "-Xmx1g", "-cp", jvm.classpath(rig.dist), role.java_class])
        role = launcher.start("producer", ROLES["java_producer"], spec)
    else:
        role = SpawnLauncher().start("producer", ROLES["producer"], spec)
    try:
        role.expect(Kind.READY, 90)
        role.send(Kind.GO, Timeline.starting_in(0.2, 0.0, 3600.0))
        result = role.finish(600)
    except CellFailed as exc:
        raise EnvironmentProblem(f"eosbench producer failed: {exc}") from None
    finally:
        role.kill()
    latency = LatencySeries()
    latency.merge(result.histograms["produce"])
    p = latency.percentiles_ms()
    rate = result.sent / result.elapsed_s
    busiest = result.busiest_thread
    return Measurement("eosbench", rep, result.sent, rate, rate * size / 1e6, p["p50_ms"], p["p99_ms"], p["p999_ms"],
                       result.cpu_window_s / result.elapsed_s, busiest.name if busiest else "",
                       busiest.demand if busiest else math.nan)


def as_rows(calibration: Calibration) -> list[dict]:
    return [{"mode": calibration.mode, "message_size": calibration.message_size, **asdict(m)} for m in calibration.measurements]

