"""What a cell's measured window cost the brokers, read from the brokers themselves.

At the window's start and at its end eosbench takes one `Sample`:
- broker CPU time: for the embedded cluster from each node's process (`/proc/<pid>/stat`,
  user + system time of every JVM thread); for a cluster eosbench did not start from each broker's
  JMX (`ProcessCpuTime`) where the user gave its address (`--jmx`); otherwise not measured;
- request counts by type from each broker's JMX (`kafka.network:type=RequestMetrics,
  name=RequestsPerSec`); the embedded brokers expose JMX on loopback for this;
- the size of every replica of the cell's topics, `__transaction_state` and `__consumer_offsets`,
  from the brokers' log-dir descriptions (DescribeLogDirs: any cluster).
JMX and DescribeLogDirs are read by eosbench's Java module (jvm/, `eosbench.ResourceProbe`), one
JVM per run started before the first cell, so no JVM starts inside a window. `Window.between`
turns two samples into the window's figures; a broker that restarted inside the window (a kill
fault) resets its counters, and its figures are then "not measured" rather than wrong.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench import jvm
from bench.broker.distribution import Distribution, find_java
from bench.client_properties import java_connection_properties
from bench.errors import BadInput, EnvironmentProblem

INTERNAL_TOPICS = ("__transaction_state", "__consumer_offsets")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_READY_TIMEOUT_S = 60.0
_SAMPLE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Sample:
    """The brokers' counters at one instant."""

    t_ns: int                                      # time.monotonic_ns() when the sample was asked for
    proc_cpu_s: dict[str, tuple[int, float]]       # embedded node -> (pid, CPU seconds) from /proc
    jmx: dict[str, dict[str, Any]]                 # broker -> {"cpu_ns", "requests"} or {"error"}
    log_bytes: dict[str, dict[str, dict[str, int]]] | dict[str, str]  # topic -> partition -> broker -> bytes, or {"error"}


@dataclass(frozen=True)
class Window:
    """What the brokers spent between two samples; None where it could not be measured, with why."""

    seconds: float
    broker_cpu_s: dict[str, float] | None
    cpu_source: str                                # "proc", "jmx" or "not measured: <why>"
    requests: dict[str, int] | None
    requests_note: str
    log_bytes: dict[str, int] | None               # "cell" (one replica of each partition), "cell_replicas", internal topics
    log_note: str
    jmx_cpu_s: float | None = None                 # the JVMs' own ProcessCpuTime over the window: a second reading beside /proc
    edges_ns: tuple[int, int] = (0, 0)             # time.monotonic_ns() of the two samples, for a reading from outside

    @classmethod
    def between(cls, a: Sample, b: Sample, cell_topics: list[str]) -> "Window":
        cpu, source = _cpu(a, b)
        requests, requests_note = _requests(a, b)
        log, log_note = _log_bytes(a, b, cell_topics)
        jmx_cpu, _ = _cpu(Sample(a.t_ns, {}, a.jmx, {}), Sample(b.t_ns, {}, b.jmx, {})) if a.jmx else (None, "")
        return cls((b.t_ns - a.t_ns) / 1e9, cpu, source, requests, requests_note, log, log_note,
                   round(sum(jmx_cpu.values()), 3) if jmx_cpu else None, (a.t_ns, b.t_ns))

    def record(self) -> dict[str, Any]:
        """As it goes into metrics.json (`resources`)."""
        return {"seconds": round(self.seconds, 3), "broker_cpu_s": self.broker_cpu_s, "cpu_source": self.cpu_source,
                "requests": self.requests, "requests_note": self.requests_note, "log_bytes": self.log_bytes,
                "log_note": self.log_note, "jmx_cpu_s": self.jmx_cpu_s, "edges_ns": list(self.edges_ns)}


def _cpu(a: Sample, b: Sample) -> tuple[dict[str, float] | None, str]:
    if a.proc_cpu_s:
        restarted = [n for n in a.proc_cpu_s if n not in b.proc_cpu_s or b.proc_cpu_s[n][0] != a.proc_cpu_s[n][0]]
        if restarted:
            return None, f"not measured: broker {', '.join(restarted)} restarted in the window"
        return {n: round(b.proc_cpu_s[n][1] - a.proc_cpu_s[n][1], 3) for n in a.proc_cpu_s}, "proc"
    if not a.jmx:
        return None, "not measured: a cluster eosbench did not start, and no --jmx address given"
    out = {}
    for broker, before in a.jmx.items():
        after = b.jmx.get(broker, {})
        if "cpu_ns" not in before or "cpu_ns" not in after or after["cpu_ns"] < before["cpu_ns"]:
            return None, f"not measured: broker {broker}'s JMX " + (before.get("error") or after.get("error") or "restarted in the window")
        out[broker] = round((after["cpu_ns"] - before["cpu_ns"]) / 1e9, 3)
    return out, "jmx"


def _requests(a: Sample, b: Sample) -> tuple[dict[str, int] | None, str]:
    if not a.jmx:
        return None, "not measured: no JMX address for the brokers"
    total: dict[str, int] = {}
    for broker, before in a.jmx.items():
        after = b.jmx.get(broker, {})
        if "requests" not in before or "requests" not in after:
            return None, f"not measured: broker {broker}'s JMX " + str(before.get("error") or after.get("error"))
        for kind, count in after["requests"].items():
            delta = count - before["requests"].get(kind, 0)
            if delta < 0:
                return None, f"not measured: broker {broker} restarted in the window"
            total[kind] = total.get(kind, 0) + delta
    return {k: v for k, v in sorted(total.items()) if v}, ""


