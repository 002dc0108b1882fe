"""Did EOS get more expensive? Runs compared cell by cell, noise told apart from change.

The model. A figure of one cell repetition is, on the log scale,
    log x = cell effect + run drift + repetition noise,
where the run drift is shared by every repetition of a run (the machine, the broker start, the
page cache) and cannot be seen from inside one run. Two single runs therefore differ by more
than their repetitions' spread says, and a test on repetitions alone raises false alarms: a
simulation with a 5% run-to-run drift flagged 10% of identical setups, 24% at 10%
(benchmarks/gate_false_alarms.py). So each figure is tested in the design that supports it:

- versions measured side by side in one run (`compare RUN --by kafka.version`): the two blocks
  alternate every repetition, so repetitions are paired and the drift cancels;
- several runs per side (`compare A1,A2,A3 B1,B2,B3`): the run is the unit (its mean), and the
  spread between runs measures the drift itself;
- one run on a side: only the EOS cost is gated, a mode's throughput over its baseline's in the
  same repetition: the run's drift moves both, so only what drifts differently per mode is left,
  and a small allowance for that (DRIFT_PCT) is added to its variance. Absolute throughput and
  latency are shown but not gated: between two single runs they moved by up to +359% (e2e p99)
  on this project's machines with nothing changed (docs/gate.md). A user who knows the drift of their
  own setup can state it (--run-drift) and gate them too.
- one run on a side whose cells took turns (order alternating, bench/profiles/gate.yaml): a
  figure of the run is the centre of its turns, with the standard error of a time series
  (stats.series_mean), so one repetition carries a test. The EOS cost pairs each turn with its
  baseline's of the same round, and gets the drift allowance measured between real runs of that
  profile (TURN_DRIFT_PCT). Absolute figures stay ungated: broker CPU per record too moved by a
  fifth between two runs on one broker.

Every estimate is the mean of log values (stats), its interval is simultaneous over all the
tests of the comparison, and every p-value is Holm-adjusted over them. Like asv, a change counts
only when it is significant AND larger than the chosen minimum. A NEW run whose cells failed,
are missing or delivered nothing fails the gate whatever the statistics say.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from bench.analysis import summary
from bench.analysis.columns import COMPARED, with_parameter_columns
from bench.analysis.columns import turn_series
from bench.analysis.overhead import baseline_pairs, paired_ratios, turn_pairs
from bench.analysis.stats import ALPHA, MIN_UNITS, Estimate, holm, one_sample, pct, series_mean, two_sample, two_series
from bench.formatting import finite
from bench.parameters import NAMES as PARAM_COLUMNS

# name -> whether a larger value is better (bench.analysis.columns.COMPARED declares them)
METRICS = {c.name: c.higher_is_better for c in COMPARED}
_COLUMN = {c.name: c.column for c in COMPARED if c.column}
# Run-to-run drift (one standard deviation of a run's mean, in percent) allowed for when a side has
# a single run; a metric without one is not gated then (see the module's docstring).
DRIFT_PCT = {"cost": 5.0}
# The same for a cell that took turns (order alternating), whose figure is the centre of its turns:
# the drift between runs of a figure read turn by turn, beyond what the turns' own spread says.
# Measured between runs of bench/profiles/gate.yaml with nothing changed (docs/gate.md). Broker
# CPU per record has none: it fell by 21-27% between two runs on one broker (the broker's own
# warm-up), so one run per side cannot gate it.
TURN_DRIFT_PCT = {"cost": 3.0}
# The per-turn column of a figure read at every turn's edge (the EOS cost comes from turn_pairs)
_TURN_COLUMN = {"throughput": "turn_throughputs_msgs", "broker_cpu": "turn_broker_cpu_us"}
NOT_GATED = ("not gated with one run per side: it cannot tell a change from run-to-run drift "
             "(give several runs per side, A1,A2,A3, or state the drift with --run-drift)")
UNTESTED = "a gate cannot pass what it could not test"  # ends the failure line of a gated figure without a test
# What must match for two runs to be comparable, and what a comparison is usually about.
_HOST_KEYS = ("cpu_model", "cores", "memory_gb", "os")
_VERSION_KEYS = (("broker", ("broker", "version")), ("librdkafka", ("environment", "librdkafka")),
                 ("confluent-kafka", ("environment", "confluent_kafka")), ("python", ("environment", "python")),
                 ("eosbench", ("environment", "eosbench", "git_commit")))


@dataclass(frozen=True)
class Change:
    """One metric of one matched cell."""

    base: float                # geometric mean
    new: float
    change_pct: float          # 100 x (new / base - 1), from the same mean of logs as the interval
    ci_low_pct: float
    ci_high_pct: float
    p_value: float             # as the test gave it
    p_adjusted: float = math.nan  # Holm, over every test of the comparison; the verdict rests on this one
    verdict: str = "?"         # regression | improvement | ~ (not significant) | within (significant, below the minimum)
                               # | ? (too few values for a test) | not gated (one run per side, see NOT_GATED)
    note: str = ""             # why there is no test


@dataclass(frozen=True)
class CellComparison:
    cell_id: str
    params: dict
    by_metric: dict[str, Change | None]  # every name of METRICS; None: no such figure (the cost of the baseline itself)

    def changes(self) -> dict[str, Change]:
        return {name: change for name, change in self.by_metric.items() if change is not None}

    def __getattr__(self, name: str) -> Change | None:  # c.throughput, c.cost, ...
        if name in METRICS:
            return self.by_metric.get(name)
        raise AttributeError(name)

    def as_dict(self) -> dict:
        return {"cell_id": self.cell_id, "params": self.params,
                **{name: None if ch is None else asdict(ch) for name, ch in self.by_metric.items()}}


@dataclass
class Comparison:
    base_label: str
    new_label: str
    max_regression_pct: float
    cells: list[CellComparison]
    only_in_base: list[str]
    only_in_new: list[str]
    baseline: str | None = None
    design: str = ""
    versions: dict[str, tuple] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # what fails the gate before any statistics

    @property
    def regressions(self) -> list[str]:
        labels = _labels(self.baseline)
        return [f"{c.cell_id}: {labels[name]} {change.change_pct:+.1f}%"
                for c in self.cells for name, change in c.changes().items() if change.verdict == "regression"]

    def label(self, name: str) -> str:
        """How a regression's line names the figure `name` (for example 'throughput relative to at_least_once')."""
        return _labels(self.baseline)[name]

    @property
    def failed(self) -> bool:
        """Whether a CI gate on this comparison fails (exit 1)."""
        return bool(self.failures or self.regressions)

    @property
    def tests(self) -> int:
        return sum(not math.isnan(ch.p_value) for c in self.cells for ch in c.changes().values())

    def geometric_mean_ratio(self) -> float:
        ratios = [c.throughput.new / c.throughput.base for c in self.cells if c.throughput.base > 0 and c.throughput.new > 0]
        return float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")

    def as_dict(self) -> dict:
        """Plain data for JSON: every NaN or infinity becomes null (JSON has neither)."""
        return finite({
            "base": self.base_label, "new": self.new_label, "max_regression_pct": self.max_regression_pct,
            "method": method(self.design), "design": self.design, "baseline": self.baseline, "tests": self.tests,
            "versions": {k: list(v) for k, v in self.versions.items()}, "warnings": self.warnings, "failures": self.failures,
            "cells": [c.as_dict() for c in self.cells], "only_in_base": self.only_in_base, "only_in_new": self.only_in_new,
            "geometric_mean_throughput_ratio": self.geometric_mean_ratio(), "regressions": self.regressions,
            "gate": "fail" if self.failed else "pass",
        })


