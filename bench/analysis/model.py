"""What exactly-once costs across a sweep, as one fitted curve: the answer, not a list of points.

Closed loop, every record costs its own time and every transaction adds a fixed cost that grows with
the partitions it touches (AddPartitionsToTxn, EndTxn, one marker per partition, the commit's round
trip). Over n records per transaction touching q partitions, the throughput relative to the
baseline (at_least_once) is then

    r(n, q) = c / (1 + (a + b q) / n)

where c is what idempotence alone leaves (an idempotent cell measures it directly: n infinite),
and a + b q is a transaction's fixed cost in records' worth of time. q is what each cell's
transactions really touched (metrics `partitions_per_transaction`), not the topic's partition
count: librdkafka's sticky partitioner keeps keyless records on one partition for 10 ms, so a
transaction of a hundred records touches one partition of sixteen. n is what they really held
(`records_per_transaction`: a turn's end commits the open transaction early).

The fit is weighted least squares on the log ratios, each point weighted by its own variance (its
paired turns', with the autocorrelation in it: bench.analysis.stats.series_mean). Intervals for the
parameters, the predictions and the crossings come from a moving-block bootstrap of rounds: a
replicate draws each repetition's rounds in blocks, the same rounds for every cell measured against
one baseline cell, so the pairing and the autocorrelation stay as they were measured, and refits.
The weighted residuals give a lack-of-fit test (chi-squared on the points less the parameters): it
says when the form does not hold for the data. Predictions and crossings are given only inside the
measured range of n and partitions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bench.analysis.columns import with_parameter_columns
from bench.analysis.overhead import baseline_pairs, paired_ratios, turn_pairs
from bench.analysis.stats import ALPHA, huber, one_sample, series_mean
from bench.formatting import finite
from bench.parameters import BY_NAME as PARAMETERS

TARGETS_PCT = (30.0, 10.0)   # the crossings: the vendor claim's two ends
BOOTSTRAP = 1000             # replicates; the crossings' 95% percentiles move by under 2% between seeds at this count
SEED = 20170628              # fixed: the same run gives the same answer
MODES = ("transactional", "idempotent")  # what the curve is fitted to: idempotent is its n -> infinity end
# What a curve is drawn across; every other parameter (message size, Kafka version, ...) makes a curve of its own.
ACROSS = ("mode", "partitions", "transaction_size", "transaction_ms")


@dataclass(frozen=True)
class Point:
    """One measured cell against its baseline: the model's data."""

    cell_id: str
    mode: str
    partitions: int
    n: float                # records per transaction as measured (inf: idempotent)
    q: float                # partitions each transaction touched as measured (0: idempotent)
    o: float                # how full the producer's in-flight bound is at the commit, n / (n + n_o) (0: idempotent)
    baseline_msgs: float    # the baseline cell's mean throughput
    throughput_msgs: float
    y: float                # centre of the paired log ratios
    se: float               # its standard error (autocorrelation included)
    units: int              # paired turns (or repetitions) behind it
    group: str              # the baseline cell: points of one group share their rounds


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Crossing:
    """Where the overhead falls to `target_pct` at one partition count."""

    target_pct: float
    partitions: int
    status: str                 # inside | below (already under at the smallest n) | above (not reached by the largest) | never
    n: Interval | None          # records per transaction, with its bootstrap interval (an end beyond the range: inf / 0)
    commit_ms: Interval | None  # the same as a commit interval at the throughput the mode then has
    n_range: tuple[float, float]
    floor_pct: Interval         # the curve's floor, 100 (1 - c): what no transaction size gets under


@dataclass(frozen=True)
class Residual:
    cell_id: str
    partitions: int
    n: float
    measured_pct: float
    measured_low_pct: float
    measured_high_pct: float
    predicted_pct: float
    residual_pct: float         # measured - predicted, in overhead points
    z: float                    # the residual over the point's own standard error


