"""The processes of a cell: producers, processor, verifying consumer, lag sampler.

Each role runs in its own process and speaks `bench.roles.protocol` with the cell runner over a
channel its launcher provides (`bench.roles.launcher`): `send(kind, payload)`, `poll(timeout)`,
`recv()`. This module holds what every role shares: the entry point, the wait for GO, the client
log.
"""

from __future__ import annotations

import importlib
import logging
import signal
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol

from bench.client_properties import REDACTED, is_secret
from bench.roles.protocol import ClientLogResult, Kind, RoleError, Timeline



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

    def result(self) -> ClientLogResult:
        """What travels to the cell runner: the lines (up to MAX_LINES) and every line counted."""
        return ClientLogResult(self.lines, dict(self.counts), max(0, sum(self.counts.values()) - len(self.lines)))


def quiet_logger() -> logging.Logger:
    """For the short-lived admin clients of the orchestrator: their lines would only repeat the
    one-line error eosbench prints itself."""
    logger = logging.getLogger("eosbench.client.quiet")
    logger.propagate = False
    logger.handlers = [logging.NullHandler()]
    return logger


class RoleFailed(Exception):
    """A role could not go on; the message says why, for the cell's status."""


class Channel(Protocol):
    """A role's end of its conversation with the cell runner (see bench.roles.launcher)."""

    def send(self, kind: Kind, payload: Any = None) -> None: ...
    def poll(self, timeout_s: float = 0) -> bool: ...
    def recv(self) -> tuple[Kind, Any]: ...
    def close(self) -> None: ...


def entry(module: str, spec: Any, channel: Channel) -> None:
    """Process entry point: run the role (`module.run(spec, channel)`) and always answer with a
    RESULT or an ERROR.

    Ctrl-C reaches the whole process group; the cell runner decides what happens to roles, so
    they ignore it rather than die half-way with a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with client_errors_unmasked():
            channel.send(Kind.RESULT, importlib.import_module(module).run(spec, channel))
    except RoleFailed as exc:
        channel.send(Kind.ERROR, RoleError(str(exc)))
    except Exception as exc:  # a bug or a client failure: report it, keep the stack for the cell's directory
        channel.send(Kind.ERROR, RoleError(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        channel.close()


def wait_for_go(channel: Channel) -> Timeline:
    channel.send(Kind.READY)
    kind, timeline = channel.recv()
    if kind is not Kind.GO:
        raise RoleFailed(f"expected 'go', got {kind.value!r}")
    return timeline


@contextmanager
def client_errors_unmasked() -> Iterator[None]:
    """Raise the client's own error where confluent-kafka masks it with a SystemError.

    confluent-kafka (2.16) sets a fatal error (a producer fenced by a newer instance with its
    transactional.id, reported in a produce response) as a pending KafkaException and goes on
    serving the callbacks of the same poll; the next one that runs Python code (a delivery
    report, a log line) fails with "SystemError: ... returned a result with an exception set",
    whose cause is that KafkaException. Callers handle KafkaException (a fence is expected of a
    zombie), so they get it back. `tests/test_transactions_on_real_broker.py` reproduces it.
    """
    from confluent_kafka import KafkaException

    try:
        yield
    except SystemError as exc:
        if isinstance(exc.__cause__, KafkaException):
            raise exc.__cause__ from None
        raise


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
