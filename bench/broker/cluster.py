"""A real Apache Kafka cluster on loopback: format, start, wait until usable, stop.

Each node runs in KRaft combined mode (broker + controller) in its own JVM. All that is needed to
find the cluster again lives in one state file, so `broker status` and `broker down` work from
any shell, and a crashed command never leaves an unknown broker behind.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import re
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.broker.distribution import Distribution, Java, find_java
from bench.errors import BadInput, EnvironmentProblem
from bench.paths import state_dir

SUPPORTED_SIZES = (1, 3)
READY_TIMEOUT_S = 120.0
START_RETRIES = 2  # per node of a multi-node cluster; see _check_alive
STORAGES = ("disk", "memory")
# `memory`: the brokers' log directories on a tmpfs. Kafka never fsyncs by default, so its writes
# land in the page cache either way; on disk the kernel then writes back a cell's whole log
# (250-300 MB/s in a closed-loop 1 KB cell) on the cores the broker and the generators share. On
# this project's machine (a 500 MB/s disk) that made no difference the repetitions could show
# (docs/broker.md, "Storage"); on a slower disk it can. The log is RAM then: a run must have room for a
# cell's log, which `MEMORY_MIN_FREE` checks before the brokers start.
MEMORY_ROOT = Path("/dev/shm")
MEMORY_MIN_FREE = 4 << 30

_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="{log}"><PatternLayout pattern="[%d] %p %m (%c)%n"/></File>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""


@dataclass
class Node:
    """One broker+controller JVM."""

    node_id: int
    port: int
    controller_port: int
    directory: str
    pid: int | None = None
    jmx_port: int | None = None  # loopback only; None in state files from before JMX was on
    data_directory: str | None = None  # the log directory; None: `data` under `directory` (disk storage)

    @property
    def data_dir(self) -> Path:
        return Path(self.data_directory) if self.data_directory else Path(self.directory) / "data"

    @property
    def jmx_address(self) -> str | None:
        return f"127.0.0.1:{self.jmx_port}" if self.jmx_port else None

    @property
    def config_file(self) -> Path:
        return Path(self.directory) / "server.properties"

    @property
    def log_file(self) -> Path:
        return Path(self.directory) / "server.log"

    @property
    def console_file(self) -> Path:
        return Path(self.directory) / "console.log"

    def is_running(self) -> bool:
        """True only if the pid is alive AND is this node's JVM (pids get reused)."""
        return process_running(self.pid, str(self.config_file))


@dataclass
class Cluster:
    """The running (or stopped) embedded cluster, as recorded in the state file."""

    version: str
    libs: str
    source: str
    cluster_id: str
    directory: str
    nodes: list[Node]
    java: str
    heap_mb: int
    home: str  # where this cluster's state file lives
    started_at: float = field(default_factory=time.time)
    cpus: list[int] | None = None  # the CPUs every node's JVM runs on (bench.placement); None: any
    storage: str = "disk"  # where the log directories are: STORAGES

    @property
    def memory_directory(self) -> Path | None:
        """The tmpfs directory holding every node's log under `memory` storage."""
        return _memory_directory(self.cluster_id) if self.storage == "memory" else None

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return replication(self.size)[0]

    @property
    def min_insync_replicas(self) -> int:
        return replication(self.size)[1]

    def node(self, node_id: int) -> Node:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        raise BadInput(f"no broker with node id {node_id} (have {[n.node_id for n in self.nodes]})")

    def running_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.is_running()]

    def describe(self) -> dict:
        """What status and results record about the broker (no pids: they mean nothing later)."""
        return {
            "version": self.version,
            "source": self.source,
            "brokers": self.size,
            "bootstrap_servers": self.bootstrap_servers,
            "cluster_id": self.cluster_id,
            "heap_mb": self.heap_mb,
            "storage": self.storage,
            "config": server_properties(self, self.nodes[0]),
        }


def replication(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of `brokers`: 3 and 2 where there are
    three brokers to hold copies (the setting exactly-once deployments run with), else 1 and 1."""
    return (3, 2) if brokers >= 3 else (1, 1)


def process_running(pid: int | None, marker: str) -> bool:
    """Whether `pid` is alive (not a zombie) and its command line holds `marker`: a pid that was
    reused by another process is not ours."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return marker in cmdline and stat.split(")")[-1].split()[0] != "Z"


# ---------------------------------------------------------------------------------------- state


