"""How roles are started and spoken to: a launcher makes `RoleProcess`es, which carry the protocol.

Two launchers, one interface (asv's pluggable launcher, OpenMessaging Benchmark's Worker):
- `SpawnLauncher` (the default) runs the role's Python function in a spawned process (never
  forked: no librdkafka thread is copied) over a multiprocessing pipe;
- `CommandLauncher` runs any command as a child process that reads its spec as the first line of
  stdin, then messages as JSON lines on stdin, and writes its messages as JSON lines on stdout
  (`bench.roles.protocol`). A JVM (the Kafka Streams processor) or a remote agent joins this way;
  by default the command is eosbench's own Python role (`python -m bench.roles.child ROLE`), so
  the JSON-lines path is exercised by the same roles.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

from bench.errors import CellFailed
from bench.roles import entry
from bench.roles.protocol import Kind, Role, from_json_line, spec_line, to_json_line

_SPAWN = multiprocessing.get_context("spawn")


class RoleProcess(ABC):
    """A running role, seen from the cell runner: what it said so far, and how to wait for more."""

    def __init__(self, name: str, role: Role, spec: Any):
        self.name, self.role, self.spec = name, role, spec
        self.result: Any = None
        self.progress = 0
        self.closed = False
        self.rows: list[tuple] = []  # streamed by the lag sampler
        self.announced: list[tuple[int, int]] = []  # transactions a producer was about to commit (ProducerSpec.announce_transactions)

    # -- transport, per launcher --
    @abstractmethod
    def _poll(self, timeout_s: float) -> bool: ...

    @abstractmethod
    def _recv(self) -> tuple[Kind, Any]:
        """The next message; EOFError once the role is gone."""

    @abstractmethod
    def _send(self, kind: Kind, payload: Any) -> None:
        """Raises BrokenPipeError once the role is gone."""

    @abstractmethod
    def alive(self) -> bool: ...

    @abstractmethod
    def exitcode(self) -> int | None: ...

    @abstractmethod
    def kill(self) -> None:
        """SIGKILL, and reap."""

    @property
    @abstractmethod
    def pid(self) -> int: ...

    def freeze(self, frozen: bool) -> None:
        """SIGSTOP (or SIGCONT): the process keeps its state and its connections, and does nothing (a zombie)."""
        os.kill(self.pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    # -- the protocol --
    def _receive(self) -> tuple | None:
        """The next message, keeping progress and result; None once the role is gone."""
        try:
            kind, payload = self._recv()
        except (EOFError, ConnectionResetError):  # a crash can reset the pipe
            self.closed = True
            return None
        except (ValueError, KeyError, TypeError) as exc:  # a child that does not speak the protocol
            raise CellFailed(f"{self.name} sent something that is not a message of eosbench's role protocol: {exc}") from None
        if kind is Kind.PROGRESS:
            self.progress = payload
        elif kind is Kind.ROWS:
            self.rows += [tuple(row) for row in payload]
        elif kind is Kind.TXN:
            self.announced.append(tuple(payload))
        elif kind is Kind.RESULT:
            self.result = payload
        elif kind is Kind.ERROR:
            raise CellFailed(f"{self.name}: {payload.message}", self.name, payload.traceback)
        return kind, payload

    def expect(self, kind: Kind, timeout_s: float) -> Any:
        """Wait for a message of `kind`; fail on an error, an exit, or silence."""
        deadline = time.monotonic() + timeout_s
        while True:
            if kind is Kind.RESULT and self.result is not None:
                return self.result
            if self.closed:
                self._reap(5)  # its end of the channel closes a moment before it exits: wait for the exit code
                raise self.gone(kind)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CellFailed(f"{self.name} sent no '{kind.value}' within {timeout_s:.0f}s")
            if self._poll(min(remaining, 0.5)):
                message = self._receive()
                if message and message[0] is kind:
                    return message[1]
            elif not self.alive() and not self._poll(0):
                self.closed = True

    def pump(self) -> None:
        """Read whatever is waiting, without blocking."""
        while not self.closed and self._poll(0):
            self._receive()

    def send(self, kind: Kind, payload: Any = None) -> None:
        try:
            self._send(kind, payload)
        except (BrokenPipeError, ConnectionResetError):
            self.pump()  # raises the role's own error if it sent one
            self._reap(5)
            raise self.gone(kind) from None

    def gone(self, kind: Kind) -> CellFailed:
        """The failure of a role that went away before sending (or being sent) `kind`."""
        return CellFailed(f"{self.name} exited (code {self.exitcode()}) before '{kind.value}'")

    def finish(self, timeout_s: float) -> Any:
        result = self.expect(Kind.RESULT, timeout_s)
        self._reap(10)
        return result

    @abstractmethod
    def _reap(self, timeout_s: float) -> None: ...


class Launcher(ABC):
    @abstractmethod
    def start(self, name: str, role: Role, spec: Any) -> RoleProcess:
        """Start role `name` (unique in its cell) playing `role` with `spec`."""

    def record(self) -> dict:
        """What the cell's metrics record about where its roles ran (nothing for local processes)."""
        return {}

    def close(self) -> None:
        """Release what the launcher holds once its cell is over."""