def method(design: str) -> str:
    return (f"mean of log values with Student's/Welch's t, {design}; intervals 95% simultaneous over all tests "
            "(Bonferroni), p Holm-adjusted over all tests")


def compare(base: list[pd.DataFrame] | pd.DataFrame, new: list[pd.DataFrame] | pd.DataFrame, max_regression_pct: float = 5.0,
            base_label: str = "base", new_label: str = "new", baseline: str | None = None,
            run_drift_pct: float | None = None, paired: bool = False) -> Comparison:
    """Compare summaries (one row per cell repetition; one frame per run) cell by cell.

    `baseline` is the mode every run measured the others against (None: no EOS-cost figure);
    `paired`: base and new are two versions measured side by side in one run, repetition by
    repetition; `run_drift_pct` replaces DRIFT_PCT for every metric (and so gates them all).
    """
    base_runs, new_runs = [with_parameter_columns(f) for f in _runs(base)], [with_parameter_columns(f) for f in _runs(new)]
    versioned = any(frame["kafka_version"].nunique() > 1 for frame in base_runs + new_runs if "kafka_version" in frame)
    base_cells, new_cells = _cells(base_runs, baseline, versioned), _cells(new_runs, baseline, versioned)
    matched = [key for key in new_cells if key in base_cells]
    units = {(key, name): _units(base_cells[key], new_cells[key], name, paired) for key in matched for name in METRICS}
    drift = {k: run_drift_pct if run_drift_pct is not None else (TURN_DRIFT_PCT if isinstance(u[0], _Turns) else DRIFT_PCT).get(k[1])
             for k, u in units.items()}
    present = {k: drift[k] for k, u in units.items() if u[0] is not None}
    design = _design(len(base_runs), len(new_runs), paired, present or {(None, name): DRIFT_PCT.get(name) for name in METRICS},
                     {isinstance(u[0], _Turns) for u in units.values() if u[0] is not None})
    single_run = min(len(base_runs), len(new_runs)) < 2

    def changes(key: tuple, tests: int) -> dict[str, Change | None]:
        return {name: None if units[(key, name)][0] is None else _change(*units[(key, name)], paired, drift[(key, name)], tests, single_run)
                for name in METRICS}

    # Intervals are simultaneous over the tests that can be made: count them first.
    tests = sum(not math.isnan(ch.p_value) for key in matched for ch in changes(key, 1).values() if ch)
    cells = [CellComparison(new_cells[key].cell_id, dict(zip(PARAM_COLUMNS, key[:len(PARAM_COLUMNS)])), changes(key, tests))
             for key in matched]
    only_in_base = [base_cells[k].cell_id for k in base_cells if k not in new_cells]
    only_in_new = [new_cells[k].cell_id for k in new_cells if k not in base_cells]
    base_all, new_all = pd.concat(base_runs, ignore_index=True), pd.concat(new_runs, ignore_index=True)
    labels = _labels(baseline)
    return Comparison(
        base_label, new_label, max_regression_pct, _judged(cells, max_regression_pct), only_in_base, only_in_new,
        baseline=baseline, design=design,
        warnings=([] if new_all.empty else _unmatched(base_all, new_all, only_in_base, only_in_new, base_label, new_label))
        + _empty_base(base_all),
        failures=_failures(new_all, only_in_base, new_label, base_label, len(cells))
        + [f"{new_cells[key].cell_id}: {labels[name]} {why}: {UNTESTED}"
           for key in matched for name in METRICS
           if (paired or not single_run or drift[(key, name)] is not None)
           and (why := _untestable(*units[(key, name)][:2], paired, single_run))],
    )


