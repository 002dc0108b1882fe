"""What each turn of an alternating group cost the brokers: their process CPU, read at every edge.

The modes of a group share one window (bench.cell.turns), so the brokers' counters over the whole
window mix them. Read at every slot's start instead, the brokers' CPU between the start of one turn
and the start of the next is the turn's: its records, their acknowledgements and its commit (the
tail falls in the gap that follows the slot), and the readers' fetches of them, which keep up within
milliseconds. A turn's broker CPU over its records is then a per-record cost paired with the
baseline's turn of the same round, like throughput. /proc reads one node in microseconds and
counts in clock ticks (10 ms), a few percent of a turn's CPU, which averages out over the rounds.
"""

from __future__ import annotations

import threading
import time

from bench.cell.resources import ResourceProbe
from bench.cell.turns import GAP_S, Turns
from bench.roles.protocol import Timeline


class TurnCpu:
    """Reads the brokers' CPU at each measured slot's start and at the window's end, in a thread."""

    def __init__(self, turns: Turns, probe: ResourceProbe | None):
        self.turns, self.probe = turns, probe
        measured = [slot for cell in range(turns.cells) for slot in turns.slots(cell)[turns.warmup_rounds:]]
        self.edges_s = sorted({start for start, _ in measured} | {max(end for _, end in measured) + GAP_S})
        self.readings: dict[float, dict[str, tuple[int, float]]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def measured(self) -> bool:
        return bool(self.probe is not None and self.probe.pids)

    def start(self, timeline: Timeline) -> None:
        if not self.measured:
            return
        self._thread = threading.Thread(target=self._read, args=(timeline,), daemon=True, name="turn-cpu")
        self._thread.start()

    def _read(self, timeline: Timeline) -> None:
        for edge in self.edges_s:
            due = timeline.start_ns + int(edge * 1e9)
            while (wait := due - time.monotonic_ns()) > 0:
                if self._stop.wait(min(wait / 1e9, 0.05)):
                    return
            self.readings[edge] = self.probe.process_cpu_s()

    def stop(self) -> None:
        self._stop.set()

    def per_turn(self, cell: int, timeout_s: float = 10.0) -> list[float | None] | None:
        """The brokers' CPU seconds of each of `cell`'s measured turns (from its slot's start to the
        next slot's start); None in a turn where a node restarted or was down; None when not measured."""
        if not self.measured:
            return None
        if self._thread is not None:
            self._thread.join(timeout_s)
        out: list[float | None] = []
        for start, _ in self.turns.slots(cell)[self.turns.warmup_rounds:]:
            following = self.edges_s[self.edges_s.index(start) + 1]
            a, b = self.readings.get(start), self.readings.get(following)
            if not a or not b or a.keys() != b.keys() or any(a[n][0] != b[n][0] for n in a):
                out.append(None)
            else:
                out.append(round(sum(b[n][1] - a[n][1] for n in a), 3))
        return out
