"""`python -m bench.roles.remote`: one of eosbench's roles as a Trogdor ExternalCommand task.

A Trogdor agent starts this with the task's {"id", "workload"} as the first line on stdin; the
workload names the role and where the cell's runner listens (bench.trogdor.launcher). It connects
back there, says who it is, answers the runner's clock probes, takes the offset between the two
hosts' clocks and then its spec, and plays the role over the connection, in eosbench's own role
protocol (bench.roles.protocol): the same messages as a local role's, so results merge exactly as
theirs do. Nothing in the workload is secret: client properties travel over the connection only.

To Trogdor it reports a status line per phase ({"status": ...}) and {"error": ...} when the role
fails. Its stdin stays open as long as the agent lives: at its end (the agent died) the role stops
at once, so no orphan keeps producing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from bench.roles import clock, entry
from bench.roles.launcher import LineChannel
from bench.roles.protocol import ROLES, read_spec


def boot_id() -> str:
    """The running kernel's id: two processes share a monotonic clock exactly when theirs match."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return f"{socket.gethostname()}-unknown"


def main() -> int:
    trogdor = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stdout is Trogdor's status channel alone: a library's print goes to stderr (the agent's log)

    def tell(**message) -> None:
        trogdor.write(json.dumps(message) + "\n")

    start = sys.stdin.buffer.readline()
    try:
        task = json.loads(start)
        workload = task["workload"]
        role = ROLES[workload["role"]]
        host, port = workload["connect"].rsplit(":", 1)
    except (ValueError, KeyError, TypeError) as exc:
        tell(error=f"not an eosbench role task: {type(exc).__name__}: {exc}")
        return 2
    tell(status={"state": "connecting", "to": workload["connect"]})
    try:
        sock = socket.create_connection((host, int(port)), timeout=30)
    except OSError as exc:
        tell(error=f"cannot reach the cell runner at {workload['connect']}: {exc}")
        return 3
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=_exit_with_agent, daemon=True).start()
    channel = LineChannel(sock.fileno(), sock.fileno(), role.result)
    _write(sock, {"hello": workload["token"], "name": workload["name"], "task": task.get("id"), "host": socket.gethostname(),
                  "boot_id": boot_id(), "pid": os.getpid(), "cpus": os.cpu_count()})
    while True:  # clock probes, answered at once, then the offset the runner worked out
        message = json.loads(_line(channel))
        if "probe" in message:
            _write(sock, {"probe": message["probe"], "now_ns": time.monotonic_ns()})
        else:
            clock.set_offset(int(message["offset_ns"]))
            break
    spec = read_spec(_line(channel), role)
    tell(status={"state": "running", "pid": os.getpid(), "offset_ns": clock.offset_ns})
    entry(role.module, spec, channel)
    tell(status={"state": "done"})
    return 0


def _line(channel: LineChannel) -> bytes:
    if not channel.poll(60):
        raise SystemExit("the cell runner sent nothing for 60 s")
    if b"\n" not in channel.buffer:
        raise SystemExit("the cell runner closed the connection")
    line, _, channel.buffer = channel.buffer.partition(b"\n")
    return line


def _write(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _exit_with_agent() -> None:
    """Trogdor keeps a task's stdin open while its agent lives: its end means the agent is gone.
    (Read from the descriptor, not sys.stdin: a daemon thread holding sys.stdin's lock at
    interpreter shutdown aborts the process, seen as Python's "Fatal Python error: _enter_buffered_busy".)"""
    while os.read(0, 1 << 16):
        pass
    os._exit(70)


if __name__ == "__main__":
    sys.exit(main())
