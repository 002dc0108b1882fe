"""The processes of a cell: producers, processor, verifying consumer, lag sampler.

Each role runs in its own process (spawned, so no librdkafka thread is ever forked) and talks to
the cell runner over a pipe: it says `ready` once its clients work, waits for `go` with the
cell's timeline, may send `progress`, and ends with `result` (or `error` with one line). Times
are `time.monotonic_ns()`, which is system-wide on Linux, so every role shares one clock.
"""

from __future__ import annotations

import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable

ID_HEADER = "eosbench-id"
TS_HEADER = "eosbench-ts"  # intended send time, monotonic ns, 8 bytes big-endian


@dataclass(frozen=True)
class Timeline:
    """The phases of a cell on the shared monotonic clock."""

    start_ns: int          # warm-up begins
    measure_start_ns: int  # figures from here on count
    measure_end_ns: int    # producers stop here; drain follows
    epoch_offset_s: float  # add to monotonic seconds to get wall-clock seconds

    @property
    def duration_s(self) -> float:
        return (self.measure_end_ns - self.measure_start_ns) / 1e9

    @classmethod
    def starting_in(cls, delay_s: float, warmup_s: float, duration_s: float) -> "Timeline":
        start = time.monotonic_ns() + int(delay_s * 1e9)
        measure = start + int(warmup_s * 1e9)
        return cls(start, measure, measure + int(duration_s * 1e9), time.time() - time.monotonic())


class RoleFailed(Exception):
    """A role could not go on; the message says why, for the cell's status."""


def entry(target: Callable[[dict, Connection], Any], spec: dict, conn: Connection) -> None:
    """Process entry point: run the role and always answer with a result or an error.

    Ctrl-C reaches the whole process group; the cell runner decides what happens to roles, so
    they ignore it rather than die half-way with a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn.send(("result", target(spec, conn)))
    except RoleFailed as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # a bug or a client failure: report it, keep the stack for --debug
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        conn.close()


def wait_for_go(conn: Connection) -> Timeline:
    conn.send(("ready", None))
    message = conn.recv()
    if message[0] != "go":
        raise RoleFailed(f"expected 'go', got {message[0]!r}")
    return message[1]


def sleep_until(t_ns: int) -> None:
    delay = (t_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


def retrying(fn: Callable, *args: Any) -> Any:
    """Call a transactional API, retrying while librdkafka says the error is retriable."""
    from confluent_kafka import KafkaException

    while True:
        try:
            return fn(*args)
        except KafkaException as exc:
            if not exc.args[0].retriable():
                raise
            time.sleep(0.05)


def cpu_seconds() -> float:
    return time.process_time()
