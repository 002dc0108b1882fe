"""Did EOS get more expensive? Two runs compared cell by cell, noise told apart from change.

Cells are matched by their parameters. For each, three figures are compared, each with Welch's
t-test on the logarithms of the per-repetition values (scipy), whose interval, exponentiated, is
that of the ratio new / base:
- throughput and end-to-end p99, absolute, so they also move with the machine's drift;
- the EOS cost: a mode's throughput divided by its baseline's in the same repetition of the
  same run. Drift moves both sides of that ratio, so it is the sharpest answer to "did exactly-once
  get more expensive?" and it is where METHOD.md says the strength of this tool lies.
Like asv, a change counts only when it is significant AND larger than the chosen minimum. Every
p-value is Holm-adjusted over all the tests of the comparison: a CI gate that fails on any flagged
cell then raises a false alarm in at most 5% of comparisons between identical setups, however
many cells the profile has. Insignificant changes are shown as `~`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from bench.analysis.overhead import baseline_pairs, paired_ratios
from bench.analysis.summary import PARAM_COLUMNS

ALPHA = 0.05
METHOD = ("Welch's t-test on log per-repetition values (scipy.stats.ttest_ind, equal_var=False), p Holm-adjusted over "
          "all tests of the comparison, 95% interval")
# name -> whether a larger value is better
METRICS = {"throughput": True, "e2e_p99": False, "cost": True}
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
    p_value: float             # as the test gave it
    p_adjusted: float = math.nan  # Holm, over every test of the comparison; the verdict rests on this one
    verdict: str = "?"         # regression | improvement | ~ (not significant) | within (significant, below the minimum) | ? (too few repetitions)


@dataclass(frozen=True)
class CellComparison:
    cell_id: str
    params: dict
    throughput: Change
    e2e_p99: Change | None
    cost: Change | None = None  # throughput / baseline throughput, same repetition; None for the baseline itself

    def changes(self) -> dict[str, Change]:
        return {name: getattr(self, name) for name in METRICS if getattr(self, name) is not None}


@dataclass
class Comparison:
    base_label: str
    new_label: str
    max_regression_pct: float
    cells: list[CellComparison]
    only_in_base: list[str]
    only_in_new: list[str]
    baseline: str | None = None
    versions: dict[str, tuple] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[str]:
        labels = {"throughput": "throughput", "e2e_p99": "e2e p99", "cost": f"throughput relative to {self.baseline}"}
        return [f"{c.cell_id}: {labels[name]} {change.change_pct:+.1f}%"
                for c in self.cells for name, change in c.changes().items() if change.verdict == "regression"]

    @property
    def tests(self) -> int:
        return sum(not math.isnan(ch.p_value) for c in self.cells for ch in c.changes().values())

    def geometric_mean_ratio(self) -> float:
        ratios = [c.throughput.new / c.throughput.base for c in self.cells if c.throughput.base > 0 and c.throughput.new > 0]
        return float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")

    def as_dict(self) -> dict:
        return {
            "base": self.base_label, "new": self.new_label, "max_regression_pct": self.max_regression_pct,
            "method": METHOD, "baseline": self.baseline, "tests": self.tests,
            "versions": {k: list(v) for k, v in self.versions.items()}, "warnings": self.warnings,
            "cells": [asdict(c) for c in self.cells], "only_in_base": self.only_in_base, "only_in_new": self.only_in_new,
            "geometric_mean_throughput_ratio": self.geometric_mean_ratio(), "regressions": self.regressions,
        }


def compare(base: pd.DataFrame, new: pd.DataFrame, max_regression_pct: float = 5.0,
            base_label: str = "base", new_label: str = "new", baseline: str | None = None) -> Comparison:
    """Compare two summaries (one row per cell repetition) cell by cell; `baseline` is the mode
    both runs measured the others against (None: no EOS-cost figure)."""
    base_cells, new_cells = _by_params(base), _by_params(new)
    base_ratios, new_ratios = _cost_ratios(base, baseline), _cost_ratios(new, baseline)
    cells = []
    for key in new_cells:
        if key in base_cells:
            b, n = base_cells[key], new_cells[key]
            b_id, n_id = b["cell_id"].iloc[0], n["cell_id"].iloc[0]
            cells.append(CellComparison(
                cell_id=n_id, params=dict(zip(PARAM_COLUMNS, key)),
                throughput=measure(b["throughput_msgs"], n["throughput_msgs"]),
                e2e_p99=measure(b["e2e_p99_ms"], n["e2e_p99_ms"])
                if b["e2e_p99_ms"].notna().all() and n["e2e_p99_ms"].notna().all() else None,
                cost=measure(base_ratios[b_id], new_ratios[n_id]) if b_id in base_ratios and n_id in new_ratios else None,
            ))
    only_in_base = [base_cells[k]["cell_id"].iloc[0] for k in base_cells if k not in new_cells]
    only_in_new = [new_cells[k]["cell_id"].iloc[0] for k in new_cells if k not in base_cells]
    return Comparison(
        base_label, new_label, max_regression_pct, _judged(cells, max_regression_pct), only_in_base, only_in_new,
        baseline=baseline, warnings=_unmatched(base, new, only_in_base, only_in_new, base_label, new_label),
    )


def _by_params(summary: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    ok = summary[summary["status"] == "ok"]
    keyed = ok.assign(_key=[tuple(_norm(v) for v in row) for row in ok[PARAM_COLUMNS].itertuples(index=False)])
    return {key: rows for key, rows in keyed.groupby("_key", sort=False)}


def _cost_ratios(summary: pd.DataFrame, baseline: str | None) -> dict[str, pd.Series]:
    return {cell_id: paired_ratios(cell, base) for cell_id, cell, base in baseline_pairs(summary, baseline)}


def _norm(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def measure(base: pd.Series, new: pd.Series) -> Change:
    """The change and its test, not yet judged (that needs every p-value of the comparison)."""
    b, n = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    mean_b, mean_n = float(np.mean(b)), float(np.mean(n))
    pct = 100.0 * (mean_n / mean_b - 1.0)
    if len(b) < 2 or len(n) < 2 or (b <= 0).any() or (n <= 0).any():
        return Change(mean_b, mean_n, pct, math.nan, math.nan, math.nan)
    log_b, log_n = np.log(b), np.log(n)
    if np.ptp(np.concatenate([log_b, log_n])) < 1e-12:  # the very same values on both sides: no change, no test needed
        return Change(mean_b, mean_n, pct, 0.0, 0.0, 1.0)
    with warnings.catch_warnings():  # nearly identical values (an open-loop rate held exactly) make scipy warn of precision loss
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(log_n, log_b, equal_var=False)
    low, high = result.confidence_interval(0.95)
    p = float(result.pvalue) if not math.isnan(result.pvalue) else 1.0  # constant on each side: no spread to test against
    ci = (100.0 * (math.exp(low) - 1.0), 100.0 * (math.exp(high) - 1.0)) if not math.isnan(low) else (math.nan, math.nan)
    return Change(mean_b, mean_n, pct, ci[0], ci[1], p)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: controls the chance of any false alarm among all the tests."""
    m = len(p_values)
    adjusted, running = [0.0] * m, 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _judged(cells: list[CellComparison], max_regression_pct: float) -> list[CellComparison]:
    tested = [(i, name) for i, c in enumerate(cells) for name, ch in c.changes().items() if not math.isnan(ch.p_value)]
    adjusted = holm([getattr(cells[i], name).p_value for i, name in tested])
    out = list(cells)
    for (i, name), p_adj in zip(tested, adjusted):
        ch = getattr(out[i], name)
        worse = -ch.change_pct if METRICS[name] else ch.change_pct
        if p_adj >= ALPHA:
            verdict = "~"
        elif abs(ch.change_pct) <= max_regression_pct:
            verdict = "within"
        else:
            verdict = "regression" if worse > 0 else "improvement"
        out[i] = replace(out[i], **{name: replace(ch, p_adjusted=p_adj, verdict=verdict)})
    return out


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
    # The user's own client configuration is one of the things a comparison is about.
    client_a, client_b = _dig(base_manifest, ("profile", "client")) or {}, _dig(new_manifest, ("profile", "client")) or {}
    for key in sorted(set(client_a) | set(client_b)):
        if client_a.get(key) != client_b.get(key):
            comparison.versions[f"client {key}"] = (client_a.get(key, "(default)"), client_b.get(key, "(default)"))
    baseline_a, baseline_b = _dig(base_manifest, ("profile", "baseline")), _dig(new_manifest, ("profile", "baseline"))
    if baseline_a != baseline_b:
        comparison.warnings.append(f"baseline mode differs: {baseline_a} vs {baseline_b}; EOS cost not compared")


def _unmatched(base: pd.DataFrame, new: pd.DataFrame, only_in_base: list[str], only_in_new: list[str],
               base_label: str, new_label: str) -> list[str]:
    """Why cells did not match: how many, and each parameter whose values differ between the runs."""
    if not only_in_base and not only_in_new:
        return []
    out = [f"{len(only_in_base)} cell(s) only in {base_label}, {len(only_in_new)} only in {new_label}: not compared"]
    for key in PARAM_COLUMNS:
        a = {_norm(v) for v in base.get(key, pd.Series(dtype=object))}
        b = {_norm(v) for v in new.get(key, pd.Series(dtype=object))}
        if a != b:
            out.append(f"{key} differs: {_values(a)} vs {_values(b)}")
    return out


def _values(values: set) -> str:
    return ", ".join(sorted(map(str, values))) or "none"


def _dig(data: dict, path: tuple):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
