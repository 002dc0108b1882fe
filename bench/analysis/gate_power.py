"""The gate's power and false-alarm rate on real runs that took turns, by resampling their rounds.

A run of bench/profiles/gate.yaml has one alternating group: in each round every mode takes one
turn (bench.cell.turns). A resample of the run keeps its rounds whole, every mode's turn of a round
together, so each turn stays paired with its baseline's; and it draws them in moving blocks, so
neighbouring rounds, which share the machine's slow swings, stay neighbours and the autocorrelation
the gate's series estimate allows for (stats.series_mean) is in the resample too.

A resample is another run with the run drift of the run it came from (the broker start, the page
cache, the machine that day): the run-to-run drift enters only through two different real runs.
So an A/A trial always pairs resamples of two different runs, and the rate it gives holds for the
drift those runs showed, not for a drift they did not.

A planted regression scales one cell's turns by a known amount (`Plant`), in the NEW side of a
trial: the noise is the runs' own, the effect is exactly the planted one. Real planted runs (a
broker quota, a client setting) check that a real change looks like a planted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from bench.analysis.columns import turn_series
from bench.analysis.compare import Comparison, compare
from bench.analysis.overhead import baseline_pairs, turn_pairs
from bench.analysis.stats import series_mean

TURN_COLUMNS = ("turn_throughputs_msgs", "turn_broker_cpu_us")


@dataclass(frozen=True)
class Plant:
    """A regression planted into one cell of NEW: `figure` is the compare figure it moves."""

    name: str
    figure: str  # the name of a compare figure (bench.analysis.columns.COMPARED)
    column: str
    factor: Callable[[pd.DataFrame, str], float]  # (the run, the cell) -> what its turns are multiplied by


def _cost_points(points: float) -> Callable[[pd.DataFrame, str], float]:
    """The throughput factor that raises the cell's EOS cost c (its own, in that run) by `points`:
    (1 - (c + points)/100) / (1 - c/100)."""
    def factor(run: pd.DataFrame, cell: str) -> float:
        ratio = math.exp(eos_cost_centre(run, cell))
        return max(ratio - points / 100, 1e-3) / ratio
    return factor


PLANTS = (Plant("EOS cost +10 points", "cost", "turn_throughputs_msgs", _cost_points(10)),)


def eos_cost_centre(run: pd.DataFrame, cell: str, baseline: str = "at_least_once") -> float:
    """The centre of a cell's paired log throughput ratios to its baseline (the gate's EOS-cost figure)."""
    for cell_id, rows, base in baseline_pairs(run, baseline):
        if cell_id == cell:
            blocks = turn_pairs(rows, base)
            if blocks:
                return series_mean(blocks).mean
    raise ValueError(f"{cell} did not take turns with {baseline}")


def rounds(run: pd.DataFrame) -> int:
    """The rounds every cell of the run's one group has a turn in."""
    lengths = [len(turn_series(text)) for column in TURN_COLUMNS if column in run for text in run[column]]
    if "turns_group" not in run or run["turns_group"].nunique() != 1 or not lengths or min(lengths) < 2:
        raise ValueError("a run of one alternating group (bench/profiles/gate.yaml) is needed")
    return min(lengths)


def block_length(n: int) -> int:
    """Moving blocks of about n^(1/3) rounds (the usual rate for a variance), at least 2."""
    return max(2, round(n ** (1 / 3)))


def resample(run: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The run with its rounds drawn again in moving blocks (every cell's turns with the same rounds)."""
    n = rounds(run)
    block = block_length(n)
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    index = np.concatenate([np.arange(s, s + block) for s in starts])[:n]
    out = run.copy()
    for column in TURN_COLUMNS:
        if column in out:
            out[column] = [_picked(text, index) for text in out[column]]
    return out


def _picked(text, index: np.ndarray):
    values = turn_series(text)
    return " ".join(f"{v:.6g}" for v in np.asarray(values)[index])


def first_rounds(run: pd.DataFrame, n: int) -> pd.DataFrame:
    """The run as if its window had held only its first `n` rounds: what a shorter duration_s of
    the same profile would have measured, from the same broker start."""
    out = run.copy()
    for column in TURN_COLUMNS:
        if column in out:
            out[column] = [" ".join(text.split()[:n]) if isinstance(text, str) else text for text in out[column]]
    return out


def planted(run: pd.DataFrame, plant: Plant, cell: str) -> pd.DataFrame:
    """The run with `cell`'s turns of `plant.column` multiplied by the plant's factor."""
    factor = plant.factor(run, cell)
    out = run.copy()
    at = out.index[out["cell_id"] == cell]
    out.loc[at, plant.column] = [" ".join(f"{v * factor:.6g}" for v in turn_series(text)) for text in out.loc[at, plant.column]]
    return out


def flagged(comparison: Comparison, cell: str, figure: str) -> bool:
    """Whether the gate called `figure` of `cell` a regression."""
    return any(c.cell_id == cell and (ch := c.changes().get(figure)) is not None and ch.verdict == "regression"
               for c in comparison.cells)


def gate(base: pd.DataFrame, new: pd.DataFrame, baseline: str = "at_least_once") -> Comparison:
    return compare(base, new, baseline=baseline)


@dataclass(frozen=True)
class Rate:
    hits: int
    trials: int

    @property
    def share(self) -> float:
        return self.hits / self.trials if self.trials else math.nan

    def interval(self) -> tuple[float, float]:
        """Wilson's 95% interval of the share."""
        n, p, z = self.trials, self.share, 1.96
        if not n:
            return math.nan, math.nan
        centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def false_alarms(runs: list[pd.DataFrame], trials: int, seed: int = 1) -> Rate:
    """Share of A/A trials (resamples of two different real runs) on which the gate fails."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        a, b = rng.choice(len(runs), size=2, replace=False)
        hits += gate(resample(runs[a], rng), resample(runs[b], rng)).failed
    return Rate(hits, trials)


def power(runs: list[pd.DataFrame], plant: Plant, cell: str, trials: int, seed: int = 2) -> Rate:
    """Share of trials (resamples of two different real runs, `plant` planted into NEW's `cell`) on
    which the gate calls the planted figure of that cell a regression."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        a, b = rng.choice(len(runs), size=2, replace=False)
        hits += flagged(gate(resample(runs[a], rng), planted(resample(runs[b], rng), plant, cell)), cell, plant.figure)
    return Rate(hits, trials)