def _labels(baseline: str | None) -> dict[str, str]:
    return {c.name: c.label.format(baseline=baseline) for c in COMPARED}


def _untestable(base_units: np.ndarray | None, new_units: np.ndarray | None, paired: bool, single_run: bool) -> str:
    """Why a gated figure has too few units on a side for a test ('' when it has enough, or no figure)."""
    if base_units is None:
        return ""
    if paired:
        n, counted = len(new_units), "paired repetition(s)"
    elif isinstance(base_units, _Turns):
        n, side = min((len(base_units), "base"), (len(new_units), "new"))
        counted = f"turn(s) in {side}"
    else:
        n, side = min((len(base_units), "base"), (len(new_units), "new"))
        counted = f"{'repetition(s)' if single_run else 'run(s)'} in {side}"
    return f"has {n} {counted} (at least {MIN_UNITS} needed for a test)" if n < MIN_UNITS else ""


def _runs(frames: list[pd.DataFrame] | pd.DataFrame) -> list[pd.DataFrame]:
    return [frames] if isinstance(frames, pd.DataFrame) else list(frames)


def _design(base_runs: int, new_runs: int, paired: bool, drift: dict[tuple, float | None], turned: set[bool]) -> str:
    """How the comparison was made; `drift`: the allowance of each (cell, metric) with a figure;
    `turned`: whether figures were the centres of turns (True), of repetitions (False), or both."""
    if paired:
        return "versions measured side by side in one run, paired by repetition"
    if min(base_runs, new_runs) >= 2:
        return f"runs as units ({base_runs} vs {new_runs} runs): the spread between runs measures their drift"
    by_name: dict[str, set] = {}
    for (_, name), pct_ in drift.items():
        by_name.setdefault(name, set()).add(pct_)
    allowances = ", ".join(f"{name} {'/'.join(f'{v:g}' for v in sorted(v for v in values if v is not None))}%"
                           for name, values in by_name.items() if values - {None})
    ungated = [name for name, values in by_name.items() if values == {None}]
    units = {frozenset({True}): _TURN_UNITS, frozenset({True, False}): f"{_TURN_UNITS} where cells took turns, repetitions elsewhere"
             }.get(frozenset(turned), "repetitions")
    return (f"one run per side: {units} as units with a run-to-run drift allowance ({allowances}) added to the variance"
            + (f"; {_listed(ungated)} not gated" if ungated else ""))


