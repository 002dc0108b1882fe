"""One setting against another, cell by cell: what changing it costs, with everything else equal.

The overhead table prices each mode against the baseline mode; some questions contrast another
setting: transaction.version 2 against 1 (bench.analysis.transaction_protocols), Avro through a
schema registry against raw bytes (bench.analysis.serialization), or a whole stack against another
(transactional + Avro against at_least_once + bytes). Cells that ran side by side in each
repetition are paired by repetition, and the throughput ratio (new / base) gets the paired interval
the calibration uses: geometric mean, Student's t on the log ratios.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import pandas as pd

from bench import modes, parameters
from bench.analysis.stats import one_sample


def pairs(summary: pd.DataFrame, base: dict, new: dict) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(base cell's rows, new cell's rows, indexed by repetition) for each new cell that has a base
    cell: the settings of `base` and `new` on either side, every other parameter equal wherever
    the base cell's mode gives it a meaning (and the same Kafka version)."""
    if summary.empty or any(k not in summary for k in (*base, *new)):
        return
    ok = summary[summary["status"] == "ok"]
    sides = [ok[np.logical_and.reduce([_same(ok[k], v) for k, v in side.items()])] for side in (base, new)]
    for _, cell in sides[1].groupby("cell_id", sort=False):
        first = cell.iloc[0]
        candidates = sides[0]
        for key in _compared(base, new, first):
            candidates = candidates[_same(candidates[key], first[key])]
        if not candidates.empty:
            yield candidates.set_index("repetition"), cell.set_index("repetition")


def ratio(base: pd.DataFrame, new: pd.DataFrame, column: str = "throughput_msgs") -> tuple[float, float, float, int]:
    """new / base of `column` paired by repetition: (geometric mean, 95% low, high, pairs)."""
    reps = base.index.intersection(new.index)
    values = new.loc[reps, column].to_numpy(float) / base.loc[reps, column].to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return math.nan, math.nan, math.nan, 0
    estimate = one_sample(np.log(values))
    return math.exp(estimate.mean), math.exp(estimate.low), math.exp(estimate.high), len(values)


def _compared(base: dict, new: dict, first: pd.Series) -> list[str]:
    mode = modes.MODES[base.get("mode", first["mode"])]
    keys = [p.name for p in parameters.PARAMETERS
            if p.name not in base and p.name not in new and p.name in first and parameters.shapes(p.name, mode, first["topology"])]
    return keys + (["kafka_version"] if "kafka_version" in first else [])


def _same(column: pd.Series, value) -> pd.Series:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return column.isna()
    return column == value
