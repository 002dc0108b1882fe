"""Whether a role's own threads set its pace: how much of the window each thread wanted a CPU.

A closed-loop producer that Kafka holds back sleeps (librdkafka's queue is full, or a commit is
in flight); one that Kafka never holds back never sleeps. The kernel keeps, per thread
(`/proc/self/task/<tid>/schedstat`), the time it ran on a CPU and the time it was runnable but
waited for one (run-queue delay); their sum over the window is how much of it the thread wanted a
CPU. A thread that wanted one all the time was the limit: had Kafka been slower, it would have
slept. Process CPU cannot say this: a librdkafka client's broker threads beside Python's pass one
core without any of them being the limit, and on a shared machine a thread that never slept may
have had only part of a core (measured on the 2-core machine, kip98 setups at 1 KB: the producer
process at 1.0-1.08 cores while its Python thread wanted a CPU 79-91% of the window).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TASKS = "/proc/self/task"


@dataclass(frozen=True)
class ThreadDemand:
    """One thread over a window, as shares of the window's wall time."""

    name: str
    on_cpu: float
    waiting: float  # runnable, waiting for a CPU

    @property
    def demand(self) -> float:
        return self.on_cpu + self.waiting


Snapshot = dict[str, tuple[str, int, int]]  # tid -> (name, ns on a CPU, ns waiting for one)


def snapshot() -> Snapshot:
    """Every thread of this process now; empty where the kernel keeps no schedstat (then the
    callers fall back on process CPU)."""
    out: Snapshot = {}
    try:
        tids = os.listdir(_TASKS)
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"{_TASKS}/{tid}/schedstat") as stat, open(f"{_TASKS}/{tid}/comm") as comm:
                on_cpu, waiting, _ = stat.read().split()
                out[tid] = (comm.read().strip(), int(on_cpu), int(waiting))
        except (OSError, ValueError):
            continue  # a thread that ended in between
    return out


def busiest(before: Snapshot, after: Snapshot, seconds: float) -> ThreadDemand | None:
    """The thread that wanted a CPU most between the two snapshots (None when none was kept)."""
    if not after or seconds <= 0:
        return None
    shares = []
    for tid, (name, on_cpu, waiting) in after.items():
        _, on_cpu_0, waiting_0 = before.get(tid, (name, 0, 0))
        shares.append(ThreadDemand(name, round((on_cpu - on_cpu_0) / 1e9 / seconds, 3), round((waiting - waiting_0) / 1e9 / seconds, 3)))
    return max(shares, key=lambda t: t.demand)