# ----------------------------------------------------------------------------- spawned Python

class _Spawned(RoleProcess):
    def __init__(self, name: str, role: Role, spec: Any):
        super().__init__(name, role, spec)
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=entry, args=(role.module, spec, _PipeChannel(child)), name=f"eosbench-{name}", daemon=True)
        self.process.start()
        child.close()

    def _poll(self, timeout_s: float) -> bool:
        return self.conn.poll(timeout_s)

    def _recv(self) -> tuple[Kind, Any]:
        return self.conn.recv()

    def _send(self, kind: Kind, payload: Any) -> None:
        self.conn.send((kind, payload))

    def alive(self) -> bool:
        return self.process.is_alive()

    @property
    def pid(self) -> int:
        return self.process.pid

    def exitcode(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self._reap(10)

    def _reap(self, timeout_s: float) -> None:
        self.process.join(timeout_s)


class _PipeChannel:
    """The role's end of a spawned role's pipe."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def send(self, kind: Kind, payload: Any = None) -> None:
        self.conn.send((kind, payload))

    def poll(self, timeout_s: float = 0) -> bool:
        return self.conn.poll(timeout_s)

    def recv(self) -> tuple[Kind, Any]:
        return self.conn.recv()

    def close(self) -> None:
        self.conn.close()


class SpawnLauncher(Launcher):
    def start(self, name: str, role: Role, spec: Any) -> RoleProcess:
        return _Spawned(name, role, spec)


# ----------------------------------------------------------------------------- a child process speaking JSON lines

class LineChannel:
    """Messages as JSON lines over two file descriptors (either end of a child role)."""

    def __init__(self, read_fd: int, write_fd: int, result_type: type | None = None) -> None:
        self.read_fd, self.write_fd, self.result_type = read_fd, write_fd, result_type
        self.buffer = b""
        self.eof = False

    def send(self, kind: Kind, payload: Any = None) -> None:
        data = to_json_line(kind, payload)
        while data:
            data = data[os.write(self.write_fd, data):]

    def poll(self, timeout_s: float = 0) -> bool:
        """Whether a whole line (or the end) is waiting, waiting up to `timeout_s` for one."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer and not self.eof:
            remaining = max(0.0, deadline - time.monotonic())
            if not select.select([self.read_fd], [], [], remaining)[0]:
                return False
            chunk = os.read(self.read_fd, 1 << 20)
            self.buffer += chunk
            self.eof = not chunk
        return True

    def recv(self) -> tuple[Kind, Any]:
        while not self.poll(3600):
            pass
        if b"\n" not in self.buffer:
            raise EOFError
        line, _, self.buffer = self.buffer.partition(b"\n")
        return from_json_line(line, self.result_type)

    def close(self) -> None:
        os.close(self.write_fd)


class _Child(RoleProcess):
    def __init__(self, name: str, role: Role, spec: Any, command: list[str], log: Path | None):
        super().__init__(name, role, spec)
        stderr = open(log, "ab") if log else subprocess.DEVNULL
        try:
            # Its own process group: a Ctrl-C at the terminal is the runner's to handle, as for spawned
            # roles. Not its own session: with the kernel's autogroup scheduling (the default on most
            # distributions) each session is a scheduling group that gets an equal share of a busy
            # CPU, so a role in a session of its own took CPU from the broker that spawned roles,
            # which share the runner's, did not (transactional producers: 10-14 against 7-8 us of CPU
            # per record, and a sixth less throughput, measured on this 2-core machine).
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                            process_group=0)
        finally:
            if log:
                stderr.close()
        self.channel = LineChannel(self.process.stdout.fileno(), self.process.stdin.fileno(), role.result)
        try:
            os.write(self.process.stdin.fileno(), spec_line(spec))
        except BrokenPipeError:
            self.closed = True

    def _poll(self, timeout_s: float) -> bool:
        return self.channel.poll(timeout_s)

    def _recv(self) -> tuple[Kind, Any]:
        return self.channel.recv()

    def _send(self, kind: Kind, payload: Any) -> None:
        self.channel.send(kind, payload)

    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exitcode(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self._reap(10)

    def _reap(self, timeout_s: float) -> None:
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except BrokenPipeError:
                pass


def python_role(role: Role) -> list[str]:
    """eosbench's own role as a JSON-lines child process."""
    return [sys.executable, "-m", "bench.roles.child", role.name]


class CommandLauncher(Launcher):
    """Roles as child processes speaking JSON lines; `command(role)` gives the argv of each
    (eosbench's own Python roles by default); stderr goes to `log_dir/<name>.stderr` when given."""

    def __init__(self, command: Callable[[Role], list[str]] = python_role, log_dir: Path | None = None) -> None:
        self.command, self.log_dir = command, log_dir

    def start(self, name: str, role: Role, spec: Any) -> RoleProcess:
        return _Child(name, role, spec, self.command(role), self.log_dir / f"{name}.stderr" if self.log_dir else None)
