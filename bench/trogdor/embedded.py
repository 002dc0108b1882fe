"""The embedded Trogdor: a coordinator and N agents on 127.0.0.1, from the Kafka version's own jars.

`org.apache.kafka:trogdor` (with its dependencies: Jetty, Jersey, Kafka's clients) is resolved with
Maven into the cache once, like the broker's jars. Each node is a JVM running eosbench.TrogdorNode
(bench/jvm/), which is Trogdor's own Agent or Coordinator with its REST server bound to 127.0.0.1: an
agent runs whatever command a task names, so it must not listen on every interface as Trogdor's
mains do. The nodes share one topology file (Trogdor's BasicPlatform: each node's hostname and
port), written beside the state file `trogdor.json`.

A run whose cells use `launcher: trogdor` without --trogdor starts one and stops it after the run;
`eosbench trogdor up --agents N` starts one that runs until `eosbench trogdor down`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import jvm
from bench.broker.cluster import free_port, process_running
from bench.broker.distribution import DEFAULT_KAFKA_VERSION, LOG4J2_VERSION, SLF4J_VERSION, Java, copy_dependencies, find_java, resolve
from bench.errors import BadInput, EnvironmentProblem
from bench.paths import cache_dir, last_error_line, run_state_homes, state_dir, write_state
from bench.trogdor.coordinator import Coordinator, Unreachable, agent_answers

STATE_FILE = "trogdor.json"
READY_TIMEOUT_S = 60.0
MAX_AGENTS = 16
DEFAULT_AGENTS = 3
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eosbench</groupId><artifactId>trogdor</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>trogdor</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>{log4j}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""
_LOG4J2 = """status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c{1})%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
"""


@dataclass(frozen=True)
class Node:
    name: str
    port: int
    pid: int


@dataclass(frozen=True)
class Trogdor:
    """A running (or stopped) embedded Trogdor, as its state file records it."""

    version: str
    home: str
    java: str
    coordinator: Node
    agents: list[Node] = field(default_factory=list)
    started_at: float = 0.0
    start_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.coordinator.port}"

    def agent_names(self) -> list[str]:
        return [a.name for a in self.agents]

    def node_running(self, node: Node) -> bool:
        return process_running(node.pid, _marker(self.home, node.name))

    def dead_agents(self) -> list[Node]:
        return [a for a in self.agents if not self.node_running(a)]

    def is_running(self) -> bool:
        return self.node_running(self.coordinator)

    def agent_problem(self, name: str) -> str | None:
        """None when agent `name` runs and answers, else what is wrong with it (for a failed cell's status)."""
        agent = next((a for a in self.agents if a.name == name), None)
        if agent is None:
            return None
        if not self.node_running(agent):
            return f"its process (pid {agent.pid}) is gone"
        problem = agent_answers("127.0.0.1", agent.port)
        return f"it does not answer on 127.0.0.1:{agent.port} ({problem})" if problem else None

    def log_file(self, name: str) -> Path:
        return Path(self.home) / f"trogdor-{name}.log"

    def describe(self) -> dict:
        """What the manifest records."""
        return {"embedded": True, "version": self.version, "url": self.url, "agents": self.agent_names(),
                "java": self.java, "start_s": round(self.start_s, 2)}


def libs(version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """Trogdor's jars for `version`, resolved with Maven into the cache the first time."""
    path = cache_dir() / "trogdor" / version / "libs"
    if not (path / ".complete").exists():
        def failed(output: str) -> None:
            lines = [ln.strip() for ln in output.splitlines() if "ERROR" in ln] or ["no output"]
            raise EnvironmentProblem(f"Maven could not resolve org.apache.kafka:trogdor:{version}: {lines[0][:300]}")
        copy_dependencies(_POM.format(v=version, log4j=LOG4J2_VERSION, slf4j=SLF4J_VERSION), path,
                          "no Maven (mvn) on PATH: eosbench fetches Trogdor with it; install Maven 3.8+ or give --trogdor URL", failed)
    return path


def start(home: Path, agents: int = DEFAULT_AGENTS, version: str = DEFAULT_KAFKA_VERSION,
          timeout_s: float = READY_TIMEOUT_S) -> Trogdor:
    """Start a coordinator and `agents` agents recorded under `home`; returns once the coordinator answers."""
    if not 1 <= agents <= MAX_AGENTS:
        raise BadInput(f"--agents must be 1..{MAX_AGENTS}, not {agents}")
    java = find_java()
    classpath = f"{jvm.jar(resolve(version).version)}:{libs(version)}/*"
    home.mkdir(parents=True, exist_ok=True)
    names = [f"agent-{i}" for i in range(agents)]
    ports = {name: free_port() for name in ["coordinator", *names]}
    _write_topology(home, ports)
    (home / "trogdor-log4j2.properties").write_text(_LOG4J2)
    started = time.monotonic()
    coordinator = _launch(home, java, classpath, "coordinator", ports["coordinator"])
    trogdor = Trogdor(version, str(home), java.executable, coordinator,
                      [_launch(home, java, classpath, name, ports[name]) for name in names], time.time())
    write_state(Path(trogdor.home) / STATE_FILE, asdict(trogdor))
    try:
        _wait_ready(trogdor, timeout_s)
    except BaseException:
        stop(trogdor)
        raise
    trogdor = Trogdor(**{**asdict(trogdor), "coordinator": trogdor.coordinator, "agents": trogdor.agents,
                         "start_s": time.monotonic() - started})
    write_state(Path(trogdor.home) / STATE_FILE, asdict(trogdor))
    return trogdor


def restart_dead_agents(trogdor: Trogdor) -> list[str]:
    """Start again, on their ports, the agents whose process is gone; their names."""
    dead = trogdor.dead_agents()
    if not dead:
        return []
    java = find_java()
    classpath = f"{jvm.jar(resolve(trogdor.version).version)}:{libs(trogdor.version)}/*"
    home = Path(trogdor.home)
    revived = {a.name: _launch(home, java, classpath, a.name, a.port) for a in dead}
    updated = Trogdor(**{**asdict(trogdor), "coordinator": trogdor.coordinator,
                         "agents": [revived.get(a.name, a) for a in trogdor.agents]})
    write_state(Path(updated.home) / STATE_FILE, asdict(updated))
    _wait_ready(updated, READY_TIMEOUT_S)
    return list(revived)


def _write_topology(home: Path, ports: dict[str, int]) -> None:
    """Trogdor's topology: one node per agent, the coordinator's port on the first agent's node (as
    in Kafka's own config/trogdor.conf, node0 runs both). A node of its own would be taken for an
    agent on Trogdor's default port 8888: polled every second, and possibly someone else's."""
    agents = [name for name in ports if name != "coordinator"]
    nodes = {name: {"hostname": "127.0.0.1", "trogdor.agent.port": ports[name]} for name in agents}
    nodes[agents[0]]["trogdor.coordinator.port"] = ports["coordinator"]
    (home / "trogdor.conf").write_text(json.dumps({"platform": "org.apache.kafka.trogdor.basic.BasicPlatform", "nodes": nodes}, indent=2))


def _launch(home: Path, java: Java, classpath: str, name: str, port: int) -> Node:
    role, node = ("coordinator", "agent-0") if name == "coordinator" else ("agent", name)
    command = [java.executable, _marker(str(home), name), "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               f"-Dlog4j2.configurationFile={home / 'trogdor-log4j2.properties'}", "-cp", classpath,
               "eosbench.TrogdorNode", role, str(home / "trogdor.conf"), node, "127.0.0.1"]
    with open(home / f"trogdor-{name}.log", "ab") as log:
        # Its own process group (a Ctrl-C at the terminal is the run's to handle), in the caller's
        # session: the agent's tasks are its children, and under the kernel's autogroup scheduling a
        # session is a scheduling group, so roles on an embedded agent compete for the CPU as the
        # run's own roles do (bench.roles.launcher._Child), not as a group of their own.
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0)
    deadline = time.monotonic() + 10
    while not process_running(process.pid, _marker(str(home), name)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # until it has exec'd: from then on its command line tells it from any other process
    return Node(name, port, process.pid)


def _wait_ready(trogdor: Trogdor, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    coordinator = Coordinator(trogdor.url)
    while True:
        for node in [trogdor.coordinator, *trogdor.agents]:
            if not trogdor.node_running(node):
                raise EnvironmentProblem(f"Trogdor's {node.name} exited during start: {last_error_line(trogdor.log_file(node.name))}")
        try:
            coordinator.check()
            if all(agent_answers("127.0.0.1", a.port) is None for a in trogdor.agents):
                return
        except Unreachable:
            pass
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"the embedded Trogdor did not answer within {timeout_s:.0f}s; see {trogdor.home}/trogdor-*.log")
        time.sleep(0.2)


def stop(trogdor: Trogdor, grace_s: float = 10.0) -> None:
    """SIGTERM every node (an agent stops its tasks' processes as it shuts down), SIGKILL after `grace_s`; forget it."""
    nodes = [n for n in [*trogdor.agents, trogdor.coordinator] if trogdor.node_running(n)]
    for node in nodes:
        os.kill(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(trogdor.node_running(n) for n in nodes) and time.monotonic() < deadline:
        time.sleep(0.1)
    for node in nodes:
        if trogdor.node_running(node):
            os.kill(node.pid, signal.SIGKILL)
    while any(trogdor.node_running(n) for n in nodes):
        time.sleep(0.1)
    current = load(Path(trogdor.home))
    if current and current.coordinator.pid == trogdor.coordinator.pid:
        (Path(trogdor.home) / STATE_FILE).unlink()


def load(home: Path | None = None) -> Trogdor | None:
    """The Trogdor recorded under `home` (default: the one `eosbench trogdor up` manages)."""
    path = Path(home or state_dir()) / STATE_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    return Trogdor(**{**raw, "coordinator": Node(**raw["coordinator"]), "agents": [Node(**a) for a in raw["agents"]]})


def find(url: str) -> Trogdor | None:
    """The embedded Trogdor (eosbench trogdor up) whose coordinator is at `url`, if it is one."""
    running = load()
    return running if running and running.is_running() and running.url == url.rstrip("/") else None


def run_homes() -> list[Path]:
    """State homes of Trogdors that `eosbench run` started (left behind only if a run was killed)."""
    return run_state_homes(STATE_FILE)


def _marker(home: str, name: str) -> str:
    """A system property naming the node's home and name: how its JVM is told from any other."""
    return f"-Deosbench.trogdor={home}/{name}"
