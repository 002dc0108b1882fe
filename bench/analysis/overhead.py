"""What a mode costs: throughput overhead against the matching baseline cell, with a 95% CI.

Repetitions of a mode and of its baseline that ran side by side (same repetition, interleaved)
are paired: ratios, because absolute throughput on a shared 2-core machine drifts and the drift
moves both; repetitions, never raw per-message latencies, which are autocorrelated. The overhead
and its interval both come from the mean of the log paired ratios (stats.one_sample), so the
point lies inside its interval; the intervals are simultaneous over every cell of the run and
`significant` is Holm-adjusted over them, like compare's verdicts.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import pandas as pd

from bench import modes
from bench.analysis.stats import ALPHA, MAX_UNITS, MIN_UNITS, Estimate, holm, one_sample, series_mean, spread_of, units_for
from bench.analysis.columns import COSTS, Flag, Flags, flags, turn_series, with_parameter_columns
from bench.parameters import NAMES as PARAM_COLUMNS, shapes

COLUMNS = ["cell_id", "mode", "baseline_cell_id", "pairs", "pairs_of", "throughput_msgs", "baseline_throughput_msgs",
           "overhead_pct", "ci_low_pct", "ci_high_pct", "p_holm", "significant", "interval_note",
           "e2e_p50_delta_ms", "e2e_p99_delta_ms", "e2e_p999_delta_ms", "flags",
           *(f"{c.name}_{part}" for c in COSTS for part in ("overhead_pct", "ci_low_pct", "ci_high_pct"))]
PRECISION_PP = 2.0  # the half-width, in points, of an overhead that settles an argument (issue 15); wider ones get advice
METHOD = ("geometric mean of same-repetition throughput ratios (of same-round turns, under order alternating); Student's t "
          "on their logs (turns: Huber's M-estimate, robust to a stalled turn, with Newey-West variance), 95% simultaneous over the run's cells (Bonferroni); significance Holm-adjusted")


def overhead(summary: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    summary = with_parameter_columns(summary)
    pairs = [(cell_id, cell, base, paired_ratios(cell, base), turn_pairs(cell, base))
             for cell_id, cell, base in baseline_pairs(summary, baseline)]
    tests = sum(_testable(ratios, turns) for *_, ratios, turns in pairs)
    rows = [_compare(cell_id, cell, base, ratios, turns, tests) for cell_id, cell, base, ratios, turns in pairs]
    tested = [i for i, row in enumerate(rows) if not math.isnan(row["p_holm"])]
    for i, p_adjusted in zip(tested, holm([rows[i]["p_holm"] for i in tested])):
        rows[i]["p_holm"] = p_adjusted
        rows[i]["significant"] = p_adjusted < ALPHA
    return pd.DataFrame(rows, columns=COLUMNS + PARAM_COLUMNS[1:]) if rows else pd.DataFrame(columns=COLUMNS)


def precision_advice(table: pd.DataFrame, target_pp: float = PRECISION_PP) -> list[str]:
    """For each overhead whose interval is wider than +-`target_pp` points, how many repetitions
    would narrow it to that at the spread its own repetitions showed (the interval inverted for
    that spread, then solved for the count; simultaneous over the same cells): a wide interval
    comes with what it would take, not only a warning."""
    if table.empty:
        return []
    rows = table[table["ci_low_pct"].notna() & table["ci_high_pct"].notna()]
    out = []
    for r in rows.itertuples():
        half = (r.ci_high_pct - r.ci_low_pct) / 2
        if half <= target_pp or r.overhead_pct >= 100:
            continue
        spread = spread_of(math.log1p(-r.ci_high_pct / 100), math.log1p(-r.ci_low_pct / 100), r.pairs, len(rows))
        n = units_for(spread, target_pp / (100 - r.overhead_pct), len(rows))
        if getattr(r, "pairs_of", "repetitions") == "turns":
            need = (f"about {n} paired turns ({n / r.pairs:.1f} times as many: a longer duration_s or more --repeat)" if n
                    else f"more than {MAX_UNITS} paired turns")
        else:
            need = f"about {n} (--repeat {n})" if n else f"more than {MAX_UNITS}"
        out.append(f"{r.cell_id}: +-{half:.1f} points from {r.pairs} {getattr(r, 'pairs_of', 'repetitions')}; +-{target_pp:g} "
                   f"at this spread (sd of the log ratio {spread:.3f}) would take {need}")
    return out


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
        keys = [k for k in PARAM_COLUMNS if k != "mode" and shapes(k, base_mode, first["topology"])]
        keys += ["kafka_version"] if "kafka_version" in ok else []
        candidates = ok[ok["mode"] == baseline]
        for key in keys:
            candidates = candidates[_same(candidates[key], first[key])]
        if not candidates.empty:
            yield cell_id, cell, candidates


def paired_ratios(cell: pd.DataFrame, base: pd.DataFrame, column: str = "throughput_msgs") -> pd.Series:
    """A figure / the baseline's per repetition (throughput unless told): the two ran side by
    side, so the machine's drift, which moves both, cancels out of the ratio. Repetitions whose
    baseline has nothing (delivered nothing, or the figure was not measured) have no ratio (NaN)."""
    mine, theirs = cell.set_index("repetition"), base.set_index("repetition")
    if column not in mine or column not in theirs:
        return pd.Series(dtype=float)
    common = mine.index.intersection(theirs.index)
    denominator = pd.to_numeric(theirs.loc[common, column], errors="coerce").astype(float)
    return (pd.to_numeric(mine.loc[common, column], errors="coerce").astype(float) / denominator.where(denominator > 0)).astype(float)


def turn_pairs(cell: pd.DataFrame, base: pd.DataFrame, column: str = "turn_throughputs_msgs") -> list[np.ndarray] | None:
    """Per repetition, the log ratios of the cell's turns to its baseline's turns of the same
    rounds (order alternating: they took turns in one window, seconds apart), of throughput unless
    told; None unless every repetition of both took turns in the same group, with a value in every
    turn (a per-record cost: rounds where either turn was not measured are left out)."""
    if "turns_group" not in cell or "turns_group" not in base or column not in cell or column not in base:
        return None
    mine, theirs = cell.set_index("repetition"), base.set_index("repetition")
    blocks = []
    for repetition in mine.index.intersection(theirs.index):
        a, b = mine.loc[repetition], theirs.loc[repetition]
        if pd.isna(a["turns_group"]) or a["turns_group"] != b["turns_group"]:
            return None
        x, y = turn_series(a[column]), turn_series(b[column])
        k = min(len(x), len(y))
        x, y = np.asarray(x[:k]), np.asarray(y[:k])
        if column != "turn_throughputs_msgs":
            x, y = x[np.isfinite(x) & np.isfinite(y)], y[np.isfinite(x) & np.isfinite(y)]
        if not len(x) or min(x) <= 0 or min(y) <= 0:
            return None
        blocks.append(np.log(x / y))
    return blocks or None


def _same(column: pd.Series, value) -> pd.Series:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return column.isna()
    return column == value


def _testable(ratios: pd.Series, turns: list[np.ndarray] | None) -> bool:
    if turns is not None:
        logs = np.concatenate(turns)
        return len(logs) >= MIN_UNITS and np.std(logs) > 0
    valid = ratios.dropna()
    return len(valid) >= MIN_UNITS and (valid > 0).all() and np.std(np.log(valid)) > 0


def _compare(cell_id: str, cell: pd.DataFrame, base: pd.DataFrame, ratios: pd.Series, turns: list[np.ndarray] | None,
             tests: int) -> dict:
    valid = ratios.dropna()
    t_mine, t_base = cell["throughput_msgs"].mean(), base["throughput_msgs"].mean()
    cv_mine = cell["throughput_msgs"].std(ddof=1) / t_mine if len(cell) > 1 and t_mine > 0 else float("nan")
    cv_base = base["throughput_msgs"].std(ddof=1) / t_base if len(base) > 1 and t_base > 0 else float("nan")
    first = cell.iloc[0]
    row = {"cell_id": cell_id, "mode": first["mode"], "baseline_cell_id": base.iloc[0]["cell_id"],
           "pairs": len(valid) if turns is None else sum(len(b) for b in turns),
           "pairs_of": "repetitions" if turns is None else "turns",
           "throughput_msgs": t_mine, "baseline_throughput_msgs": t_base}
    row.update(_estimate(valid, tests) if turns is None else _interval(series_mean(turns, tests)))
    for cost in COSTS:
        by_turn = turn_pairs(cell, base, cost.turns_column) if cost.turns_column and turns is not None else None
        row.update(_cost_estimate(cost.name, paired_ratios(cell, base, cost.column).dropna(), tests, by_turn))
    for pct in ("p50", "p99", "p999"):
        row[f"e2e_{pct}_delta_ms"] = cell[f"e2e_{pct}_ms"].mean() - base[f"e2e_{pct}_ms"].mean()
    notes = []
    if len(valid) < len(ratios):
        notes.append(f"baseline delivered nothing in {len(ratios) - len(valid)} repetition(s)")
    zero = int((valid == 0).sum())
    if zero:
        notes.append(f"zero throughput in {zero} of {len(valid)} repetition(s)")
    row["flags"] = Flags([*flags(cv_mine, *_limits(cell)), *(Flag("note", note) for note in notes),
                          *flags(cv_base, *_limits(base)).prefixed("baseline ")])
    row.update({k: first[k] for k in PARAM_COLUMNS[1:]})
    return row


def _estimate(ratios: pd.Series, tests: int) -> dict:
    """Overhead = 100 x (1 - geometric-mean ratio), with the interval of that same mean.

    A repetition with no throughput at all has no logarithm: then the overhead is the arithmetic
    mean of the ratios, without an interval, and it is significant only when every repetition
    delivered nothing (a 100% loss in each pair is no matter of chance).
    """
    if len(ratios) and (ratios == 0).any():
        overhead_pct = 100.0 * (1.0 - float(ratios.mean()))
        return {"overhead_pct": overhead_pct, "ci_low_pct": math.nan, "ci_high_pct": math.nan, "p_holm": math.nan,
                "significant": bool((ratios == 0).all()), "interval_note": "no interval: a repetition delivered nothing"}
    return _interval(one_sample(np.log(ratios.to_numpy()), tests))


def _interval(estimate: Estimate) -> dict:
    """An estimate of the mean log throughput ratio as an overhead with its interval."""
    return {"overhead_pct": _overhead_pct(estimate.mean), "ci_low_pct": _overhead_pct(estimate.high),
            "ci_high_pct": _overhead_pct(estimate.low), "p_holm": estimate.p,  # adjusted once every cell is estimated
            "significant": False, "interval_note": estimate.note}


def _cost_estimate(name: str, ratios: pd.Series, tests: int, turns: list[np.ndarray] | None = None) -> dict:
    """A per-record cost's overhead, 100 x (geometric-mean ratio - 1), with its interval; empty
    (NaN) where it was not measured in at least MIN_UNITS repetitions of both cells. `turns`: the
    cost was read at every turn's edge, and its turns are paired by round like throughput's."""
    keys = [f"{name}_overhead_pct", f"{name}_ci_low_pct", f"{name}_ci_high_pct"]
    ratios = ratios[ratios > 0]
    if turns is None and len(ratios) == 0:
        return dict.fromkeys(keys, math.nan)
    estimate = series_mean(turns, tests) if turns is not None else one_sample(np.log(ratios.to_numpy()), tests)
    return dict(zip(keys, (100.0 * math.expm1(v) if not math.isnan(v) else math.nan
                           for v in (estimate.mean, estimate.low, estimate.high))))


def _overhead_pct(log_ratio: float) -> float:
    """A log throughput ratio as an overhead: a ratio below 1 is a positive overhead."""
    return -100.0 * math.expm1(log_ratio) if not math.isnan(log_ratio) else math.nan


def _limits(rows: pd.DataFrame) -> tuple[bool, bool, float]:
    """Whether the generator, Kafka in open loop, or a broker quota set the pace in any repetition."""
    return (bool(rows["generator_bound"].any()), bool(rows.get("behind_schedule", pd.Series(dtype=bool)).any()),
            float(rows.get("throttled_share", pd.Series(dtype=float)).max() or 0.0))
