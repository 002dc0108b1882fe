"""Roles as Trogdor ExternalCommand tasks: the launcher of a cell whose `launcher` is `trogdor`.

For each role the runner starts, a task is created on the coordinator for the agent the placement
names; the agent runs `python -m bench.roles.remote`, which connects back to a socket this
launcher listens on and from then on speaks eosbench's own role protocol (bench.roles.protocol),
so the role, its spec and its result are exactly a local role's. Trogdor places, starts, stops
and watches the processes; the connection carries the messages, which Trogdor's task status (the
last line only, polled) could not carry both ways.

Clocks: when a role's kernel is this host's (the same boot id) it shares this host's monotonic
clock exactly. Otherwise the offset between the clocks is estimated NTP-style over the new
connection (the probe with the shortest round trip; half of it bounds the error), the role runs
on this host's clock (bench.roles.clock), and the uncertainty is recorded with the cell.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from bench.errors import AgentLost, CellFailed
from bench.roles.launcher import Launcher, LineChannel, RoleProcess
from bench.roles.protocol import Kind, Role, spec_line
from bench.roles.remote import boot_id
from bench.trogdor.coordinator import Coordinator, Unreachable, external_command
from bench.trogdor.placement import AgentPlacement

CONNECT_TIMEOUT_S = 60.0
PROBES = 16
TASK_DURATION_MS = 7 * 24 * 3600 * 1000  # a task ends when its role does; Trogdor's own deadline is only a backstop
STOP_GRACE_MS = 1000


@dataclass(frozen=True)
class Placed:
    """Where a role ran, as the cell records it."""

    agent: str
    task: str
    host: str
    pid: int
    cpus: int                 # of the agent's host
    same_clock: bool          # the same kernel as the runner: one monotonic clock, no offset
    offset_ns: int            # added to the role's clock to read the runner's
    uncertainty_ns: int       # half the shortest probe's round trip (0 with the same clock)


class TrogdorLauncher(Launcher):
    def __init__(self, coordinator: Coordinator, placement: AgentPlacement, python: str, task_prefix: str,
                 diagnose: Callable[[str], str | None] = lambda agent: None, probe_clocks: bool = False) -> None:
        """`python`: the interpreter with eosbench installed on the agents' hosts; `diagnose(agent)`:
        what is wrong with an agent, when the caller can tell (the embedded Trogdor can);
        `probe_clocks`: estimate the offset also for roles that share this host's clock."""
        self.coordinator, self.placement, self.python, self.prefix, self.diagnose = coordinator, placement, python, task_prefix, diagnose
        self.probe_clocks = probe_clocks
        self.listener = socket.create_server((_callback_host(coordinator.url), 0), backlog=64)
        self.address = "%s:%d" % self.listener.getsockname()[:2]
        self.placed: dict[str, Placed] = {}
        self.starting: dict[str, _Remote] = {}                         # token -> a role not connected yet
        self.arrived: dict[str, tuple[socket.socket, dict]] = {}       # token -> its connection, accepted early
        self.boot_id = boot_id()

    def start(self, name: str, role: Role, spec: Any) -> RoleProcess:
        """Create the role's task and return at once: the role connects back while the next ones
        start (their processes boot in parallel); the first message to or from it waits for that."""
        if not role.module:
            raise CellFailed(f"{name} is a Java role ({role.java_class}): Trogdor runs eosbench's Python roles")
        agent = self.placement.agent_for(name)
        task = f"{self.prefix}.{name}.{secrets.token_hex(3)}"
        token = secrets.token_hex(16)
        workload = {"role": role.name, "name": name, "connect": self.address, "token": token}
        try:
            self.coordinator.create(task, external_command(agent, [self.python, "-m", "bench.roles.remote"], workload,
                                                           TASK_DURATION_MS, STOP_GRACE_MS))
        except Unreachable as exc:
            raise AgentLost(str(exc)) from None
        remote = _Remote(name, role, spec, self, agent, task, token)
        self.starting[token] = remote
        return remote

    def connect(self, remote: "_Remote") -> None:
        """Take `remote`'s connection (accepting, and keeping for later, those of roles started
        after it), run the clock handshake and send its spec."""
        sock, hello = self.arrived.pop(remote.token, None) or self._accept(remote)
        del self.starting[remote.token]
        remote.placed = self.placed[remote.name] = self._handshake(sock, hello, remote.agent, remote.task)
        sock.sendall(spec_line(remote.spec))
        remote.attach(sock)

    def _accept(self, remote: "_Remote") -> tuple[socket.socket, dict]:
        """The connection carrying `remote`'s token; a task that ends first, or an agent that goes, fails the cell."""
        name, agent = remote.name, remote.agent
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        self.listener.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                problem = self.diagnose(agent)
                if problem:
                    raise AgentLost(f"{name} could not start on Trogdor agent '{agent}': the agent is gone ({problem})")
                state = self._task_state(remote.task)
                if state and state.state == "DONE":
                    raise CellFailed(f"{name} on Trogdor agent '{agent}' did not start: {state.error or 'its task ended'}"
                                     + self._problem(agent))
                continue
            sock.settimeout(10)
            try:
                hello = json.loads(_read_line(sock))
            except (OSError, ValueError):
                sock.close()
                continue
            if hello.get("hello") == remote.token:
                return sock, hello
            if hello.get("hello") in self.starting:
                self.arrived[hello["hello"]] = (sock, hello)  # a role started after this one, connected first
            else:
                sock.close()  # not a role of this cell's (a stale task of an earlier one): ignored
        raise CellFailed(f"{name} on Trogdor agent '{agent}' did not connect back to {self.address} within "
                         f"{CONNECT_TIMEOUT_S:.0f}s: can the agent's host run '{self.python} -m bench.roles.remote' and reach this address?"
                         + self._problem(agent))

    def _handshake(self, sock: socket.socket, hello: dict, agent: str, task: str) -> Placed:
        same = hello.get("boot_id") == self.boot_id and not self.probe_clocks
        offset, uncertainty = 0, 0
        if not same:
            samples = []
            for i in range(PROBES):
                t0 = time.monotonic_ns()
                sock.sendall(json.dumps({"probe": i}).encode() + b"\n")
                answer = json.loads(_read_line(sock))
                t1 = time.monotonic_ns()
                samples.append((t0, answer["now_ns"], t1))
            offset, uncertainty = clock_offset(samples)
        sock.sendall(json.dumps({"offset_ns": offset}).encode() + b"\n")
        sock.settimeout(None)
        return Placed(agent, task, str(hello.get("host")), int(hello.get("pid", 0)), int(hello.get("cpus") or 1), same, offset, uncertainty)

    def _task_state(self, task: str):
        try:
            return self.coordinator.task(task)
        except Exception:  # the coordinator's own failure is reported by whoever needs it
            return None

    def _problem(self, agent: str) -> str:
        problem = self.diagnose(agent)
        return f" (agent '{agent}': {problem})" if problem else ""

    def close(self) -> None:
        for sock, _ in self.arrived.values():
            sock.close()
        self.listener.close()

    def record(self) -> dict:
        """The cell's `placement` (role -> where it ran) and `clock` (how its end-to-end latencies were
        timed: a record stamped by a producer and read by the consumer is off by at most the sum of
        their offsets' uncertainties)."""
        producers = [p for name, p in self.placed.items() if name.startswith("producer-")]
        consumer = self.placed.get("consumer")
        stamping = producers + ([consumer] if consumer else [])
        uncertainty = max((p.uncertainty_ns for p in producers), default=0) + (consumer.uncertainty_ns if consumer else 0)
        return {
            "placement": {name: asdict(p) for name, p in self.placed.items()},
            "clock": {"same_host": all(p.same_clock for p in stamping), "e2e_uncertainty_us": round(uncertainty / 1000, 1)},
        }