def load_state(home: Path | None = None) -> Cluster | None:
    """The cluster recorded under `home` (default: the one `eosbench broker up` manages)."""
    path = Path(home or state_dir()) / "broker.json"
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    raw["nodes"] = [Node(**n) for n in raw["nodes"]]
    raw.setdefault("home", str(path.parent))  # state files from before `home` was recorded
    return Cluster(**raw)


def run_homes() -> list[Path]:
    """State homes of clusters that `eosbench run` started (left behind only if a run was killed)."""
    return sorted(p.parent for p in (state_dir() / "runs").glob("*/broker.json"))


def _save_state(cluster: Cluster) -> None:
    path = Path(cluster.home) / "broker.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(cluster), indent=2))
    tmp.replace(path)


# ---------------------------------------------------------------------------------------- config


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _heap_mb(brokers: int) -> int:
    """A heap that leaves room for the load generators: 1/16 of memory per node, 256 MB..1 GB."""
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    return max(256, min(1024, total_mb // (16 * brokers)))


def server_properties(cluster: Cluster, node: Node) -> dict[str, str]:
    """The broker configuration: loopback listeners, internal topics sized for the cluster."""
    rf, isr = cluster.replication_factor, cluster.min_insync_replicas
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        # A deleted cell's log is freed a second after its cell, in the next cell's warm-up, not a
        # minute later (the default) inside some other cell's measured window (and RAM under memory storage).
        "file.delete.delay.ms": "1000",
        "num.partitions": "1",
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(isr),
        "offsets.topic.replication.factor": str(rf),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(isr),
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(isr),
        "group.initial.rebalance.delay.ms": "0",
        # A processor's session lasts 10 s under either group protocol (bench.cell.topology): the
        # consumer protocol (KIP-848) takes it from the group's config, which the broker keeps at
        # or above this floor (45 s by default, which would make its recovery after a kill 4.5
        # times the classic one's for a reason that is configuration, not protocol).
        "group.consumer.min.session.timeout.ms": "10000",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
    }
    if cluster.size == 1:
        props["controller.quorum.bootstrap.servers"] = f"127.0.0.1:{node.controller_port}"
    else:
        props["controller.quorum.voters"] = ",".join(
            f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster.nodes
        )
    return props


def _write_node_files(cluster: Cluster, node: Node) -> None:
    Path(node.directory).mkdir(parents=True, exist_ok=True)
    props = server_properties(cluster, node)
    node.config_file.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (Path(node.directory) / "log4j2.xml").write_text(_LOG4J2.format(log=node.log_file))


def new_cluster_id() -> str:
    """Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.

    About one draw in 64 begins with '-', which Kafka's StorageTool reads as an option
    ("argument --cluster-id/-t: expected one argument"); Kafka's own Uuid.randomUuid() draws
    again in that case, and so does this.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


# ---------------------------------------------------------------------------------------- lifecycle


def _jmx_options(node: Node) -> list[str]:
    """Remote JMX on loopback only, without authentication: what eosbench reads a broker's request
    counts and CPU time from (bench.cell.resources). The RMI registry and the RMI server share one
    port, and both bind 127.0.0.1 only."""
    if not node.jmx_port:
        return []
    return [
        "-Dcom.sun.management.jmxremote", f"-Dcom.sun.management.jmxremote.port={node.jmx_port}",
        f"-Dcom.sun.management.jmxremote.rmi.port={node.jmx_port}", "-Dcom.sun.management.jmxremote.host=127.0.0.1",
        "-Djava.rmi.server.hostname=127.0.0.1", "-Dcom.sun.management.jmxremote.local.only=true",
        "-Dcom.sun.management.jmxremote.authenticate=false", "-Dcom.sun.management.jmxremote.ssl=false",
    ]


def _java_command(cluster: Cluster, node: Node, main_class: str, *args: str) -> list[str]:
    return [
        cluster.java, f"-Xms{cluster.heap_mb}m", f"-Xmx{cluster.heap_mb}m",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true", *(_jmx_options(node) if main_class == "kafka.Kafka" else []),
        f"-Dlog4j2.configurationFile={Path(node.directory) / 'log4j2.xml'}",
        f"-Dkafka.logs.dir={node.directory}",
        "-cp", str(Path(cluster.libs) / "*"),
        main_class, *args,
    ]


# Kafka's own command-line tools (the Maven distribution has jars but no bin/ scripts).
TOOLS = {
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
}


def tool_command(cluster: Cluster, name: str, args: tuple[str, ...]) -> list[str]:
    """A Kafka tool's command line, pointed at this cluster."""
    return [cluster.java, "-Xmx256m", "-cp", str(Path(cluster.libs) / "*"), TOOLS[name],
            "--bootstrap-server", cluster.bootstrap_servers, *args]


def _format(cluster: Cluster, node: Node) -> None:
    args = ["format", "-t", cluster.cluster_id, "-c", str(node.config_file)]
    if cluster.size == 1:
        args.append("--standalone")
    proc = subprocess.run(_java_command(cluster, node, "kafka.tools.StorageTool", *args), capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentProblem(f"formatting storage of broker {node.node_id} failed: {last[0][:300]}")


def start_node(cluster: Cluster, node: Node) -> None:
    """Start one node's JVM in its own session, so Ctrl-C in the shell that ran `up` spares it."""
    with open(node.console_file, "ab") as console:
        proc = subprocess.Popen(
            _java_command(cluster, node, "kafka.Kafka", str(node.config_file)),
            stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cluster.cpus)) if cluster.cpus else None,  # before the JVM starts a thread
        )
    node.pid = proc.pid
    _save_state(cluster)


