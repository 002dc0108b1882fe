"""Where processes run: the embedded broker and the client roles on disjoint CPUs.

On a machine where the broker, the load generator and the verifying consumer share a few cores,
whoever wins the race for a CPU moves the figures. `--cpus BROKER:CLIENTS` (e.g. `0:1`, `0-1:2-3`)
gives each side its own CPUs (Linux `sched_setaffinity`): the broker's JVM is started on its set,
and the run's own process moves to the clients' set before any role starts, so every role (a
child process) inherits it. The placement is recorded in the manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.errors import BadInput


@dataclass(frozen=True)
class Placement:
    broker: tuple[int, ...]   # empty: not pinned (an external cluster)
    clients: tuple[int, ...]

    def record(self) -> dict:
        return {"broker_cpus": list(self.broker) or None, "client_cpus": list(self.clients),
                "available_cpus": sorted(os.sched_getaffinity(0))}


def parse(text: str, embedded: bool) -> Placement:
    """`BROKER:CLIENTS`, each a CPU list (`0`, `0-1`, `0,2`); BROKER empty with an external cluster."""
    if text.count(":") != 1:
        raise BadInput(f"--cpus takes BROKER:CLIENTS, two CPU lists such as 0:1 or 0-1:2-3, not '{text}'")
    broker_text, clients_text = text.split(":")
    broker, clients = _cpus(broker_text, text), _cpus(clients_text, text)
    available = os.sched_getaffinity(0)
    if not clients:
        raise BadInput(f"--cpus '{text}': name the clients' CPUs after the colon")
    if embedded and not broker:
        raise BadInput(f"--cpus '{text}': name the embedded broker's CPUs before the colon")
    if broker and not embedded:
        raise BadInput(f"--cpus '{text}': eosbench cannot place a broker it did not start; give ':{clients_text}'")
    unknown = sorted((set(broker) | set(clients)) - available)
    if unknown:
        raise BadInput(f"--cpus '{text}': CPU {unknown[0]} is not available to this process (available: "
                       f"{','.join(map(str, sorted(available)))})")
    if set(broker) & set(clients):
        raise BadInput(f"--cpus '{text}': the broker's and the clients' CPUs must not overlap")
    return Placement(broker, clients)


def _cpus(text: str, whole: str) -> tuple[int, ...]:
    cpus: set[int] = set()
    try:
        for part in filter(None, text.split(",")):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise BadInput(f"--cpus '{whole}': '{text}' is not a CPU list such as 0, 0-1 or 0,2") from None
    return tuple(sorted(cpus))


def pin_this_process(cpus: tuple[int, ...]) -> set[int]:
    """Move this process (and so every child it starts from now on) to `cpus`; returns the set it had."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    return before
