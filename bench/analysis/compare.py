"""Did EOS get more expensive? Two runs compared cell by cell, noise told apart from change.

Cells are matched by their parameters. For each, throughput and end-to-end p99 are compared with
Welch's t-test on the logarithms of the per-repetition values (scipy), whose confidence interval,
exponentiated, is the interval of the ratio new / base. Like asv, a change counts only when it
is significant AND larger than the chosen minimum; insignificant changes are shown as `~`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from bench.analysis.summary import PARAM_COLUMNS

ALPHA = 0.05
METHOD = "Welch's t-test on log per-repetition values (scipy.stats.ttest_ind, equal_var=False), 95% interval"
# What must match for two runs to be comparable, and what a comparison is usually about.
_HOST_KEYS = ("cpu_model", "cores", "memory_gb", "os")
_VERSION_KEYS = (("broker", ("broker", "version")), ("librdkafka", ("environment", "librdkafka")),
                 ("confluent-kafka", ("environment", "confluent_kafka")), ("python", ("environment", "python")),
                 ("eosbench", ("environment", "eosbench", "git_commit")))


@dataclass(frozen=True)
class Change:
    """One metric of one matched cell."""

    base: float
    new: float
    change_pct: float          # 100 x (new / base - 1)
    ci_low_pct: float
    ci_high_pct: float
    p_value: float
    verdict: str               # regression | improvement | ~ (not significant) | within (significant, below the minimum) | ? (too few repetitions)


@dataclass(frozen=True)
class CellComparison:
    cell_id: str
    params: dict
    throughput: Change
    e2e_p99: Change | None


@dataclass
class Comparison:
    base_label: str
    new_label: str
    max_regression_pct: float
    cells: list[CellComparison]
    only_in_base: list[str]
    only_in_new: list[str]
    versions: dict[str, tuple] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[str]:
        out = []
        for c in self.cells:
            if c.throughput.verdict == "regression":
                out.append(f"{c.cell_id}: throughput {c.throughput.change_pct:+.1f}%")
            if c.e2e_p99 and c.e2e_p99.verdict == "regression":
                out.append(f"{c.cell_id}: e2e p99 {c.e2e_p99.change_pct:+.1f}%")
        return out

    def geometric_mean_ratio(self) -> float:
        ratios = [c.throughput.new / c.throughput.base for c in self.cells if c.throughput.base > 0 and c.throughput.new > 0]
        return float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")

    def as_dict(self) -> dict:
        return {
            "base": self.base_label, "new": self.new_label, "max_regression_pct": self.max_regression_pct,
            "method": METHOD, "versions": {k: list(v) for k, v in self.versions.items()}, "warnings": self.warnings,
            "cells": [asdict(c) for c in self.cells], "only_in_base": self.only_in_base, "only_in_new": self.only_in_new,
            "geometric_mean_throughput_ratio": self.geometric_mean_ratio(), "regressions": self.regressions,
        }


def compare(base: pd.DataFrame, new: pd.DataFrame, max_regression_pct: float = 5.0,
            base_label: str = "base", new_label: str = "new") -> Comparison:
    """Compare two summaries (one row per cell repetition) cell by cell."""
    base_cells, new_cells = _by_params(base), _by_params(new)
    cells = []
    for key in new_cells:
        if key in base_cells:
            b, n = base_cells[key], new_cells[key]
            cells.append(CellComparison(
                cell_id=n["cell_id"].iloc[0], params=dict(zip(PARAM_COLUMNS, key)),
                throughput=change(b["throughput_msgs"], n["throughput_msgs"], max_regression_pct, higher_is_better=True),
                e2e_p99=change(b["e2e_p99_ms"], n["e2e_p99_ms"], max_regression_pct, higher_is_better=False)
                if b["e2e_p99_ms"].notna().all() and n["e2e_p99_ms"].notna().all() else None,
            ))
    return Comparison(
        base_label, new_label, max_regression_pct, cells,
        only_in_base=[base_cells[k]["cell_id"].iloc[0] for k in base_cells if k not in new_cells],
        only_in_new=[new_cells[k]["cell_id"].iloc[0] for k in new_cells if k not in base_cells],
    )


def _by_params(summary: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    ok = summary[summary["status"] == "ok"]
    keyed = ok.assign(_key=[tuple(_norm(v) for v in row) for row in ok[PARAM_COLUMNS].itertuples(index=False)])
    return {key: rows for key, rows in keyed.groupby("_key", sort=False)}


def _norm(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def change(base: pd.Series, new: pd.Series, max_regression_pct: float, higher_is_better: bool) -> Change:
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    mean_b, mean_n = float(np.mean(b)), float(np.mean(n))
    pct = 100.0 * (mean_n / mean_b - 1.0)
    if len(b) < 2 or len(n) < 2 or (b <= 0).any() or (n <= 0).any():
        return Change(mean_b, mean_n, pct, math.nan, math.nan, math.nan, "?")
    result = stats.ttest_ind(np.log(n), np.log(b), equal_var=False)
    low, high = result.confidence_interval(0.95)
    p = float(result.pvalue) if not math.isnan(result.pvalue) else 1.0  # identical values: no evidence of change
    worse = -pct if higher_is_better else pct
    if p >= ALPHA:
        verdict = "~"
    elif abs(pct) <= max_regression_pct:
        verdict = "within"
    else:
        verdict = "regression" if worse > 0 else "improvement"
    ci = (100.0 * (math.exp(low) - 1.0), 100.0 * (math.exp(high) - 1.0)) if not math.isnan(low) else (math.nan, math.nan)
    return Change(mean_b, mean_n, pct, ci[0], ci[1], p, verdict)


def environment_check(base_manifest: dict, new_manifest: dict, comparison: Comparison) -> None:
    """What differs between the two runs: versions (what is compared) and the rest (warnings)."""
    for label, path in _VERSION_KEYS:
        a, b = _dig(base_manifest, path), _dig(new_manifest, path)
        if a != b:
            comparison.versions[label] = (a, b)
    host_a = _dig(base_manifest, ("environment", "host")) or {}
    host_b = _dig(new_manifest, ("environment", "host")) or {}
    for key in _HOST_KEYS:
        if host_a.get(key) != host_b.get(key):
            comparison.warnings.append(f"host {key} differs: {host_a.get(key)} vs {host_b.get(key)}; absolute throughput is not comparable")
    brokers_a, brokers_b = _dig(base_manifest, ("broker", "brokers")), _dig(new_manifest, ("broker", "brokers"))
    if brokers_a != brokers_b:
        comparison.warnings.append(f"cluster size differs: {brokers_a} vs {brokers_b} broker(s)")
    if comparison.only_in_base or comparison.only_in_new:
        comparison.warnings.append(f"{len(comparison.only_in_base)} cell(s) only in {comparison.base_label}, "
                                   f"{len(comparison.only_in_new)} only in {comparison.new_label}: not compared")


def _dig(data: dict, path: tuple):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
