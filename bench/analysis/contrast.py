"""One setting against another, cell by cell: what changing it costs, with everything else equal.

The overhead table prices each mode against the baseline mode; some questions contrast another
setting. Each is a `Contrast`, declared once in CONTRASTS: transaction.version 2 against 1
(bench.analysis.transaction_protocols), Avro through a schema registry against raw bytes
(bench.analysis.serialization, which adds the whole stack: a mode with Avro against the baseline
mode with bytes), Trogdor's roles against local ones (bench.analysis.launchers), Kafka's Java
clients against librdkafka, and a Streams application's count per key (its state store and
changelog) against its stateless twin. Cells that ran side by side in each repetition are paired by
repetition, and the throughput ratio (new / base) gets the paired interval the calibration uses:
geometric mean, Student's t on the log ratios. A contrast without a section of its own is shown
by `eosbench run` and the report's "One setting against another".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from bench import modes, parameters
from bench.analysis.stats import one_sample


COLUMNS = ["contrast", "mode", "driver", "transaction_size", "base_cell", "cell", "base_msgs", "msgs", "ratio", "low", "high",
           "pairs", "base_producer_cpu_us", "producer_cpu_us", "base_consumer_cpu_us", "consumer_cpu_us",
           "base_e2e_p99_ms", "e2e_p99_ms"]
_SIDES = {"producer_cpu_us": "producer_cpu_us_per_record", "consumer_cpu_us": "consumer_cpu_us_per_record", "e2e_p99_ms": "e2e_p99_ms"}


@dataclass(frozen=True)
class Contrast:
    """Cells with the `base` settings against their twins with the `new` ones (bench.analysis.contrast.pairs)."""

    name: str                 # as a table's row names it: "<new> vs <base>"
    base: dict
    new: dict
    own_section: bool = False  # shown by a report section and terminal table of its own, not the generic ones

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """One row per pair of cells: the throughput ratio new / base with its 95% interval, the
        pairs it rests on, and each side's client CPU per record and end-to-end p99 (mean of repetitions)."""
        rows = []
        for base, new in pairs(summary, self.base, self.new):
            first = new.iloc[0]
            rows.append([self.name, first["mode"], first.get("driver"), first.get("transaction_size"), base["cell_id"].iloc[0],
                         first["cell_id"], base["throughput_msgs"].mean(), new["throughput_msgs"].mean(), *ratio(base, new),
                         *(side[column].mean() if column in side else math.nan for column in _SIDES.values() for side in (base, new))])
        return pd.DataFrame(rows, columns=COLUMNS)


CONTRASTS = {c.name: c for c in (
    Contrast("transaction.version 2 vs 1", {"transaction_version": 1}, {"transaction_version": 2}, own_section=True),
    Contrast("avro vs bytes", {"serialization": "bytes"}, {"serialization": "avro"}, own_section=True),
    Contrast("trogdor vs local", {"launcher": "local"}, {"launcher": "trogdor"}, own_section=True),
    Contrast("java vs librdkafka", {"driver": "librdkafka"}, {"driver": "java"}),
    Contrast("stateful vs stateless", {"state": "stateless"}, {"state": "stateful"}),
)}


def generic(summary: pd.DataFrame) -> pd.DataFrame:
    """Every declared contrast without a section of its own, for the run's cells (rows of COLUMNS)."""
    tables = [c.table(summary) for c in CONTRASTS.values() if not c.own_section]
    tables = [t for t in tables if not t.empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


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