def _listed(names: list[str]) -> str:
    """a; a and b; a, b and c."""
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


_TURN_UNITS = ("turns (order alternating: a run's figure is Huber's centre of its turns, with a Newey-West "
               "standard error)")


@dataclass
class _Cell:
    """One cell of one side: its rows, and per metric one array of values per run."""

    cell_id: str
    values: dict[str, list[pd.Series]]  # metric -> per run: values by repetition
    turns: dict[str, list[list[np.ndarray] | None]] = field(default_factory=dict)  # metric -> per run: log values of its turns


@dataclass(frozen=True)
class _Turns:
    """One run's turns of one figure (order alternating): log values in time series, a block per
    repetition. Its figure is their centre, with the standard error of a series (stats.series_mean)."""

    blocks: list[np.ndarray]

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks)


def _key(row, versioned: bool) -> tuple:
    key = tuple(_norm(row[k]) for k in PARAM_COLUMNS)
    return key + ((row["kafka_version"],) if versioned else ())


def _cells(runs: list[pd.DataFrame], baseline: str | None, versioned: bool) -> dict[tuple, _Cell]:
    out: dict[tuple, _Cell] = {}
    for frame in runs:
        ok = frame[frame["status"] == "ok"]
        pairs = list(baseline_pairs(ok, baseline))
        costs = {cell_id: paired_ratios(cell, base) for cell_id, cell, base in pairs}
        cost_turns = {cell_id: turn_pairs(cell, base) for cell_id, cell, base in pairs}
        for cell_id, rows in ok.groupby("cell_id", sort=False):
            key = _key(rows.iloc[0], versioned)
            cell = out.setdefault(key, _Cell(cell_id, {name: [] for name in METRICS}, {name: [] for name in METRICS}))
            by_rep = rows.set_index("repetition")
            for name, column in _COLUMN.items():
                values = by_rep[column] if column in by_rep else pd.Series(float("nan"), index=by_rep.index)  # a figure not recorded
                cell.values[name].append(pd.to_numeric(values, errors="coerce").astype(float))
                cell.turns[name].append(_logs_of_turns(by_rep, _TURN_COLUMN.get(name)))
            if cell_id in costs:
                cell.values["cost"].append(costs[cell_id])
                cell.turns["cost"].append(cost_turns[cell_id])
    return out


