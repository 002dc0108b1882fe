"""The site: what a run stands up, as services of one shape, stopped together whatever happens.

A broker cluster, its resource probe, eosbench's Java module, the schema registry and Trogdor each
offer the same four steps:

- `check()`: everything that can be wrong with it, before the run writes anything, so a bad
  request ends with one line and nothing half-made;
- `start(home, note)`: bring it up, its logs under `home`;
- `describe()`: what the manifest records about it (never a secret);
- `stop()`: take it down; called even after a start that failed halfway, so it stops whatever
  that start left running.

A `Site` starts services on one `contextlib.ExitStack`: a failure anywhere (a start, a cell,
Ctrl-C) stops everything started, newest first, and leaves their logs in the run's state directory.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterable, Protocol, TypeVar

Note = Callable[[str], None]


class Service(Protocol):
    name: str  # what it is, in the manifest and in messages

    def check(self) -> None: ...

    def start(self, home: Path, note: Note) -> None: ...

    def describe(self) -> dict: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Service)


def check(services: Iterable[Service]) -> None:
    """Every service's check, in order: the first problem is the one reported."""
    for service in services:
        service.check()


class Site:
    """Services started in order and stopped in reverse, all of them, however the run ends."""

    def __init__(self, home: Path, note: Note = lambda _: None, stack: contextlib.ExitStack | None = None):
        self.home, self.note = home, note
        self._stack = stack or contextlib.ExitStack()
        self.started: list[Service] = []

    def __enter__(self) -> Site:
        self._stack.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        return self._stack.__exit__(*exc)

    def start(self, service: S) -> S:
        """Start `service`; its stop is registered first, so a start that fails halfway is undone too."""
        self._stack.callback(service.stop)
        service.start(self.home, self.note)
        self.started.append(service)
        return service

    def part(self) -> Site:
        """A site within this one (a broker block of a multi-version run): its services stop when it
        closes, or with this site if it never does."""
        inner = contextlib.ExitStack()
        self._stack.push(inner.__exit__)
        return Site(self.home, self.note, inner)