@dataclass(frozen=True)
class Fit:
    """The fitted curve of one family of cells (one message size, Kafka version, ...)."""

    family: dict
    form: str
    parameters: dict[str, Interval]
    residuals: list[Residual]
    chi2: float
    df: int
    p_value: float
    holds: bool | None          # None: no degrees of freedom left to test
    verdict: str
    crossings: list[Crossing]
    baseline_msgs: dict[int, float]  # partitions -> the baseline's throughput
    n_range: tuple[float, float]
    partitions: tuple[int, ...]
    points: list[Point] = field(repr=False, default_factory=list)
    replicates: np.ndarray | None = field(repr=False, default=None)  # bootstrap thetas (log c, a, b, d)
    theta: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    in_flight_records: float = math.inf  # n_o: the records the producer's in-flight bound holds

    def predict(self, n: float, partitions: int) -> Interval:
        """The overhead (%) at n records per transaction over `partitions`; refused outside the measured range."""
        low, high = self.n_range
        if not low * (1 - 1e-9) <= n <= high * (1 + 1e-9):  # the ends themselves, whatever the rounding
            raise ValueError(f"transaction_size {n:,.0f} lies outside the measured range ({low:,.0f} to {high:,.0f} records "
                             "per transaction): the model does not extrapolate")
        if not min(self.partitions) <= partitions <= max(self.partitions):
            raise ValueError(f"partitions {partitions} lies outside the measured range ({min(self.partitions)} to "
                             f"{max(self.partitions)}): the model does not extrapolate")
        q, o = self._q(n, partitions), self._o(n)
        value = _overhead(self.theta, n, q, o)
        spread = (100 * (1 - np.exp(_ratio_log(self.replicates.T, n, q, o))) if self.replicates is not None else [])
        return Interval(value, *_percentiles(spread, value))

    def _q(self, n: float, partitions: int) -> float:
        return touched(self.points, n, partitions)

    def _o(self, n: float | np.ndarray) -> float | np.ndarray:
        return filled(n, self.in_flight_records)

    def as_dict(self) -> dict:
        out = asdict(self)
        for key in ("points", "replicates", "theta"):
            out.pop(key)
        return finite(out)


def touched(points: list[Point], n: float, partitions: int) -> float:
    """Partitions a transaction of n records touches at `partitions`: interpolated in log n between
    the measured cells of that partition count, and in log partitions between two measured counts."""
    def at(p: int) -> float:
        measured = sorted((pt.n, pt.q) for pt in points if pt.partitions == p and math.isfinite(pt.n))
        if not measured:
            return 1.0
        ns, qs = zip(*measured)
        return float(np.exp(np.interp(math.log(n), np.log(ns), np.log(qs))))

    counts = sorted({pt.partitions for pt in points if math.isfinite(pt.n)})
    if partitions in counts or not counts:
        return at(partitions) if counts else 1.0
    below = max((c for c in counts if c < partitions), default=counts[0])
    above = min((c for c in counts if c > partitions), default=counts[-1])
    if below == above:
        return at(below)
    w = (math.log(partitions) - math.log(below)) / (math.log(above) - math.log(below))
    return float(math.exp((1 - w) * math.log(at(below)) + w * math.log(at(above))))


def _ratio_log(theta, n, q, o):
    log_c, a, b, d = theta
    n = np.asarray(n, dtype=float)
    fixed = np.where(np.isfinite(n), (a + b * np.asarray(q, dtype=float) + d * np.asarray(o, dtype=float))
                     / np.where(np.isfinite(n), n, 1.0), 0.0)
    return log_c - np.log1p(fixed)


def _overhead(theta, n: float, q: float, o: float) -> float:
    return float(100 * (1 - np.exp(_ratio_log(theta, n, q, o))))


