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
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from bench.roles.launcher import AgentLost, CellFailed, Launcher, LineChannel, RoleProcess
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
                 diagnose: Callable[[str], str | None] = lambda agent: None) -> None:
        """`python`: the interpreter with eosbench installed on the agents' hosts; `diagnose(agent)`:
        what is wrong with an agent, when the caller can tell (the embedded Trogdor can)."""
        self.coordinator, self.placement, self.python, self.prefix, self.diagnose = coordinator, placement, python, task_prefix, diagnose
        self.listener = socket.create_server((_callback_host(coordinator.url), 0), backlog=64)
        self.address = "%s:%d" % self.listener.getsockname()[:2]
        self.placed: dict[str, Placed] = {}
        self.boot_id = boot_id()

    def start(self, name: str, role: Role, spec: Any) -> RoleProcess:
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
        sock, hello = self._accept(task, token, name, agent)
        placed = self._handshake(sock, hello, agent, task)
        sock.sendall(spec_line(spec))
        self.placed[name] = placed
        return _Remote(name, role, spec, sock, placed, self)

    def _accept(self, task: str, token: str, name: str, agent: str) -> tuple[socket.socket, dict]:
        """The connection of the role just created, by its token; a task that ends first fails the cell."""
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        self.listener.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                state = self._task_state(task)
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
            if hello.get("hello") == token:
                return sock, hello
            sock.close()  # not this task's (a stale one of an earlier cell): ignored
        raise CellFailed(f"{name} on Trogdor agent '{agent}' did not connect back to {self.address} within "
                         f"{CONNECT_TIMEOUT_S:.0f}s: can the agent's host run '{self.python} -m bench.roles.remote' and reach this address?"
                         + self._problem(agent))

    def _handshake(self, sock: socket.socket, hello: dict, agent: str, task: str) -> Placed:
        same = hello.get("boot_id") == self.boot_id
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
    def __init__(self, name: str, role: Role, spec: Any, sock: socket.socket, placed: Placed, launcher: TrogdorLauncher):
        super().__init__(name, role, spec)
        self.sock, self.placed, self.launcher = sock, placed, launcher
        self.channel = LineChannel(sock.fileno(), sock.fileno(), role.result)
        self.stopped = False

    def _poll(self, timeout_s: float) -> bool:
        try:
            return self.channel.poll(timeout_s)
        except OSError:  # reset by a dying peer
            self.channel.eof = True
            return True

    def _recv(self) -> tuple[Kind, Any]:
        return self.channel.recv()

    def _send(self, kind: Kind, payload: Any) -> None:
        self.channel.send(kind, payload)

    def alive(self) -> bool:
        return not self.channel.eof

    @property
    def pid(self) -> int:
        return self.placed.pid

    def exitcode(self) -> int | None:
        return None

    def freeze(self, frozen: bool) -> None:
        raise CellFailed(f"{self.name} runs on Trogdor agent '{self.placed.agent}': it cannot be frozen from here")

    def kill(self) -> None:
        """Trogdor stops the task (SIGTERM, SIGKILL after the grace period); the task is then forgotten."""
        if not self.stopped:
            self.stopped = True
            try:
                self.launcher.coordinator.stop(self.placed.task)
                self._reap(STOP_GRACE_MS / 1000 + 5)
                self.launcher.coordinator.destroy(self.placed.task)
            except Exception:  # a coordinator that is gone has nothing left to stop
                pass
        self.sock.close()

    def _reap(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.channel.eof and time.monotonic() < deadline:
            if self._poll(min(0.2, max(0.0, deadline - time.monotonic()))) and not self.channel.eof:
                self.channel.buffer = self.channel.buffer.partition(b"\n")[2]  # after its result, nothing is read

    def gone(self, kind: Kind) -> CellFailed:
        """A role whose connection closed: its task's error, and whether its agent is still there."""
        state = self.launcher._task_state(self.placed.task)
        problem = self.launcher.diagnose(self.placed.agent)
        where = f"{self.name} on Trogdor agent '{self.placed.agent}' (pid {self.placed.pid} on {self.placed.host})"
        if problem or state is None:
            return AgentLost(f"{where} went away before '{kind.value}': the agent {problem or 'is unknown to the coordinator'}")
        reason = state.error or f"task {state.state.lower()}"
        return CellFailed(f"{where} exited before '{kind.value}': {reason}")


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