def _log_bytes(a: Sample, b: Sample, cell_topics: list[str]) -> tuple[dict[str, int] | None, str]:
    for sample in (a, b):
        if "error" in sample.log_bytes:
            return None, f"not measured: DescribeLogDirs failed: {sample.log_bytes['error']}"
    out: dict = {"cell": 0, "cell_replicas": 0, "topics": {}}  # topics: each of the cell's own, one replica of each partition
    for topic in [*cell_topics, *INTERNAL_TOPICS]:
        before, after = a.log_bytes.get(topic, {}), b.log_bytes.get(topic, {})
        one = every = 0
        for partition, replicas in after.items():
            grown = {broker: size - before.get(partition, {}).get(broker, 0) for broker, size in replicas.items()}
            one += max(grown.values(), default=0)  # a follower may trail the leader by a fetch
            every += sum(grown.values())
        if topic in INTERNAL_TOPICS:
            out[topic] = one
        else:
            out["cell"] += one
            out["cell_replicas"] += every
            out["topics"][topic] = one
    return out, ""


def parse_jmx(text: str, embedded: bool) -> dict[str, str]:
    """`--jmx HOST:PORT[,HOST:PORT...]`: one JMX address per broker, named by its address."""
    if embedded:
        raise BadInput("--jmx is for a cluster eosbench did not start (--bootstrap-servers): the embedded brokers' JMX is known")
    out = {}
    for address in filter(None, (a.strip() for a in text.split(","))):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(f"--jmx: '{address}' is not HOST:PORT")
        out[address] = address
    if not out:
        raise BadInput("--jmx needs at least one HOST:PORT")
    return out


def _proc_cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)


@dataclass
class ResourceProbe:
    """The run's probe process and what it reads; `sample()` at a window's edges, `close()` at the end."""

    distribution: Distribution
    admin_config: dict[str, str]
    jmx: dict[str, str] = field(default_factory=dict)          # broker name -> host:port
    pids: dict[str, Callable[[], int | None]] = field(default_factory=dict)  # embedded node -> its pid now (None: down)
    log_file: Path | None = None
    _process: subprocess.Popen | None = None
    _work: tempfile.TemporaryDirectory | None = None

    def start(self) -> "ResourceProbe":
        self._work = tempfile.TemporaryDirectory(prefix="eosbench-probe-")
        properties = Path(self._work.name) / "admin.properties"  # credentials: a file only this user reads
        properties.touch(mode=0o600)
        properties.write_text("".join(f"{k}={v}".replace("\\", "\\\\") + "\n"  # java.util.Properties reads a backslash as an escape
                                      for k, v in java_connection_properties(self.admin_config).items()))
        command = [find_java().executable, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   "-cp", jvm.classpath(self.distribution), "eosbench.ResourceProbe",
                   "--bootstrap-server", self.admin_config["bootstrap.servers"], "--command-config", str(properties)]
        for name, address in self.jmx.items():
            command += ["--jmx", f"{name}={address}"]
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file or os.devnull, "ab")
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         text=True, start_new_session=True)
        log.close()
        try:
            if "ready" not in self._answer(_READY_TIMEOUT_S):
                raise EnvironmentProblem("eosbench's resource probe (bench/jvm/) did not start")
        except EnvironmentProblem:
            self.close()  # nothing left running
            raise
        return self

    def process_cpu_s(self) -> dict[str, tuple[int, float]]:
        """Each embedded node's (pid, CPU seconds) now, from /proc: cheap enough to read at every
        turn's edge (no JMX round trip); empty for a cluster eosbench did not start."""
        proc = {}
        for name, pid_of in self.pids.items():
            pid = pid_of()
            seconds = _proc_cpu_s(pid) if pid else None
            if seconds is not None:
                proc[name] = (pid, seconds)
        return proc

    def sample(self, topics: list[str]) -> Sample:
        t_ns = time.monotonic_ns()
        proc = self.process_cpu_s()
        self._process.stdin.write(f"sample {','.join([*topics, *INTERNAL_TOPICS])}\n")
        self._process.stdin.flush()
        answer = self._answer(_SAMPLE_TIMEOUT_S)
        return Sample(t_ns, proc, answer.get("jmx", {}), answer.get("log_bytes", {}))

    def features(self, name: str | None = None, level: int | None = None) -> dict[str, int]:
        """The cluster's finalized feature levels; with `name` and `level`, that feature set first
        (an upgrade or a safe downgrade, as Kafka's FeatureCommand does)."""
        self._process.stdin.write("features" + (f" {name} {level}" if name else "") + "\n")
        self._process.stdin.flush()
        answer = self._answer(_SAMPLE_TIMEOUT_S + 30)
        if "error" in answer:
            raise EnvironmentProblem(f"the cluster's feature levels could not be {'set' if name else 'read'}: {answer['error'][:300]}")
        return answer["finalized"]

    def _answer(self, timeout_s: float) -> dict:
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            raise EnvironmentProblem(f"eosbench's resource probe did not answer within {timeout_s:.0f}s"
                                     + (f" (exited with {self._process.poll()})" if self._process.poll() is not None else ""))
        return json.loads(line)

    def close(self) -> None:
        if self._process:
            self._process.stdin.close()
            try:
                self._process.wait(10 if self._process.poll() is None else 0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._work:
            self._work.cleanup()
