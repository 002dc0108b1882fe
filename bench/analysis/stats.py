"""The statistics behind every interval and verdict, in one place so they cannot drift apart.

Everything works on logarithms: throughput, latency and their ratios are positive and their
noise is multiplicative, so a change is a ratio and its interval, exponentiated, is a ratio too.

- An estimate and its interval come from the same numbers (the mean of the log values), so the
  point can never fall outside its own interval.
- Intervals are simultaneous over the `tests` figures of one table (Bonferroni): a reader who
  scans all of them is covered at 95% at once. Verdicts use Holm's adjustment of the p-values,
  which rejects whatever that interval excludes and sometimes more, never less.
- Fewer than MIN_UNITS units, or units without any spread, give no interval: Student's t with
  one degree of freedom multiplies the spread by 12.7, which prints ranges like [-1487%, +98%].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
MIN_UNITS = 3
MAX_UNITS = 200  # the most repetitions advice will name


@dataclass(frozen=True)
class Estimate:
    """A mean of log values with its simultaneous interval and unadjusted two-sided p (H0: 0)."""

    mean: float
    low: float
    high: float
    p: float
    units: int
    note: str = ""  # why there is no interval, and what would give one
    se: float = math.nan  # the standard error behind the interval (log units)

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.low)


def one_sample(logs: np.ndarray, tests: int = 1) -> Estimate:
    """The mean of paired log ratios (repetitions that ran side by side) and its t interval."""
    logs = np.asarray(logs, dtype=float)
    n = len(logs)
    return _without_interval(logs, tests, "repetitions") or _t(float(np.mean(logs)), float(np.std(logs, ddof=1)) / math.sqrt(n),
                                                               n - 1, n, tests)


def _without_interval(logs: np.ndarray, tests: int, units: str) -> Estimate | None:
    """The estimate of too few units, or of units without any spread: a mean and why there is no interval."""
    n = len(logs)
    mean = float(np.mean(logs)) if n else math.nan
    if n < MIN_UNITS:
        return Estimate(mean, math.nan, math.nan, math.nan, n, too_few(n, logs, tests))
    if float(np.std(logs, ddof=1)) == 0.0:
        return Estimate(mean, math.nan, math.nan, math.nan, n, f"{units} identical: no spread to estimate an interval from")
    return None


HUBER_K = 1.345  # Huber's tuning constant: 95% of the mean's efficiency when the noise is normal


def series_mean(blocks: list[np.ndarray], tests: int = 1) -> Estimate:
    """The centre of paired log ratios that come in time series (turns of one alternating group,
    bench.cell.turns: several blocks, one per group) and its t interval.

    The centre is Huber's M-estimate, not the plain mean: a turn that met a stall of the broker or
    the machine (a second without acknowledgements, in whichever mode had the turn: seen as an
    at_least_once turn of 2,400 msg/s among turns of 90,000, a log ratio 3.4 from the others)
    would otherwise set the interval alone (sd of the pairs 0.37 with it, 0.21 by their median
    absolute deviation). Huber's estimate weighs a pair fully within HUBER_K robust deviations of
    the centre and caps its pull beyond; with normal noise it is the mean, to within a few percent.

    Neighbouring turns can share a slow swing of the machine, so they are not independent: the
    variance is Newey and West's on the capped residuals (Bartlett weights up to lag
    L = 4 (n/100)^(2/9), autocovariances within each block only), and never less than the
    independent one, so that a series that happens to alternate cannot narrow its own interval.
    """
    blocks = [np.asarray(b, dtype=float) for b in blocks if len(b)]
    logs = np.concatenate(blocks) if blocks else np.zeros(0)
    degenerate = _without_interval(logs, tests, "turns")
    if degenerate:
        return degenerate
    n = len(logs)
    centre, scale = huber(logs)
    psi = [np.clip((b - centre) / scale, -HUBER_K, HUBER_K) for b in blocks]
    slope = float(np.mean(np.abs(logs - centre) <= HUBER_K * scale))  # the mean derivative of the capped residual
    flat = np.concatenate(psi)
    iid = float(np.var(flat, ddof=1))
    lags = min(int(4 * (n / 100) ** (2 / 9)), max(len(b) for b in blocks) - 1)
    centred = [p - float(np.mean(flat)) for p in psi]
    long_run = sum(float(np.dot(c, c)) for c in centred) / n
    for lag in range(1, lags + 1):
        covariance = sum(float(np.dot(c[lag:], c[:-lag])) for c in centred if len(c) > lag) / n
        long_run += 2 * (1 - lag / (lags + 1)) * covariance
    return _t(centre, scale * math.sqrt(max(iid, long_run) / n) / slope, n - 1, n, tests)


def huber(values: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Huber's M-estimate of location and the scale it used (the median absolute deviation, made
    consistent with the sd of normal noise; the sd where half the values are identical)."""
    centre = float(np.median(values))
    scale = 1.4826 * float(np.median(np.abs(values - centre))) or (float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
    if scale == 0.0:  # every value the same (a resample of a few repetitions can be): nothing to weigh
        return centre, 0.0
    for _ in range(iterations):
        residual = (values - centre) / scale
        inside = np.abs(residual) <= HUBER_K
        step = scale * float(np.sum(np.clip(residual, -HUBER_K, HUBER_K))) / max(int(inside.sum()), 1)
        centre += step
        if abs(step) < 1e-12 * scale:
            break
    return centre, scale


def two_sample(base: np.ndarray, new: np.ndarray, tests: int = 1, extra_variance: float = 0.0) -> Estimate:
    """Welch's t on log values: mean(new) - mean(base).

    `extra_variance` is a known variance added to that of the difference (a run-to-run drift
    that the repetitions of one run cannot show); it counts as having infinite degrees of freedom
    in the Welch-Satterthwaite approximation.
    """
    base, new = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    nb, nn = len(base), len(new)
    mean = float(np.mean(new) - np.mean(base)) if nb and nn else math.nan
    if nb < 2 or nn < 2 or nb + nn < 2 * MIN_UNITS - 1:
        return Estimate(mean, math.nan, math.nan, math.nan, min(nb, nn), too_few(min(nb, nn), np.concatenate([base, new]), tests))
    vb, vn = float(np.var(base, ddof=1)) / nb, float(np.var(new, ddof=1)) / nn
    se2 = vb + vn + extra_variance
    if se2 == 0.0:
        return Estimate(mean, math.nan, math.nan, math.nan, min(nb, nn), "repetitions identical: no spread to estimate an interval from")
    denominator = (vb * vb / (nb - 1) if vb else 0.0) + (vn * vn / (nn - 1) if vn else 0.0)
    df = se2 * se2 / denominator if denominator else math.inf
    return _t(mean, math.sqrt(se2), df, min(nb, nn), tests)


def two_series(base: list[np.ndarray], new: list[np.ndarray], tests: int = 1, extra_variance: float = 0.0) -> Estimate:
    """The difference of two runs' centres of turns (series_mean, each with its autocorrelation-aware
    standard error), new - base, and its t interval; `extra_variance` as in two_sample. The degrees
    of freedom are Welch-Satterthwaite's over the two standard errors."""
    b, n = series_mean(base), series_mean(new)
    mean = n.mean - b.mean
    if not b.has_interval or not n.has_interval:
        return Estimate(mean, math.nan, math.nan, math.nan, min(b.units, n.units), b.note or n.note)
    vb, vn = b.se ** 2, n.se ** 2
    se2 = vb + vn + extra_variance
    df = se2 * se2 / (vb * vb / (b.units - 1) + vn * vn / (n.units - 1))
    return _t(mean, math.sqrt(se2), df, min(b.units, n.units), tests)


def _t(mean: float, se: float, df: float, units: int, tests: int) -> Estimate:
    q = stats.t.ppf(1 - ALPHA / (2 * max(tests, 1)), df)
    p = float(2 * stats.t.sf(abs(mean) / se, df))
    return Estimate(mean, mean - q * se, mean + q * se, p, units, se=se)


def too_few(units: int, logs: np.ndarray, tests: int = 1, target_pct: float = 5.0) -> str:
    """Say that there is no interval, and how many repetitions would give one of +-target_pct."""
    spread = float(np.std(logs, ddof=1)) if len(logs) > 1 else math.nan
    text = f"too few repetitions for an interval ({units}; at least {MIN_UNITS} needed"
    if not math.isnan(spread) and spread > 0:
        n = units_for(spread, math.log1p(target_pct / 100), tests)
        if n is not None:
            return text + f"; at this spread {n} would bound the ratio within about +-{target_pct:g}%)"
        return text + f"; at this spread even {MAX_UNITS} would not bound the ratio within +-{target_pct:g}%)"
    return text + ")"


def units_for(spread: float, half_width: float, tests: int = 1) -> int | None:
    """The fewest units (repetitions) whose simultaneous interval on a mean of log values with
    standard deviation `spread` is at most +-`half_width` (log units); None beyond MAX_UNITS."""
    for n in range(MIN_UNITS, MAX_UNITS + 1):
        if stats.t.ppf(1 - ALPHA / (2 * max(tests, 1)), n - 1) * spread / math.sqrt(n) <= half_width:
            return n
    return None


def spread_of(low: float, high: float, units: int, tests: int = 1) -> float:
    """The standard deviation of the log values behind a simultaneous interval [low, high] (log
    units) from `units` of them: the interval's inverse."""
    return (high - low) / 2 * math.sqrt(units) / stats.t.ppf(1 - ALPHA / (2 * max(tests, 1)), units - 1)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: controls the chance of any false alarm among all the tests."""
    m = len(p_values)
    adjusted, running = [0.0] * m, 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def pct(log_value: float) -> float:
    """A log ratio as a percentage change: 100 x (ratio - 1)."""
    return 100.0 * math.expm1(log_value) if not math.isnan(log_value) else math.nan
