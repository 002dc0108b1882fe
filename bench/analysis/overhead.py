"""What a mode costs: throughput overhead against the matching baseline cell, with a 95% CI.

Repetitions of a mode and of its baseline that ran side by side (same repetition, interleaved)
are paired, and the interval is Student's t on the log of the paired throughput ratios: ratios,
because absolute throughput on a shared 2-core machine drifts; repetitions, never raw
per-message latencies, which are autocorrelated. One repetition gives no interval.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import pandas as pd
from scipy import stats

from bench import modes
from bench.analysis.summary import PARAM_COLUMNS, flags

COLUMNS = ["cell_id", "mode", "baseline_cell_id", "pairs", "throughput_msgs", "baseline_throughput_msgs",
           "overhead_pct", "ci_low_pct", "ci_high_pct", "e2e_p50_delta_ms", "e2e_p99_delta_ms",
           "e2e_p999_delta_ms", "significant", "flags"]
METHOD = "paired Student's t on log throughput ratios of same-repetition pairs, 95%"


def overhead(summary: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    rows = [_compare(cell_id, cell, base) for cell_id, cell, base in baseline_pairs(summary, baseline)]
    return pd.DataFrame(rows, columns=COLUMNS + PARAM_COLUMNS[1:]) if rows else pd.DataFrame(columns=COLUMNS)


def baseline_pairs(summary: pd.DataFrame, baseline: str | None) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Each non-baseline cell's rows with the rows of the baseline cell it is measured against:
    same parameters wherever the baseline mode gives them a meaning (and, in a multi-version run,
    the same broker)."""
    if baseline is None or summary.empty:
        return
    ok = summary[summary["status"] == "ok"]
    base_mode = modes.MODES[baseline]
    for cell_id, cell in ok[ok["mode"] != baseline].groupby("cell_id", sort=False):
        first = cell.iloc[0]
        keys = [k for k in PARAM_COLUMNS if k != "mode" and base_mode.applies(k, first["topology"])]
        keys += ["kafka_version"] if "kafka_version" in ok else []
        candidates = ok[ok["mode"] == baseline]
        for key in keys:
            candidates = candidates[_same(candidates[key], first[key])]
        if not candidates.empty:
            yield cell_id, cell, candidates


def paired_ratios(cell: pd.DataFrame, base: pd.DataFrame) -> pd.Series:
    """Throughput / baseline throughput per repetition: the two ran side by side, so the machine's
    drift, which moves both, cancels out of the ratio."""
    mine, theirs = cell.set_index("repetition"), base.set_index("repetition")
    common = mine.index.intersection(theirs.index)
    return (mine.loc[common, "throughput_msgs"] / theirs.loc[common, "throughput_msgs"]).astype(float)


def _same(column: pd.Series, value) -> pd.Series:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return column.isna()
    return column == value


def _compare(cell_id: str, cell: pd.DataFrame, base: pd.DataFrame) -> dict:
    ratios = paired_ratios(cell, base)
    low, high = ratio_interval(np.log(ratios.to_numpy()))
    t_mine, t_base = cell["throughput_msgs"].mean(), base["throughput_msgs"].mean()
    cv_mine = cell["throughput_msgs"].std(ddof=1) / t_mine if len(cell) > 1 else float("nan")
    cv_base = base["throughput_msgs"].std(ddof=1) / t_base if len(base) > 1 else float("nan")
    first = cell.iloc[0]
    row = {
        "cell_id": cell_id, "mode": first["mode"], "baseline_cell_id": base.iloc[0]["cell_id"],
        "pairs": len(ratios), "throughput_msgs": t_mine, "baseline_throughput_msgs": t_base,
        "overhead_pct": 100.0 * (1.0 - t_mine / t_base),
        "ci_low_pct": 100.0 * (1.0 - high) if not math.isnan(high) else float("nan"),
        "ci_high_pct": 100.0 * (1.0 - low) if not math.isnan(low) else float("nan"),
    }
    for pct in ("p50", "p99", "p999"):
        row[f"e2e_{pct}_delta_ms"] = cell[f"e2e_{pct}_ms"].mean() - base[f"e2e_{pct}_ms"].mean()
    row["significant"] = bool(row["ci_low_pct"] > 0 or row["ci_high_pct"] < 0)
    base_flags = flags(cv_base, *_limits(base))
    row["flags"] = "; ".join(filter(None, [flags(cv_mine, *_limits(cell)), base_flags and f"baseline {base_flags}"]))
    row.update({k: first[k] for k in PARAM_COLUMNS[1:]})
    return row


def _limits(rows: pd.DataFrame) -> tuple[bool, bool, float]:
    """Whether the generator, Kafka in open loop, or a broker quota set the pace in any repetition."""
    return (bool(rows["generator_bound"].any()), bool(rows.get("behind_schedule", pd.Series(dtype=bool)).any()),
            float(rows.get("throttled_share", pd.Series(dtype=float)).max() or 0.0))


def ratio_interval(log_ratios: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Interval of the geometric-mean ratio; NaN with fewer than two pairs."""
    n = len(log_ratios)
    if n < 2:
        return float("nan"), float("nan")
    mean, sem = float(np.mean(log_ratios)), float(np.std(log_ratios, ddof=1) / math.sqrt(n))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sem
    return math.exp(mean - half), math.exp(mean + half)
