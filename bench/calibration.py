"""Does eosbench measure Kafka or Python? Its producer against Kafka's own perf tool.

Kafka's `ProducerPerformance` (kafka-producer-perf-test, from the `kafka-tools` artifact of the
same version) and eosbench's producer role take turns (A B A B ...) against the same broker,
each sending the same number of records of the same size with the same acks, idempotence and
transaction duration to a fresh topic. The ratio of their throughputs, with a confidence
interval over the pairs, says how much of a figure the Python generator could be hiding.
"""

from __future__ import annotations

import math
from functools import partial

import re
import subprocess
import uuid
from dataclasses import asdict, dataclass

import numpy as np
from confluent_kafka.admin import AdminClient, NewTopic

from bench import jvm, modes
from bench.analysis.stats import one_sample
from bench.broker.distribution import Distribution, Java
from bench.errors import BadInput, EnvironmentProblem
from bench.metrics import LatencySeries
from bench.roles import quiet_logger
from bench.roles.launcher import CellFailed, CommandLauncher, SpawnLauncher
from bench.roles.protocol import ROLES, Kind, ProducerSpec, Timeline

PERF_CLASS = "org.apache.kafka.tools.ProducerPerformance"
CALIBRATED_MODES = ("at_least_once", "idempotent", "transactional")
# Everything a producer's throughput depends on, set the same for both tools (Java's names, which
# librdkafka accepts too), beside what the mode fixes (acks, idempotence, retries). librdkafka's own
# defaults differ (batch.size 1 MB, not 16 KB), which made an earlier 1 KB ratio of 1.7 say little.
COMMON = {"linger.ms": "5", "batch.size": "16384", "compression.type": "none", "max.in.flight.requests.per.connection": "5"}
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


def settings(mode: str, driver: str = "librdkafka") -> dict[str, tuple[str, str]]:
    """Each tool's effective producer settings: property -> (perf-test, eosbench)."""
    fixed = {**modes.get(mode).producer, **COMMON}
    java = {**fixed, **JAVA_ONLY}
    ours = java if driver == "java" else {**fixed, **LIBRDKAFKA_ONLY}
    return {k: (java.get(k, "-"), ours.get(k, "-")) for k in dict.fromkeys([*fixed, *JAVA_ONLY, *(LIBRDKAFKA_ONLY if driver != "java" else {})])}


def run(bootstrap: str, dist: Distribution, java: Java, mode: str, message_size: int, records: int, repeat: int,
        partitions: int = 4, transaction_ms: float = 100.0, on_measurement=None, driver: str = "librdkafka") -> Calibration:
    """`repeat` pairs (A B, B A, ...) after one discarded run of each tool (repetition 0), which
    warms the broker (page cache, log segments, the transaction coordinator) for both.
    ProducerPerformance of Kafka 4.1.1 has no --warmup-records and starts a fresh JVM every run, so
    its JIT warm-up is inside each of its figures, as it is for anyone who runs it: keep `records`
    large enough that it is a small part (README, Calibration). `driver` java measures eosbench's
    Java producer role (jvm/), a fresh JVM per run too, against the same tool."""
    if mode not in CALIBRATED_MODES:
        raise BadInput(f"calibrate takes {', '.join(CALIBRATED_MODES)}, not '{mode}'")
    for tool in ("perf-test", "eosbench"):
        measure = _perf_test if tool == "perf-test" else partial(_eosbench, driver=driver)
        warm = measure(bootstrap, dist, java, mode, message_size, records, transaction_ms, _topic(bootstrap, partitions), 0)
        if on_measurement:
            on_measurement(warm)
    measurements = []
    for rep in range(1, repeat + 1):
        order = ("perf-test", "eosbench") if rep % 2 else ("eosbench", "perf-test")
        for tool in order:
            topic = _topic(bootstrap, partitions)
            measure = _perf_test if tool == "perf-test" else partial(_eosbench, driver=driver)
            m = measure(bootstrap, dist, java, mode, message_size, records, transaction_ms, topic, rep)
            measurements.append(m)
            if on_measurement:
                on_measurement(m)
    return Calibration(mode, message_size, records, measurements)


def _topic(bootstrap: str, partitions: int) -> str:
    name = f"eosbench.calibrate.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=quiet_logger())
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
    return name


def _perf_test(bootstrap, dist: Distribution, java: Java, mode, size, records, transaction_ms, topic, rep) -> Measurement:
    props = {**modes.get(mode).producer, **COMMON, **JAVA_ONLY, "bootstrap.servers": bootstrap}
    cmd = [java.executable, "-Xmx512m", "-cp", dist.classpath, PERF_CLASS, "--topic", topic, "--num-records", str(records),
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


def _eosbench(bootstrap, dist, java, mode, size, records, transaction_ms, topic, rep, driver: str = "librdkafka") -> Measurement:
    own = JAVA_ONLY if driver == "java" else LIBRDKAFKA_ONLY
    config = modes.get(mode).producer_config({**COMMON, **own, "bootstrap.servers": bootstrap})
    if mode == "transactional":
        config["transactional.id"] = f"{topic}.eosbench"
    spec = ProducerSpec("producer", config, topic, 0, 0, size, None, None, transaction_ms if mode == "transactional" else None,
                        0.0, max_records=records)
    if driver == "java":
        launcher = CommandLauncher(lambda role: [java.executable, "-Xmx1g", "-cp", jvm.classpath(dist), role.java_class])
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
    return Measurement("eosbench", rep, result.sent, rate, rate * size / 1e6, p["p50_ms"], p["p99_ms"], p["p999_ms"])


def as_rows(calibration: Calibration) -> list[dict]:
    return [{"mode": calibration.mode, "message_size": calibration.message_size, **asdict(m)} for m in calibration.measurements]