def clock_offset(samples: list[tuple[int, int, int]]) -> tuple[int, int]:
    """(offset, uncertainty) in ns from probes (sent at t0 on this clock, answered at `remote` on the
    other, received at t1 on this one): the sample with the shortest round trip, the remote reading
    taken as the midpoint of that trip; its error is at most half the trip."""
    t0, remote, t1 = min(samples, key=lambda s: s[2] - s[0])
    return (t0 + t1) // 2 - remote, (t1 - t0 + 1) // 2


class _Remote(RoleProcess):
    def __init__(self, name: str, role: Role, spec: Any, launcher: TrogdorLauncher, agent: str, task: str, token: str):
        super().__init__(name, role, spec)
        self.launcher, self.agent, self.task, self.token = launcher, agent, task, token
        self.sock: socket.socket | None = None
        self.channel: LineChannel | None = None
        self.placed: Placed | None = None
        self.stopped = False

    def attach(self, sock: socket.socket) -> None:
        self.sock = sock
        self.channel = LineChannel(sock.fileno(), sock.fileno(), self.role.result)

    def _connected(self) -> LineChannel:
        if self.channel is None:
            self.launcher.connect(self)
        return self.channel

    def _poll(self, timeout_s: float) -> bool:
        channel = self._connected()
        try:
            return channel.poll(timeout_s)
        except OSError:  # reset by a dying peer
            channel.eof = True
            return True

    def _recv(self) -> tuple[Kind, Any]:
        return self._connected().recv()

    def _send(self, kind: Kind, payload: Any) -> None:
        self._connected().send(kind, payload)

    def alive(self) -> bool:
        return self.channel is None or not self.channel.eof

    @property
    def pid(self) -> int:
        return self.placed.pid if self.placed else 0

    def exitcode(self) -> int | None:
        return None

    def freeze(self, frozen: bool) -> None:
        raise CellFailed(f"{self.name} runs on Trogdor agent '{self.agent}': it cannot be frozen from here")

    def kill(self) -> None:
        """Trogdor stops the task (SIGTERM, SIGKILL after the grace period); the task is then forgotten."""
        if not self.stopped:
            self.stopped = True
            try:
                self.launcher.coordinator.stop(self.task)
                if self.channel is not None:
                    self._reap(STOP_GRACE_MS / 1000 + 5)
                self.launcher.coordinator.destroy(self.task)
            except Exception:  # a coordinator that is gone has nothing left to stop
                pass
        if self.sock is not None:
            self.sock.close()

    def _reap(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.channel is not None and not self.channel.eof and time.monotonic() < deadline:
            if self._poll(min(0.2, max(0.0, deadline - time.monotonic()))) and not self.channel.eof:
                self.channel.buffer = self.channel.buffer.partition(b"\n")[2]  # after its result, nothing is read

    def gone(self, kind: Kind) -> CellFailed:
        """A role whose connection closed: whether its agent is still there, else its task's error
        (which Trogdor learns on its next heartbeat: waited for up to 3 s)."""
        where = f"{self.name} on Trogdor agent '{self.agent}' (pid {self.placed.pid} on {self.placed.host})"
        deadline = time.monotonic() + 3
        while True:
            problem = self.launcher.diagnose(self.agent)
            if problem:
                return AgentLost(f"{where} went away before '{kind.value}': the agent is gone ({problem})")
            state = self.launcher._task_state(self.task)
            if state is not None and state.state == "DONE":
                return CellFailed(f"{where} exited before '{kind.value}': {state.error or 'its task ended'}")
            if time.monotonic() > deadline:
                return AgentLost(f"{where} went away before '{kind.value}' while its task still runs on the coordinator's "
                                 f"books ({state.state.lower() if state else 'no such task'}): its agent is probably gone")
            time.sleep(0.2)


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def _callback_host(url: str) -> str:
    """The address agents connect back to: loopback for a coordinator on this host, else this
    host's address on the route to the coordinator."""
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host in ("127.0.0.1", "localhost", "::1"):
        return "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((socket.gethostbyname(host), 9))
        return probe.getsockname()[0]
