"""The embedded schema registry: Apicurio Registry 3, a real registry from Maven Central.

`io.apicurio:apicurio-registry-app` (classifier `all`, a tar.gz) is a ready Quarkus application
(`java -jar quarkus-run.jar`) whose default storage is an in-memory database, with a
Confluent-compatible API at /apis/ccompat/v7: what confluent-kafka's serializers talk to. It is
resolved with Maven into the cache once, like the broker's jars, and needs Java 21 or newer, which
is looked for beside the machine's default Java (bench.broker.distribution.find_jdk).

It listens on 127.0.0.1 only, on a free port, and so does Quarkus' management interface (0.0.0.0:9000
by default). A run starts one when a cell serializes with Avro and stops it after the
run; `eosbench registry up` starts one that runs until `eosbench registry down`. Either way its
state file says where it is, so a registry left by a killed run is found and stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.broker.cluster import free_port, process_running
from bench.broker.distribution import find_jdk
from bench.errors import EnvironmentProblem
from bench.paths import cache_dir, last_error_line, run_state_homes, state_dir, write_state

VERSION = "3.3.3"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
JAVA_MINIMUM = 21
CCOMPAT_PATH = "/apis/ccompat/v7"
READY_TIMEOUT_S = 120.0
STATE_FILE = "registry.json"


@dataclass(frozen=True)
class Registry:
    """A running (or stopped) embedded registry, as its state file records it."""

    version: str
    port: int
    pid: int
    home: str           # where its state file and log live
    java: str
    started_at: float
    start_s: float      # from the process's start until the API answered
    fetched_s: float    # resolving and unpacking the application before that (0 when cached)

    @property
    def url(self) -> str:
        """The Confluent-compatible API: what `--schema-registry` would be given for this registry."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def log_file(self) -> Path:
        return Path(self.home) / "registry.log"

    def is_running(self) -> bool:
        """True only if the pid is alive and is this registry's JVM (pids get reused)."""
        return process_running(self.pid, _marker(self.home))

    def describe(self) -> dict:
        """What the manifest records."""
        return {"embedded": True, "product": "Apicurio Registry", "version": self.version, "url": self.url,
                "storage": "in-memory (lost when it stops)", "java": self.java,
                "start_s": round(self.start_s, 2), "fetched_s": round(self.fetched_s, 2)}


def application(version: str = VERSION) -> Path:
    """The unpacked application, resolved with Maven and unpacked into the cache the first time."""
    home = cache_dir() / "apicurio" / version
    if (home / ".complete").exists():
        return home
    mvn = shutil.which("mvn")
    if not mvn:
        raise EnvironmentProblem("no Maven (mvn) on PATH: eosbench fetches the embedded schema registry with it; install Maven 3.8+ "
                                 "or give --schema-registry URL")
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home.parent) as work:
        proc = subprocess.run([mvn, "-B", "-q", "dependency:copy", f"-Dartifact={ARTIFACT.replace(VERSION, version)}",
                               f"-DoutputDirectory={work}"], cwd=work, capture_output=True, text=True)
        archives = list(Path(work).glob("*.tar.gz"))
        if proc.returncode != 0 or not archives:
            lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln] or ["no archive"]
            raise EnvironmentProblem(f"Maven could not fetch Apicurio Registry {version} ({ARTIFACT}): {lines[0][:300]}")
        unpacked = Path(work) / "app"
        with tarfile.open(archives[0]) as archive:
            archive.extractall(unpacked, filter="data")
        if not (unpacked / "quarkus-run.jar").exists():
            raise EnvironmentProblem(f"{archives[0].name} holds no quarkus-run.jar: not the Apicurio Registry application")
        (unpacked / ".complete").write_text(version + "\n")
        if not (home / ".complete").exists():  # another process may have finished first; theirs is as good
            shutil.rmtree(home, ignore_errors=True)
            unpacked.rename(home)
    return home


def start(home: Path, timeout_s: float = READY_TIMEOUT_S) -> Registry:
    """Start a registry recorded under `home`; returns once its API answers."""
    java = find_jdk(JAVA_MINIMUM, f"the embedded schema registry (Apicurio Registry {VERSION})")
    t0 = time.monotonic()
    app = application()
    fetched_s = time.monotonic() - t0
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [java.executable, _marker(str(home)), "-Xmx512m", "-XX:+UseSerialGC",
               "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={port}",
               # Quarkus' management interface (health, metrics) is built in: on loopback and a free port too
               "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={free_port()}",
               "-Dquarkus.log.console.json=false", "-jar", str(app / "quarkus-run.jar")]
    started = time.monotonic()
    with open(home / "registry.log", "ab") as log:
        process = subprocess.Popen(command, cwd=app, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    registry = Registry(VERSION, port, process.pid, str(home), java.executable, time.time(), 0.0, fetched_s)
    write_state(Path(registry.home) / STATE_FILE, asdict(registry))
    try:
        _wait_ready(registry, process, timeout_s)
    except BaseException:
        stop(registry)
        raise
    registry = Registry(**{**asdict(registry), "start_s": time.monotonic() - started})
    write_state(Path(registry.home) / STATE_FILE, asdict(registry))
    return registry


def _wait_ready(registry: Registry, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise EnvironmentProblem(f"the schema registry exited during start (status {process.returncode}): {last_error_line(registry.log_file)}")
        try:
            with urllib.request.urlopen(f"{registry.url}/subjects", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"the schema registry did not answer within {timeout_s:.0f}s; see {registry.log_file}")
        time.sleep(0.2)


def stop(registry: Registry, grace_s: float = 20.0) -> None:
    """SIGTERM (Quarkus shuts down cleanly), SIGKILL if it outstays `grace_s`; forget it."""
    if registry.is_running():
        os.kill(registry.pid, signal.SIGCONT)  # a paused registry (an outage fault) cannot shut down
        os.kill(registry.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while registry.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if registry.is_running():
            os.kill(registry.pid, signal.SIGKILL)
            while registry.is_running():
                time.sleep(0.1)
    current = load(Path(registry.home))
    if current and current.pid == registry.pid:
        (Path(registry.home) / STATE_FILE).unlink()


def pause(registry: Registry, paused: bool) -> None:
    """Freeze (SIGSTOP) or wake (SIGCONT) the registry: an outage its clients cannot tell from a hung server."""
    if registry.is_running():
        os.kill(registry.pid, signal.SIGSTOP if paused else signal.SIGCONT)


def load(home: Path | None = None) -> Registry | None:
    """The registry recorded under `home` (default: the one `eosbench registry up` manages)."""
    path = Path(home or state_dir()) / STATE_FILE
    if not path.exists():
        return None
    return Registry(**json.loads(path.read_text()))


def run_homes() -> list[Path]:
    """State homes of registries that `eosbench run` started (left behind only if a run was killed)."""
    return run_state_homes(STATE_FILE)


def _marker(home: str) -> str:
    """A system property naming the registry's home: how its JVM is told from any other."""
    return f"-Deosbench.registry.home={home}"