def _logs_of_turns(by_rep: pd.DataFrame, column: str | None) -> list[np.ndarray] | None:
    """Per repetition, the log values of a figure's turns; None unless every repetition took
    turns with a positive value in each (a turn without one, such as a per-record cost of a turn
    that delivered nothing, is left out)."""
    if column is None or column not in by_rep or "turns_group" not in by_rep or by_rep["turns_group"].isna().any():
        return None
    blocks = []
    for text in by_rep[column]:
        values = np.asarray(turn_series(text), dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        if not len(values):
            return None
        blocks.append(np.log(values))
    return blocks


def _units(base: _Cell, new: _Cell, name: str, paired: bool) -> tuple:
    """The units a metric is tested on, per side (None: no such figure), and a note on what was left out."""
    b_runs, n_runs = base.values[name], new.values[name]
    if not b_runs or not n_runs or len(b_runs) != len(base.values["throughput"]) or len(n_runs) != len(new.values["throughput"]):
        return None, None, ""
    if all(s.isna().all() for s in b_runs) or all(s.isna().all() for s in n_runs):  # not measured on a side
        return None, None, ""
    left_out = sum(int((~(s > 0)).sum()) for s in b_runs + n_runs)  # zero, negative or missing: no logarithm
    note = f"{left_out} repetition(s) without a positive value left out" if left_out else ""
    if paired:
        common = b_runs[0].index.intersection(n_runs[0].index)
        ratios = np.log(n_runs[0].loc[common]) - np.log(b_runs[0].loc[common])
        logs = ratios[np.isfinite(ratios)].to_numpy()
        return np.log(b_runs[0][b_runs[0] > 0]).to_numpy(), logs, note
    if len(b_runs) >= 2 and len(n_runs) >= 2:
        return _run_means(b_runs), _run_means(n_runs), note
    b_turns, n_turns = base.turns.get(name) or [None], new.turns.get(name) or [None]
    if len(b_turns) == len(n_turns) == 1 and b_turns[0] is not None and n_turns[0] is not None:
        return _Turns(b_turns[0]), _Turns(n_turns[0]), note
    return _logs(b_runs), _logs(n_runs), note


def _logs(runs: list[pd.Series]) -> np.ndarray:
    values = pd.concat(runs).to_numpy(dtype=float)
    return np.log(values[values > 0])


def _run_means(runs: list[pd.Series]) -> np.ndarray:
    means = [np.mean(np.log(s[s > 0])) for s in runs if (s > 0).any()]
    return np.asarray(means, dtype=float)


def _change(base_units: np.ndarray | _Turns, new_units: np.ndarray | _Turns, note: str, paired: bool, drift_pct: float | None,
            tests: int, single_run: bool) -> Change:
    turns = isinstance(base_units, _Turns)
    centre = (lambda u: series_mean(u.blocks).mean) if turns else (lambda u: float(np.mean(u)))
    base_mean = centre(base_units) if len(base_units) else math.nan
    if single_run and not paired and drift_pct is None:
        difference = centre(new_units) - base_mean if len(new_units) else math.nan
        return Change(math.exp(base_mean), math.exp(base_mean + difference), pct(difference), math.nan, math.nan, math.nan,
                      verdict="not gated", note=note)
    allowance = 2 * math.log1p(drift_pct / 100) ** 2 if single_run and drift_pct else 0.0
    if paired:
        estimate: Estimate = one_sample(new_units, tests)
    elif turns:
        estimate = two_series(base_units.blocks, new_units.blocks, tests, extra_variance=allowance)
    else:
        estimate = two_sample(base_units, new_units, tests, extra_variance=allowance)
    new_mean = base_mean + estimate.mean
    return Change(math.exp(base_mean) if not math.isnan(base_mean) else math.nan,
                  math.exp(new_mean) if not math.isnan(new_mean) else math.nan,
                  pct(estimate.mean), pct(estimate.low), pct(estimate.high), estimate.p,
                  note="; ".join(filter(None, [note, estimate.note])))


def _judged(cells: list[CellComparison], max_regression_pct: float) -> list[CellComparison]:
    tested = [(i, name) for i, c in enumerate(cells) for name, ch in c.changes().items() if not math.isnan(ch.p_value)]
    adjusted = holm([cells[i].by_metric[name].p_value for i, name in tested])
    out = list(cells)
    for (i, name), p_adj in zip(tested, adjusted):
        ch = out[i].by_metric[name]
        worse = -ch.change_pct if METRICS[name] else ch.change_pct
        if p_adj >= ALPHA:
            verdict = "~"
        elif abs(ch.change_pct) <= max_regression_pct:
            verdict = "within"
        else:
            verdict = "regression" if worse > 0 else "improvement"
        out[i] = replace(out[i], by_metric={**out[i].by_metric, name: replace(ch, p_adjusted=p_adj, verdict=verdict)})
    return out


def _failures(new: pd.DataFrame, only_in_base: list[str], new_label: str, base_label: str, compared: int) -> list[str]:
    """What makes NEW unfit to pass a gate, whatever the statistics: a guarantee broken, failed,
    missing or empty cells, or nothing compared at all."""
    if new.empty:
        return [f"{new_label} holds no finished cell: nothing was measured"]
    out = [] if compared else [f"no cell of {new_label} matches one of {base_label}: nothing was compared"]
    ok = new[new["status"] == "ok"]
    out += [f"{line} in {new_label}: a broken guarantee" for line in summary.broken_guarantees(ok)]
    out += [f"{row.cell_id} r{row.repetition} failed in {new_label}: {row.status}" for row in new[new["status"] != "ok"].itertuples()]
    out += [f"{row.cell_id} r{row.repetition} delivered nothing in {new_label} (zero throughput)"
            for row in ok[~(ok["throughput_msgs"].astype(float) > 0)].itertuples()]
    out += [f"{cell_id} of {base_label} was not measured in {new_label}" for cell_id in only_in_base]
    return out


def _empty_base(base: pd.DataFrame) -> list[str]:
    ok = base[base["status"] == "ok"]
    return [f"{row.cell_id} r{row.repetition} delivered nothing in the base run: left out of its figures"
            for row in ok[~(ok["throughput_msgs"].astype(float) > 0)].itertuples()]


def check_runs(base_manifests: list[dict], new_manifests: list[dict], comparison: Comparison) -> None:
    """What differs between the runs (versions: what is compared; the rest: warnings), and
    whether every NEW run finished."""
    for manifest in new_manifests:
        if manifest.get("status") != "complete":
            planned = len(manifest.get("plan") or [])
            comparison.failures.insert(0, f"run {manifest['run_id']} is {manifest.get('status')}, not complete"
                                          + (f" ({planned} cell repetitions planned)" if planned else ""))
    base_manifest, new_manifest = base_manifests[0], new_manifests[0]
    for label, path in _VERSION_KEYS:
        a, b = _dig(base_manifest, path), _dig(new_manifest, path)
        if a != b:
            comparison.versions[label] = (a, b)
    unknown = [m["run_id"] for m in base_manifests + new_manifests if not _dig(m, ("broker", "version"))]
    apis = [_dig(m, ("broker", "api_versions")) for m in (base_manifest, new_manifest)]
    if all(apis) and apis[0] != apis[1]:
        changed = sorted(k for k in set(apis[0]) | set(apis[1]) if apis[0].get(k) != apis[1].get(k))
        comparison.versions["broker request versions"] = tuple(
            ", ".join(f"{k} {api.get(k, '-')}" for k in changed[:4]) + (" ..." if len(changed) > 4 else "") for api in apis)
    if unknown and not (all(apis) and apis[0] == apis[1]):
        comparison.warnings.append(f"broker version not recorded in {', '.join(unknown)}: the runs may differ in it")
    elif unknown:
        comparison.warnings.append(f"broker version not recorded in {', '.join(unknown)}, but both brokers answered with "
                                   "the same request versions")
    for side in (base_manifests, new_manifests):
        for other in side[1:]:
            for label, path in _VERSION_KEYS:
                if _dig(other, path) != _dig(side[0], path):
                    comparison.warnings.append(f"runs {side[0]['run_id']} and {other['run_id']} of one side differ in {label}")
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
    baselines = {_dig(m, ("profile", "baseline")) for m in base_manifests + new_manifests}
    if len(baselines) > 1:
        comparison.warnings.append(f"baseline mode differs: {' vs '.join(map(str, sorted(baselines, key=str)))}; EOS cost not compared")


def _unmatched(base: pd.DataFrame, new: pd.DataFrame, only_in_base: list[str], only_in_new: list[str],
               base_label: str, new_label: str) -> list[str]:
    """Why cells did not match: how many, and each parameter whose values differ between the runs."""
    if not only_in_base and not only_in_new:
        return []
    out = [f"{len(only_in_base)} cell(s) only in {base_label}, {len(only_in_new)} only in {new_label}: not compared"]
    for key in PARAM_COLUMNS + ["kafka_version"]:
        a = {_norm(v) for v in base.get(key, pd.Series(dtype=object))}
        b = {_norm(v) for v in new.get(key, pd.Series(dtype=object))}
        if a != b:
            out.append(f"{key} differs: {_values(a)} vs {_values(b)}")
    return out


def _norm(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _values(values: set) -> str:
    return ", ".join(sorted(map(str, values))) or "none"


def _dig(data: dict, path: tuple):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
