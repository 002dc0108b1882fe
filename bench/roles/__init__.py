"""The processes of a cell: producers, processor, verifying consumer, lag sampler.

Each role runs in its own process (spawned, so no librdkafka thread is ever forked) and talks to
the cell runner over a pipe: it says `ready` once its clients work, waits for `go` with the
cell's timeline, may send `progress`, and ends with `result` (or `error` with one line). Times
are `time.monotonic_ns()`, which is system-wide on Linux, so every role shares one clock.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable

from bench.client_properties import REDACTED, is_secret

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


class ClientLog(logging.Handler):
    """librdkafka's log lines of one role's clients, kept for the cell's directory and counted.

    Without a logger librdkafka prints to the terminal (`%3|...|FAIL|... Connection refused`
    every second a broker is down under a fault), drowning eosbench's own lines. Each client gets
    `logger=ClientLog(...).logger`; lines are served by the client's poll()/consume().
    """

    MAX_LINES = 5_000  # a broker down for minutes logs a line per second per connection: keep the start, count the rest

    def __init__(self, role: str, *configs: dict) -> None:
        """`configs`: the clients' configurations, whose credentials are cut out of every line
        (librdkafka's debug contexts can print configuration)."""
        super().__init__(logging.DEBUG)
        self.secrets = sorted({str(v) for c in configs for k, v in c.items() if is_secret(k) and str(v)}, key=len, reverse=True)
        self.lines: list[str] = []
        self.counts: Counter[str] = Counter()
        self.logger = logging.getLogger(f"eosbench.client.{role}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.handlers = [self]

    def emit(self, record: logging.LogRecord) -> None:
        facility = record.args[0] if isinstance(record.args, tuple) and record.args else "-"
        self.counts[f"{record.levelname}/{facility}"] += 1
        if len(self.lines) < self.MAX_LINES:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
            line = record.getMessage()
            for secret in self.secrets:
                line = line.replace(secret, REDACTED)
            self.lines.append(f"{stamp} {record.levelname} {line}")

    def result(self) -> dict:
        """What travels to the cell runner: the lines (up to MAX_LINES) and every line counted."""
        return {"lines": self.lines, "counts": dict(self.counts), "dropped": max(0, sum(self.counts.values()) - len(self.lines))}


def quiet_logger() -> logging.Logger:
    """For the short-lived admin clients of the orchestrator: their lines would only repeat the
    one-line error eosbench prints itself."""
    logger = logging.getLogger("eosbench.client.quiet")
    logger.propagate = False
    logger.handlers = [logging.NullHandler()]
    return logger


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