def _percentiles(values, centre: float) -> tuple[float, float]:
    values = np.asarray([v for v in values if not (isinstance(v, float) and math.isnan(v))], dtype=float)
    if not len(values):
        return math.nan, math.nan
    low, high = np.percentile(values, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(low), float(high)


# ----------------------------------------------------------------------------- the data

@dataclass
class _Group:
    """The points measured against one baseline cell, with their paired values in blocks (one per
    repetition under order alternating, its rounds in order; under another order one block of every
    repetition): the bootstrap draws the same units of a block for every point of the group."""

    baseline_id: str
    blocks: dict[str, list[np.ndarray]] = field(default_factory=dict)  # point -> its blocks


def _family(row: pd.Series) -> tuple:
    def plain(value):
        value = value.item() if isinstance(value, np.generic) else value
        return None if isinstance(value, float) and math.isnan(value) else value
    return tuple((k, plain(row[k])) for k in _FAMILY_KEYS if k in row.index)


_FAMILY_KEYS = ("topology", "driver", "fan_out", "message_size", "serialization", "rate", "producers", "launcher",
                "replication_factor", "max_in_flight", "max_outstanding_kb", "abort_ratio", "transaction_version", "kafka_version")


def data(summary: pd.DataFrame, baseline: str | None) -> dict[tuple, tuple[list[Point], list[_Group]]]:
    """The model's points, by family, from a run's summary: every transactional and idempotent
    cell of topology produce in closed loop, paired with its baseline."""
    families: dict[tuple, tuple[list[Point], list[_Group]]] = {}
    groups: dict[tuple, _Group] = {}
    for cell_id, cell, base in baseline_pairs(with_parameter_columns(summary), baseline):
        first = cell.iloc[0]
        if first["mode"] not in MODES or first["topology"] != "produce" or first["rate"] != "max":
            continue
        turns = turn_pairs(cell, base)
        if turns is not None:
            blocks = turns
            estimate = series_mean(turns)
        else:
            ratios = paired_ratios(cell, base).dropna()
            ratios = ratios[ratios > 0]
            blocks = [np.log(ratios.to_numpy())]
            estimate = one_sample(blocks[0])
        if not estimate.has_interval:
            continue
        transactional = first["mode"] == "transactional"
        n = _mean(cell, "records_per_transaction") if transactional else math.nan
        q = _mean(cell, "partitions_per_transaction") if transactional else math.nan
        if transactional and not n > 0:  # a run from before transactions were measured: their nominal size
            n = float(first["transaction_size"]) if pd.notna(first["transaction_size"]) else math.nan
            if not n > 0:
                continue  # transactions bounded by time only, and not measured: no x to put it at
        if transactional and not q > 0:
            q = math.nan  # not measured: the curve then has no partitions term (its b)
        base_id = str(base.iloc[0]["cell_id"])
        n_o = in_flight_records(first)
        point = Point(cell_id, first["mode"], int(first["partitions"]), n if transactional else math.inf, q if transactional else 0.0,
                      filled(n, n_o) if transactional else 0.0, float(base["throughput_msgs"].mean()), float(cell["throughput_msgs"].mean()), estimate.mean,
                      estimate.se, estimate.units, base_id)
        family = _family(first)
        points, family_groups = families.setdefault(family, ([], []))
        points.append(point)
        if (family, base_id) not in groups:  # one baseline cell can serve several families (drivers, levels)
            groups[family, base_id] = _Group(base_id)
            family_groups.append(groups[family, base_id])
        groups[family, base_id].blocks[cell_id] = [np.asarray(b, dtype=float) for b in blocks]
    return families


def in_flight_records(row) -> float:
    """n_o: the records a closed-loop producer holds sent and not yet acknowledged (its queue bound,
    max_outstanding_kb, over the record size): a commit first waits for what is in flight, which is
    the whole transaction when it is smaller, and the bound's worth of records when it is larger."""
    kb = row.get("max_outstanding_kb") if hasattr(row, "get") else None
    kb = PARAMETERS["max_outstanding_kb"].default if kb is None or pd.isna(kb) else float(kb)
    return max(1.0, kb * 1024 / float(row.get("message_size") or 1024))


def filled(n, n_o):
    """How much of the in-flight bound a commit waits for, as a share of the bound: a small
    transaction is all in flight (n / n_o), a large one fills the bound (1), and the two join
    smoothly, n / (n + n_o): a producer's queue is not always full when its transaction ends."""
    return np.asarray(n, dtype=float) / (np.asarray(n, dtype=float) + n_o)


def _mean(rows: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(rows[column], errors="coerce").mean()) if column in rows else math.nan


# ----------------------------------------------------------------------------- the fit

def fit(points: list[Point], groups: list[_Group], family: dict, replicates: int = BOOTSTRAP, seed: int = SEED) -> Fit | str:
    """The curve through these points, or why there is none (one line)."""
    transactional = [p for p in points if math.isfinite(p.n)]
    if len(transactional) < 2 or max(p.n for p in transactional) < 2 * min(p.n for p in transactional):
        return (f"{len(transactional)} transactional cell(s) with an interval, at "
                f"{', '.join(sorted({rounded(p.n) for p in transactional})) or 'no'} records per transaction: "
                "a curve needs at least 2 transaction sizes a factor of 2 apart")
    qs, os_ = [p.q for p in transactional], [p.o for p in transactional]
    free = ["a"]  # the in-flight wait before the partitions term: measured, it is the one that matters (b came out 0)
    if len(transactional) >= len(free) + 2 and max(os_) - min(os_) >= 0.5:
        free.append("d")
    if len(transactional) >= len(free) + 2 and all(q > 0 for q in qs) and max(qs) >= 2 * min(qs):
        free.append("b")
    points = [p if p.q > 0 or not math.isfinite(p.n) else replace(p, q=1.0) for p in points]  # q unmeasured: b is not fitted
    if len(points) < len(free) + 1:
        return f"{len(points)} points for {len(free) + 1} parameters: measure more transaction sizes (or idempotent)"
    n, q, o = (np.array([getattr(p, k) for p in points]) for k in ("n", "q", "o"))
    y, w = np.array([p.y for p in points]), np.array([1 / max(p.se, 1e-6) ** 2 for p in points])

    theta = _least_squares(n, q, o, y, w, free)
    residual = y - _ratio_log(theta, n, q, o)
    chi2 = float(np.sum(w * residual ** 2))
    df = len(points) - len(free) - 1
    p_value = float(stats.chi2.sf(chi2, df)) if df > 0 else math.nan
    holds = None if df <= 0 else p_value >= ALPHA
    boot = _bootstrap(points, groups, n, q, o, w, free, replicates, seed, theta)

    parameters = {"c": Interval(math.exp(theta[0]), *_percentiles(np.exp(boot[:, 0]), math.exp(theta[0])))}
    for name in free:
        i = _TERMS.index(name) + 1
        parameters[name] = Interval(float(theta[i]), *_percentiles(boot[:, i], float(theta[i])))
    ordered = sorted(points, key=lambda p: (p.partitions, p.n))
    residuals = [_residual(p, theta) for p in ordered]
    counts = tuple(sorted({p.partitions for p in points}))
    n_range = (min(p.n for p in transactional), max(p.n for p in transactional))
    baseline = {p.partitions: p.baseline_msgs for p in points}
    fixed = " + ".join({"a": "a", "b": "b*q", "d": "d*n/(n + n_o)"}[k] for k in _TERMS if k in free)
    form = f"r = c / (1 + ({fixed}) / n)" if len(free) > 1 else "r = c / (1 + a / n)"
    verdict = (f"no degrees of freedom left to test the fit ({len(points)} points, {len(free) + 1} parameters)" if holds is None else
               f"the model fits (chi-squared {chi2:.1f} on {df} df, p = {p_value:.2f})" if holds else
               f"the model does not fit these points (chi-squared {chi2:.1f} on {df} df, p = {p_value:.2g}): read the measured points, not the curve")
    model = Fit(dict(family), form, parameters, residuals, chi2, df, p_value, holds, verdict, [], baseline, n_range, counts,
                ordered, boot, tuple(float(v) for v in theta), in_flight_records(family))
    crossings = [_crossing(model, target, p) for p in counts for target in TARGETS_PCT]
    return Fit(**{**model.__dict__, "crossings": crossings})


_TERMS = ("a", "b", "d")  # theta = (log c, a, b, d); a term not fitted stays 0


def _least_squares(n: np.ndarray, q: np.ndarray, o: np.ndarray, y: np.ndarray, w: np.ndarray, free: list[str],
                   start: np.ndarray | None = None) -> np.ndarray:
    """The weighted fit of log r; `start` (a full theta) starts it there: the bootstrap's refits
    start from the fit to the measured points, which they lie close to."""
    sw = np.sqrt(w)
    finite_n = np.isfinite(n)
    where = [_TERMS.index(k) + 1 for k in free]
    if start is None:
        log_c0 = float(np.clip(np.max(y), -9.0, 0.9))
        a0 = float(np.median(np.maximum(n[finite_n] * np.expm1(log_c0 - y[finite_n]), 1.0))) if finite_n.any() else 1.0
        x0 = [log_c0, a0 if math.isfinite(a0) else 1.0] + [0.0] * (len(free) - 1)
    else:
        x0 = [start[0], *start[where]]
    per_record = np.where(finite_n, 1 / np.where(finite_n, n, 1.0), 0.0)
    terms = {"a": np.ones_like(per_record), "b": np.where(finite_n, np.asarray(q, dtype=float), 0.0),
             "d": np.where(finite_n, np.asarray(o, dtype=float), 0.0)}

    def full(params) -> np.ndarray:
        theta = np.zeros(4)
        theta[0] = params[0]
        theta[where] = params[1:]
        return theta

    def residuals(params):
        return sw * (y - _ratio_log(full(params), n, q, o))

    def jacobian(params):  # of the residuals: log r = log c - log(1 + (a + b q + d o) / n)
        theta = full(params)
        share = sw * per_record / (1 + per_record * (theta[1] + theta[2] * terms["b"] + theta[3] * terms["d"]))
        return np.column_stack([-sw, *(share * terms[k] for k in free)])

    lower, upper = [-10.0] + [0.0] * len(free), [1.0] + [np.inf] * len(free)
    x0 = np.clip(x0, lower, upper)
    if start is not None:  # MINPACK's Levenberg-Marquardt, unbounded, is ten times faster: kept where it stays in bounds
        free_fit = optimize.least_squares(residuals, x0, jac=jacobian, method="lm", x_scale="jac")
        if free_fit.success and np.all(free_fit.x >= lower) and np.all(free_fit.x <= upper):
            return full(free_fit.x)
    solution = optimize.least_squares(residuals, x0, jac=jacobian, bounds=(lower, upper), x_scale="jac")
    return full(solution.x)


def _bootstrap(points: list[Point], groups: list[_Group], n, q, o, w, free: list[str], replicates: int, seed: int,
               theta: np.ndarray) -> np.ndarray:
    """Refit on `replicates` moving-block resamples of every group's rounds (the same rounds for
    every point of a group), the points' weights kept as measured."""
    rng = np.random.default_rng(seed)
    where = {p.cell_id: i for i, p in enumerate(points)}
    out = np.empty((replicates, 4))
    for b in range(replicates):
        y = np.empty(len(points))
        for group in groups:
            units = [max(len(blocks[i]) for blocks in group.blocks.values() if i < len(blocks))
                     for i in range(max(len(blocks) for blocks in group.blocks.values()))]
            drawn = [_blocks(rng, count) for count in units]
            for name, blocks in group.blocks.items():
                values = np.concatenate([block[index[index < len(block)]] for block, index in zip(blocks, drawn)])
                y[where[name]] = huber(values)[0]
        out[b] = _least_squares(n, q, o, y, w, free, theta)
    return out


def _blocks(rng: np.random.Generator, units: int) -> np.ndarray:
    """Indices of a moving-block resample of `units` consecutive units (blocks of about units^(1/3))."""
    length = max(1, round(units ** (1 / 3)))
    starts = rng.integers(0, units - length + 1, size=math.ceil(units / length))
    return (starts[:, None] + np.arange(length)[None, :]).ravel()[:units]


def _residual(point: Point, theta) -> Residual:
    measured = 100 * (1 - math.exp(point.y))
    predicted = _overhead(theta, point.n, point.q, point.o)
    half = stats.norm.ppf(1 - ALPHA / 2) * point.se
    return Residual(point.cell_id, point.partitions, point.n, measured, 100 * (1 - math.exp(point.y + half)),
                    100 * (1 - math.exp(point.y - half)), predicted, measured - predicted,
                    (point.y - float(_ratio_log(theta, point.n, point.q, point.o))) / point.se)


def _crossing(model: Fit, target_pct: float, partitions: int) -> Crossing:
    ns = [p.n for p in model.points if p.partitions == partitions and math.isfinite(p.n)]
    asymptote = 100 * (1 - math.exp(model.theta[0]))
    if not ns:
        return Crossing(target_pct, partitions, "above", None, None, (math.nan, math.nan), Interval(asymptote, math.nan, math.nan))
    n_range = (min(ns), max(ns))
    grid = np.exp(np.linspace(math.log(n_range[0]), math.log(n_range[1]), 400))
    qs = np.array([model._q(float(v), partitions) for v in grid])
    os_ = model._o(grid)

    floor_measured = any(not math.isfinite(p.n) and p.partitions == partitions for p in model.points)

    def solve(theta) -> tuple[str, float]:
        if floor_measured and 100 * (1 - math.exp(theta[0])) > target_pct:
            return "never", math.inf  # c is idempotent's, measured: no transaction size gets under it
        overhead = 100 * (1 - np.exp(_ratio_log(theta, grid, qs, os_)))
        under = np.nonzero(overhead <= target_pct)[0]
        if not len(under):
            return "above", math.inf
        i = int(under[0])
        if i == 0:
            return "below", 0.0
        # between grid[i - 1] (over the target) and grid[i] (under it), in log n
        x0, x1, o0, o1 = math.log(grid[i - 1]), math.log(grid[i]), overhead[i - 1], overhead[i]
        return "inside", math.exp(x0 + (x1 - x0) * (o0 - target_pct) / (o0 - o1))

    status, value = solve(model.theta)
    solved = [solve(t) for t in model.replicates] if model.replicates is not None else []
    spread = [v for _, v in solved]
    if status == "never" and sum(s == "never" for s, _ in solved) < (1 - ALPHA / 2) * len(solved):
        status = "above"  # the floor's interval reaches under the target: not reached in range, not "never"
    # an end beyond the measured range stays inf (above it) or 0 (below it): percentiles of ranks, not of values
    ordered = sorted(spread)
    low, high = ((ordered[int(math.floor(ALPHA / 2 * (len(ordered) - 1)))], ordered[int(math.ceil((1 - ALPHA / 2) * (len(ordered) - 1)))])
                 if ordered else (math.nan, math.nan))
    n = Interval(value, low, high)
    rate = (1 - target_pct / 100) * model.baseline_msgs[partitions]
    commit = Interval(*(1000 * v / rate if math.isfinite(v) else v for v in (value, low, high))) if rate > 0 else None
    floor = Interval(asymptote, *(100 * (1 - math.exp(v)) for v in np.percentile(model.replicates[:, 0], [100 * (1 - ALPHA / 2), 100 * ALPHA / 2]))) \
        if model.replicates is not None else Interval(asymptote, math.nan, math.nan)
    return Crossing(target_pct, partitions, status, n, commit, n_range, floor)


def fits(summary: pd.DataFrame, baseline: str | None, replicates: int = BOOTSTRAP) -> list[Fit | tuple[dict, str]]:
    """Every family's curve (or, for a family that has none, its family and why)."""
    out: list[Fit | tuple[dict, str]] = []
    for family, (points, groups) in data(summary, baseline).items():
        model = fit(points, groups, dict(family), replicates)
        out.append(model if isinstance(model, Fit) else (dict(family), model))
    return out


# ----------------------------------------------------------------------------- the answer in words

def rounded(value: float) -> str:
    """A record count as a reader quotes it: two significant figures (1,267 -> 1,300)."""
    if not math.isfinite(value):
        return "-"
    if value < 100:
        return f"{value:,.0f}"
    digits = int(math.floor(math.log10(value))) - 1
    return f"{round(value, -digits):,.0f}"


def _size(bytes_: int) -> str:
    return f"{bytes_ // 1024} KB" if bytes_ % 1024 == 0 else f"{bytes_:,} B"


def interval_text(c: Crossing) -> str:
    low = "<" + rounded(c.n_range[0]) if c.n.low <= 0 else rounded(c.n.low)
    high = ">" + rounded(c.n_range[1]) if not math.isfinite(c.n.high) else rounded(c.n.high)
    return f"[{low}, {high}]"


def _crossing_words(c: Crossing) -> str:
    """One crossing as a clause: where the overhead falls to its target, or why it does not in range."""
    if c.status == "inside":
        commit = (f" (a commit every {c.commit_ms.value:,.0f} ms at {rounded(1000 * c.n.value / c.commit_ms.value)} msg/s)"
                  if c.commit_ms else "")
        return f"cost {c.target_pct:g}% or less from {rounded(c.n.value)} {interval_text(c)} records per transaction{commit}"
    if c.status == "below":
        return f"cost {c.target_pct:g}% or less already at {rounded(c.n_range[0])} records per transaction, the smallest size measured"
    floor = f"{c.floor_pct.value:.0f}% [{c.floor_pct.low:.0f}, {c.floor_pct.high:.0f}]"
    if c.status == "never":
        return f"never cost {c.target_pct:g}% or less: the curve's floor, idempotence's cost, is {floor}, which no transaction size gets under"
    above = f"cost more than {c.target_pct:g}% up to {rounded(c.n_range[1])} records per transaction, the largest size measured"
    return above + (f" (the curve's floor is {floor})" if c.floor_pct.value > c.target_pct - 5 else "")


def family_text(family: dict) -> str:
    """A curve's family as a reader names it: Kafka 4.1.1, 1 KB records (and the client stack and
    transaction.version where they are not the defaults)."""
    return ", ".join(filter(None, [
        f"Kafka {family['kafka_version']}" if family.get("kafka_version") else "",
        f"{_size(int(family['message_size']))} records" if family.get("message_size") else "",
        "Java clients" if family.get("driver") == "java" else "",
        f"transaction.version {int(family['transaction_version'])}" if family.get("transaction_version") else ""]))


def sentences(model: Fit) -> list[str]:
    """The answer first, in words: per partition count, from what transaction size exactly-once
    costs 30% and 10% or less, with intervals, and what idempotence alone costs."""
    context = family_text(model.family)
    out = []
    for partitions in model.partitions:
        by_target = {c.target_pct: c for c in model.crossings if c.partitions == partitions}
        shown = [by_target[t] for t in TARGETS_PCT if t in by_target]
        if shown and shown[0].status == "above":  # more than 30% throughout: more than 10% goes without saying
            shown = shown[:1]
        parts = [_crossing_words(c) for c in shown]
        measured = [r for r in model.residuals if r.partitions == partitions and math.isfinite(r.n)]
        near = min(measured, key=lambda r: abs(math.log(r.n / 1000))) if measured else None
        at = f"; at {rounded(near.n)} records {near.measured_pct:.0f}% [{near.measured_low_pct:.0f}, {near.measured_high_pct:.0f}] (measured)" if near else ""
        idempotent = [r for r in model.residuals if r.partitions == partitions and not math.isfinite(r.n)]
        alone = (f" Idempotence alone costs {idempotent[0].measured_pct:.0f}% [{idempotent[0].measured_low_pct:.0f}, "
                 f"{idempotent[0].measured_high_pct:.0f}]." if idempotent else "")
        low, high = by_target.get(30.0), by_target.get(10.0)
        claim = ""
        if low and high and low.status == "inside" and high.status == "inside":
            claim = f" '10-30%' holds between {rounded(low.n.value)} and {rounded(high.n.value)} records per transaction."
        elif low and low.status == "inside" and high:
            claim = (f" '10-30%' holds from {rounded(low.n.value)} records per transaction up to the largest measured "
                     f"({rounded(high.n_range[1])}) at least." if high.status == "above" else
                     f" '10-30%' holds from {rounded(low.n.value)} records per transaction on, never under 10%.")
        out.append(f"{context}, {partitions} partition{'s' if partitions > 1 else ''}, this cluster: transactions "
                   f"{', and '.join(parts)}{at}.{alone}{claim}")
    if model.holds is False:
        out.append(f"Caution: {model.verdict}.")
    return out


def record(fitted: list[Fit | tuple[dict, str]]) -> dict:
    """What model.json holds: every curve with its answer in words, and why a family has none."""
    return finite({"method": __doc__.split("\n\n")[0].strip(),
                   "curves": [dict(f.as_dict(), answer=sentences(f)) for f in fitted if isinstance(f, Fit)],
                   "no_curve": [{"family": f[0], "why": f[1]} for f in fitted if not isinstance(f, Fit)]})


# ----------------------------------------------------------------------------- the latency paid

@dataclass(frozen=True)
class Tradeoff:
    """One transaction size of an open-loop run beside the curve: what it costs in throughput
    (closed loop, the curve's) and what a read_committed reader waits (open loop, at `rate`)."""

    partitions: int
    transaction_size: int | None
    n: float                    # records per transaction as measured in the open-loop cell
    rate: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    baseline_e2e_p99_ms: float  # at_least_once at the same rate and partitions
    overhead_pct: Interval | None  # the curve's, at n (None outside its measured range)


def tradeoff(curve: Fit, latency: pd.DataFrame, baseline: str | None) -> list[Tradeoff]:
    """The open-loop transactional cells of `latency` (a run's summary) at the curve's message size
    and partition counts, each with the curve's overhead at its transaction size."""
    ok = latency[(latency["status"] == "ok") & (latency["mode"] == "transactional") & (latency["rate"] != "max")]
    ok = ok[ok["message_size"] == curve.family.get("message_size")] if "message_size" in ok else ok
    out = []
    for (partitions, size), rows in ok.groupby(["partitions", "transaction_size"], dropna=False, sort=True):
        partitions = int(partitions)
        if partitions not in curve.partitions:
            continue
        n = float(rows["records_per_transaction"].mean()) if "records_per_transaction" in rows else float(size)
        base = latency[(latency["status"] == "ok") & (latency["mode"] == baseline) & (latency["partitions"] == partitions)
                       & (latency["rate"].astype(str) == str(rows["rate"].iloc[0]))]
        try:
            cost = curve.predict(n, partitions)
        except ValueError:
            cost = None
        out.append(Tradeoff(partitions, None if pd.isna(size) else int(size), n, float(rows["rate"].iloc[0]),
                            float(rows["e2e_p50_ms"].mean()), float(rows["e2e_p99_ms"].mean()),
                            float(base["e2e_p99_ms"].mean()) if len(base) else math.nan, cost))
    return out


def latency_at(rows: list[Tradeoff], partitions: int, n: float) -> float:
    """A read_committed reader's p99 at n records per transaction, interpolated in log-log between
    the open-loop cells of that partition count; NaN outside them (never extrapolated)."""
    measured = sorted((r.n, r.e2e_p99_ms) for r in rows if r.partitions == partitions and r.e2e_p99_ms > 0)
    if len(measured) < 2 or not measured[0][0] <= n <= measured[-1][0]:
        return math.nan
    ns, p99 = zip(*measured)
    return float(np.exp(np.interp(math.log(n), np.log(ns), np.log(p99))))


def tradeoff_sentences(curve: Fit, rows: list[Tradeoff]) -> list[str]:
    """The latency paid at each crossing, in words."""
    out = []
    for partitions in curve.partitions:
        at = [(c, latency_at(rows, partitions, c.n.value)) for c in curve.crossings
              if c.partitions == partitions and c.status == "inside"]
        at = [(c, ms) for c, ms in at if math.isfinite(ms)]
        mine = [r for r in rows if r.partitions == partitions]
        if not at or not mine:
            continue
        rate = mine[0].rate
        paid = "; ".join(f"at the {c.target_pct:g}% crossing ({rounded(c.n.value)} records per transaction) a read_committed reader's "
                         f"p99 is about {ms:,.0f} ms" for c, ms in at)
        base = mine[0].baseline_e2e_p99_ms
        out.append(f"{partitions} partition{'s' if partitions > 1 else ''}, open loop at {rate:,.0f} msg/s: {paid}"
                   + (f" (at_least_once: {base:,.0f} ms)." if math.isfinite(base) else "."))
    return out
