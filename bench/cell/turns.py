"""Order `alternating`: the modes of one parameter point take turns inside one measured window.

Why: on a shared 2-core machine a closed-loop figure drifts and swings from second to second
(acknowledged records per second vary 10-20% inside one window; the broker's CPU per record was
still falling after 150 s of warm-up), so a mode measured in its own cell, a cell after its
baseline, carries that drift into the ratio, and with three repetitions Student's t multiplies
the spread by 4.3 (6.2 when two overheads share the 95%). Taking turns in short slots, with
every mode's roles alive for the whole window, puts a mode's slot and its baseline's slot of the
same round seconds apart (drift cancels from their ratio), spends no time on topic set-up,
process start-up or drain between them, and gives one paired ratio per round instead of one per
repetition (bench.analysis.overhead pairs the rounds).

The order of the modes is shuffled in every round (seeded, recorded): a mode's slot follows the
tail of whichever slot came before it (a reader catching up), and a fixed order would hand that to
the same mode every time. A turn ends when what it sent is acknowledged (committed): that tail
counts in its own turn's length (bench.cell.derive.turn_lengths), and the gap between slots holds it.

Why short slots: the machine's swings are slow (Kafka's own ProducerPerformance, alone on the
broker, reported 46,000 to 93,000 msg/s in successive 5-second windows), so the closer a mode's
turn is to its baseline's, the more of a swing cancels from their ratio. Measured in one profile
(quick, 32 s of window, 2 repetitions): 2-second slots gave 32 paired turns with a log-ratio sd of
0.249, +-4.9 points on the transactional overhead; 0.5-second slots gave 128 with 0.364, +-3.1.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

GAP_S = 0.1  # between two slots: holds the tail of a turn (its last acknowledgements, its commit: p99 under 0.1 s here)


@dataclass(frozen=True)
class Turns:
    """The slots of `cells` cells taking turns: warm-up rounds, then measured rounds."""

    slot_s: float
    cells: int
    warmup_rounds: int
    rounds: int
    seed: int

    @classmethod
    def of(cls, slot_s: float, cells: int, warmup_s: float, duration_s: float, seed: int) -> "Turns":
        """Each cell sends at least `warmup_s` before the window and about `duration_s` in it (whole slots)."""
        return cls(slot_s, cells, math.ceil(warmup_s / slot_s - 1e-9) if warmup_s > 0 else 0,
                   max(1, round(duration_s / slot_s)), seed)

    @property
    def round_s(self) -> float:
        return self.cells * (self.slot_s + GAP_S)

    @property
    def warmup_s(self) -> float:
        """From the timeline's start to the measured window: the warm-up rounds."""
        return self.warmup_rounds * self.round_s

    @property
    def window_s(self) -> float:
        """The measured window: every measured round of every cell."""
        return self.rounds * self.round_s

    def orders(self) -> list[list[int]]:
        """Every round's order of the cells (warm-up rounds first), shuffled with the seed."""
        rng = random.Random(self.seed)
        out = []
        for _ in range(self.warmup_rounds + self.rounds):
            order = list(range(self.cells))
            rng.shuffle(order)
            out.append(order)
        return out

    def slots(self, cell: int) -> tuple[tuple[float, float], ...]:
        """Cell `cell`'s slots, (start, end) in seconds from the timeline's start, one per round."""
        step = self.slot_s + GAP_S
        return tuple((round(r * self.round_s + order.index(cell) * step, 6), round(r * self.round_s + order.index(cell) * step + self.slot_s, 6))
                     for r, order in enumerate(self.orders()))

    def record(self, cell: int) -> dict:
        """What metrics.json keeps of the turns, for one cell of them."""
        return {"slot_s": self.slot_s, "gap_s": GAP_S, "cells": self.cells, "warmup_rounds": self.warmup_rounds,
                "rounds": self.rounds, "seed": self.seed, "position": [order.index(cell) for order in self.orders()[self.warmup_rounds:]]}


class TurnRates:
    """What each finished turn of a group sent per second, from the running count of records its
    producers sent (as each cell's thread reports it, a few times a second): what the progress line
    shows while a group takes turns. A cell sends only in its own slots, so its count is flat
    outside them and the difference across a slot, read outside it, is that turn's."""

    def __init__(self, turns: Turns):
        self.turns = turns
        self._slots = [turns.slots(cell) for cell in range(turns.cells)]
        self._times: list[list[float]] = [[] for _ in range(turns.cells)]
        self._sent: list[list[int]] = [[] for _ in range(turns.cells)]

    def add(self, cell: int, elapsed_s: float, sent: int) -> None:
        self._times[cell].append(elapsed_s)
        self._sent[cell].append(sent)

    @property
    def total(self) -> int:
        return self.turns.cells * (self.turns.warmup_rounds + self.turns.rounds)

    def done(self, now_s: float) -> int:
        """Turns whose slot has ended."""
        return sum(end <= now_s for slots in self._slots for _, end in slots)

    def now(self, now_s: float) -> int | None:
        """The cell whose slot holds `now_s` (None between slots)."""
        for cell, slots in enumerate(self._slots):
            if any(start <= now_s < end for start, end in slots):
                return cell
        return None

    def last(self, n: int) -> list[tuple[int, float]]:
        """The last `n` turns read on both sides, oldest first: (cell, msg/s)."""
        read: list[tuple[float, int, float]] = []
        for cell, slots in enumerate(self._slots):
            times, sent = self._times[cell], self._sent[cell]
            for start, end in reversed(slots):
                before, after = bisect.bisect_right(times, start) - 1, bisect.bisect_left(times, end + GAP_S)
                if before < 0:
                    break
                if after < len(times):
                    read.append((end, cell, (sent[after] - sent[before]) / self.turns.slot_s))
                    if len([r for r in read if r[1] == cell]) >= n:
                        break
        return [(cell, rate) for _, cell, rate in sorted(read)[-n:]]
