"""A capacity table: what a target load would cost the cluster in each mode, from a run's measured
per-record costs (`eosbench capacity RUN --rate R`, and the report's section).

Per cell and repetition the target rate is multiplied by that repetition's costs: broker cores =
rate x broker CPU per record; disk MB/s = rate x log bytes per record over every replica
(the cell's topics, plus `__transaction_state` and `__consumer_offsets` at the same replication);
requests/s by type = rate x requests per record. The figure is the mean over repetitions with a
95% Student's t interval; "extra cores" is what a mode needs beyond the run's baseline mode,
paired per repetition like every overhead (the two ran side by side). Costs per record are
measured at the cell's own rate: a target above the highest rate a cell delivered is an
extrapolation, and the table says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bench.analysis.columns import request_column, with_parameter_columns
from bench.analysis.overhead import baseline_pairs
from bench.errors import BadInput
from bench.metrics import REQUEST_TYPES

REQUIRED = "broker_cpu_us_per_record"
METHOD = ("per repetition: rate x the cost per record measured in it; mean over repetitions with a 95% Student's t "
          "interval; extra cores paired per repetition with the baseline mode, which ran side by side")


@dataclass(frozen=True)
class Figure:
    """A mean over repetitions and its 95% interval (NaN without at least two repetitions)."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: pd.Series | np.ndarray) -> "Figure":
        values = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), dtype=float)
        if len(values) == 0:
            return cls(math.nan, math.nan, math.nan)
        mean = float(values.mean())
        if len(values) < 2:
            return cls(mean, math.nan, math.nan)
        half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
        return cls(mean, mean - half, mean + half)

    def text(self, digits: int = 2) -> str:
        if math.isnan(self.mean):
            return "-"
        interval = f" [{self.low:,.{digits}f}, {self.high:,.{digits}f}]" if not math.isnan(self.low) else ""
        return f"{self.mean:,.{digits}f}{interval}"


@dataclass(frozen=True)
class Row:
    cell_id: str
    mode: str
    params: dict
    repetitions: int
    broker_cores: Figure
    extra_cores: Figure | None      # beyond the baseline mode's, paired per repetition; None: the baseline itself
    disk_mb_s: Figure
    requests_per_s: dict[str, Figure]
    measured_up_to: float           # the highest throughput the cell delivered
    note: str


def plan(summary: pd.DataFrame, rate: float, baseline: str | None, message_size: int | None = None,
         replication: int | None = None) -> list[Row]:
    """One row per measured cell (of `message_size`, when given). Raises BadInput when the run has
    no broker cost figures or no cell of that size."""
    if rate <= 0:
        raise BadInput(f"--rate must be a positive number of records per second, not {rate:g}")
    ok = with_parameter_columns(summary[summary["status"] == "ok"]) if not summary.empty else summary
    if ok.empty or REQUIRED not in ok or ok[REQUIRED].isna().all():
        raise BadInput("this run has no broker resource figures (broker CPU, log bytes, requests): run it again with "
                       "an eosbench that measures them (the embedded broker, or --jmx for your own cluster)")
    if message_size is not None:
        sizes = sorted({int(v) for v in ok["message_size"].dropna()})
        ok = ok[ok["message_size"] == message_size]
        if ok.empty:
            raise BadInput(f"no cell of this run has message_size {message_size}: it measured {', '.join(map(str, sizes))}")
    extra = {cell_id: _paired_extra(cell, base, rate) for cell_id, cell, base in baseline_pairs(ok, baseline)}
    rows = []
    for cell_id, cell in ok.groupby("cell_id", sort=False):
        first = cell.iloc[0]
        cores = rate * pd.to_numeric(cell[REQUIRED], errors="coerce") / 1e6
        measured = float(cell["throughput_msgs"].max())
        notes = [] if rate <= measured else [f"extrapolated: measured up to {measured:,.0f} msg/s"]
        if cell[REQUIRED].isna().any():
            notes.append(f"broker CPU not measured in {int(cell[REQUIRED].isna().sum())} repetition(s)")
        rows.append(Row(cell_id, first["mode"], {k: first[k] for k in ("partitions", "message_size", "transaction_size",
                                                                        "transaction_ms") if k in first},
                        len(cell), Figure.of(cores), extra.get(cell_id) if first["mode"] != baseline else None,
                        Figure.of(_disk_mb_s(cell, rate)),
                        {kind: Figure.of(rate * cell[column] / 1000) for kind in REQUEST_TYPES
                         if (column := request_column(kind)) in cell and (cell[column].fillna(0) > 0).any()},
                        measured, "; ".join(notes)))
    return rows


def _disk_mb_s(cell: pd.DataFrame, rate: float) -> pd.Series:
    """Bytes a second on the brokers' disks: every replica of the cell's topics, and the internal
    topics' growth at the same replication."""
    one = pd.to_numeric(cell["log_bytes_per_record"], errors="coerce")
    every = pd.to_numeric(cell.get("log_replicated_bytes_per_record", one), errors="coerce")
    internal = pd.to_numeric(cell.get("internal_log_bytes_per_record", 0.0), errors="coerce").fillna(0.0)
    return rate * (every + internal * every / one) / 1e6


def _paired_extra(cell: pd.DataFrame, base: pd.DataFrame, rate: float) -> Figure:
    mine, theirs = cell.set_index("repetition")[REQUIRED], base.set_index("repetition")[REQUIRED]
    common = mine.index.intersection(theirs.index)
    return Figure.of(rate * (pd.to_numeric(mine.loc[common]) - pd.to_numeric(theirs.loc[common])) / 1e6)


def table(rows: list[Row], baseline: str | None) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for a terminal, Markdown or HTML table."""
    kinds = [k for k in REQUEST_TYPES if any(k in r.requests_per_s for r in rows)]
    headers = ["cell", "mode", "reps", "broker cores [95% CI]", f"extra cores vs {baseline}" if baseline else "extra cores",
               "disk MB/s [95% CI]", *(f"{k}/s" for k in kinds), "note"]
    out = []
    for r in rows:
        out.append([r.cell_id, r.mode, str(r.repetitions), r.broker_cores.text(2),
                    "baseline" if r.extra_cores is None and r.mode == baseline else (r.extra_cores.text(2) if r.extra_cores else "-"),
                    r.disk_mb_s.text(1), *(r.requests_per_s[k].text(0) if k in r.requests_per_s else "-" for k in kinds), r.note])
    return headers, out