def start(
    distribution: Distribution, brokers: int = 1, timeout_s: float = READY_TIMEOUT_S,
    java: Java | None = None, home: Path | None = None, cpus: tuple[int, ...] = (), storage: str = "disk",
) -> Cluster:
    """Format and start a fresh cluster; return once it accepts a transactional producer."""
    if brokers not in SUPPORTED_SIZES:
        raise BadInput(f"--brokers must be 1 or 3, not {brokers}")
    check_storage(storage)
    java = java or find_java()
    cluster_id = new_cluster_id()
    directory = state_dir() / "clusters" / cluster_id
    memory = _memory_directory(cluster_id) if storage == "memory" else None
    nodes = [Node(i, free_port(), free_port(), str(directory / f"node-{i}"), jmx_port=free_port(),
                  data_directory=str(memory / f"node-{i}") if memory else None) for i in range(1, brokers + 1)]
    cluster = Cluster(
        version=distribution.version, libs=str(distribution.libs), source=distribution.source,
        cluster_id=cluster_id, directory=str(directory), nodes=nodes, java=java.executable,
        heap_mb=_heap_mb(brokers), home=str(home or state_dir()), cpus=list(cpus) or None, storage=storage,
    )
    for node in nodes:
        _write_node_files(cluster, node)
        _format(cluster, node)
    _save_state(cluster)
    try:
        for node in nodes:
            start_node(cluster, node)
        wait_ready(cluster, timeout_s)
    except BaseException:
        stop(cluster, keep_data=True)
        raise
    return cluster


def _memory_directory(cluster_id: str) -> Path:
    return MEMORY_ROOT / f"eosbench-{cluster_id}"


def check_storage(storage: str) -> None:
    """Refuse a storage eosbench does not know, and `memory` where no tmpfs has room for a cell's log."""
    if storage not in STORAGES:
        raise BadInput(f"storage must be {' or '.join(STORAGES)}, not {storage!r}")
    if storage == "memory":
        try:
            stats = os.statvfs(MEMORY_ROOT)
        except OSError:
            raise EnvironmentProblem(f"storage memory needs a tmpfs at {MEMORY_ROOT}, which this machine lacks") from None
        free = stats.f_bavail * stats.f_frsize
        if free < MEMORY_MIN_FREE:
            raise EnvironmentProblem(f"storage memory needs {MEMORY_MIN_FREE >> 30} GiB free at {MEMORY_ROOT} for a cell's log; "
                                     f"it has {free / (1 << 30):.1f} GiB")


def wait_ready(cluster: Cluster, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Usable means what eosbench needs: every node running, every broker in the metadata AND
    init_transactions() works. Each check is made again on every round, since a node started
    again (see _check_alive) must pass all of them, and a dead broker stays in the metadata for
    its session timeout."""
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout_s
    restarts: dict[int, int] = {}
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap_servers, "log_level": 0})
    while True:
        waiting = "a node started again to come up"
        if _check_alive(cluster, restarts):
            waiting = f"metadata did not list {cluster.size} broker(s); see 'eosbench broker logs'"
            try:
                if len(admin.list_topics(timeout=2).brokers) == cluster.size:
                    producer = Producer({
                        "bootstrap.servers": cluster.bootstrap_servers, "log_level": 0,
                        "transactional.id": f"eosbench-readiness-{uuid.uuid4().hex[:8]}",
                    })
                    try:
                        producer.init_transactions(max(1.0, min(10.0, deadline - time.monotonic())))
                        return
                    except KafkaException as exc:
                        waiting = f"init_transactions() failed: {exc.args[0].str()}"
                    finally:
                        del producer
            except KafkaException:
                pass
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"broker not ready within {timeout_s:.0f}s: {waiting}")
        time.sleep(0.5)


def _check_alive(cluster: Cluster, restarts: dict[int, int]) -> bool:
    """True when every node runs. Start again, up to START_RETRIES times, a node of a multi-node
    cluster that exited while the quorum formed: a combined node's controller exits on "No
    controller appears to be active" when leadership moves during its activation, which three JVMs
    starting on two loaded cores can cause. A single node has no leadership to lose: its exit is
    the answer."""
    alive = True
    for node in cluster.nodes:
        if node.is_running():
            continue
        if cluster.size == 1 or restarts.get(node.node_id, 0) >= START_RETRIES:
            raise EnvironmentProblem(f"broker {node.node_id} exited during start: {_last_error(node)}")
        restarts[node.node_id] = restarts.get(node.node_id, 0) + 1
        with open(node.console_file, "a") as console:
            console.write(f"eosbench: node {node.node_id} exited during start ({_last_error(node)}); "
                          f"starting it again ({restarts[node.node_id]} of {START_RETRIES})\n")
        start_node(cluster, node)
        alive = False
    return alive


def _last_error(node: Node) -> str:
    """The most telling line of a dead node's logs: the last ERROR, else the last line."""
    lines: list[str] = []
    for path in (node.log_file, node.console_file):
        if path.exists():
            lines += path.read_text(errors="replace").splitlines()[-200:]
    errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
    picked = (errors or lines or ["(no log output)"])[-1].strip()
    return picked[:400]


def stop_node(node: Node, grace_s: float = 30.0) -> None:
    """SIGTERM (a controlled shutdown), then SIGKILL only if the JVM outstays `grace_s`."""
    _terminate([node], grace_s)


def _terminate(nodes: list[Node], grace_s: float) -> None:
    """SIGTERM every running node at once, then SIGKILL those that outstay `grace_s`. At once: one
    by one, the last node of a 3-node cluster has lost its controller quorum and waits out the
    whole grace period for a controlled shutdown nobody can grant (seen: 36 s per stop)."""
    running = [n for n in nodes if n.is_running()]
    for node in running:
        os.kill(node.pid, signal.SIGCONT)  # a paused node cannot shut down
        os.kill(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(n.is_running() for n in running) and time.monotonic() < deadline:
        time.sleep(0.2)
    for node in running:
        if node.is_running():
            os.kill(node.pid, signal.SIGKILL)
            while node.is_running():
                time.sleep(0.1)


def stop(cluster: Cluster, keep_data: bool = False) -> None:
    """Stop every node; remove the data unless asked to keep it, and forget the cluster."""
    import shutil

    _terminate(cluster.nodes, 30.0)
    if not keep_data:
        shutil.rmtree(cluster.directory, ignore_errors=True)
        if cluster.memory_directory:
            shutil.rmtree(cluster.memory_directory, ignore_errors=True)
    current = load_state(Path(cluster.home))
    if current and current.cluster_id == cluster.cluster_id:
        (Path(cluster.home) / "broker.json").unlink()


@dataclass(frozen=True)
class LogBatch:
    """One record batch of a partition's log, as Kafka's DumpLogSegments lists it."""

    base_offset: int
    records: int
    size: int
    control: bool   # a transaction marker (COMMIT or ABORT)


def dump_log(cluster: Cluster, topic: str, partition: int, node: Node | None = None) -> list[LogBatch]:
    """Every batch of one partition's log on one node (the first by default), read by Kafka's own
    `kafka.tools.DumpLogSegments` from the same jars: an independent count of what eosbench
    infers from sizes and requests."""
    node = node or cluster.nodes[0]
    segments = sorted((node.data_dir / f"{topic}-{partition}").glob("*.log"))
    if not segments:
        raise EnvironmentProblem(f"no log segment of {topic}-{partition} on broker {node.node_id}")
    proc = subprocess.run([cluster.java, "-Xmx256m", "-cp", str(Path(cluster.libs) / "*"), "kafka.tools.DumpLogSegments",
                           "--files", ",".join(map(str, segments))], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise EnvironmentProblem(f"DumpLogSegments failed on {topic}-{partition}: {proc.stderr.strip()[-300:]}")
    out = []
    for line in proc.stdout.splitlines():
        if line.startswith("baseOffset:"):
            fields = dict(re.findall(r"(\w+): (\S+)", line))
            out.append(LogBatch(int(fields["baseOffset"]), int(fields["count"]), int(fields["size"]), fields["isControl"] == "true"))
    return out
