"""Consumer-lag alert thresholds recommended from measured lag.

The rules, stated in words in every recommendation:
- records, as an exporter that reads the high watermark sees them (kafka_exporter, KMinion, Burrow,
  kafka-lag-exporter, kafka-consumer-groups.sh): warning = 2 x the largest steady-state readable lag
  + the largest LSO gap + 1 s of traffic; critical = warning + 2 s of traffic. The LSO gap is what
  such an exporter counts and a read_committed consumer can never read: the open transaction's
  records and the commit markers (high-watermark lag - readable lag, second by second). A
  threshold without it, or one tuned on an at_least_once consumer, pages for a healthy one.
- records, as the Java consumer sees them itself (records-lag-max: its worst partition, from its
  fetch position to the last stable offset under read_committed, so no gap): warning = 2 x the
  largest steady-state LSO lag of one partition + 1 s of one partition's traffic; critical =
  warning + 2 s of it. The committed offset trails the fetch position, so the run's figure bounds it.
- seconds: warning = 2 x the largest steady-state time lag + 1 s, and at least one commit
  interval + 1 s; critical = warning + 2 s.
- detection: a consumer that stops entirely lets lag grow by `rate` records and 1 s per second;
  the time to cross critical from zero lag (an upper bound) is stated, plus one sampling interval.
- ceiling: a single consumer cannot go faster than one core over its CPU per record; rules warn
  when the consumption rate comes within 20% of that.
Steady state is the measured window outside injected faults (and 5 s after each).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from bench import modes
from bench.analysis import contrast, summary

SAMPLE_INTERVAL_S = 1.0
FAULT_SETTLE_S = 5.0
NEAR_CEILING = 0.8  # a consumption rate within 20% of the consumer's ceiling
RULE = ("records (high watermark): warning = 2 x max steady-state readable lag + max LSO gap + 1 s of traffic, "
        "critical = warning + 2 s of traffic; records (Java consumer, records-lag-max): warning = 2 x max steady-state LSO lag "
        "of one partition + 1 s of its traffic, critical = warning + 2 s of it; seconds: warning = 2 x max steady-state time lag "
        "+ 1 s (at least one commit interval + 1 s), critical = warning + 2 s")


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: pd.Series) -> "Percentiles":
        v = values.dropna().to_numpy(dtype=float)
        if not len(v):
            return cls(math.nan, math.nan, math.nan)
        return cls(float(np.percentile(v, 50)), float(np.percentile(v, 99)), float(v.max()))


@dataclass(frozen=True)
class Thresholds:
    """A warning and a critical level of one lag signal, and how long a full stall takes to cross critical."""

    warning: float
    critical: float
    detection_s: float | None  # None: a stalled consumer stops updating this signal


@dataclass(frozen=True)
class Tuned:
    """What an alert tuned on a non-transactional twin (same settings otherwise) does on this cell:
    the seconds of this healthy consumer's high-watermark lag above the twin's warning, and above
    this cell's own (LSO-aware) warning."""

    twin_cell: str
    twin_warning_records: int
    crossed_s: int
    crossed_own_s: int
    samples: int


@dataclass(frozen=True)
class Recommendation:
    cell_id: str
    mode: str
    transactional: bool
    samples: int
    rate_msgs: float
    commit_interval_s: float | None
    partitions: int
    hw_lag: Percentiles
    lso_lag: Percentiles
    readable_lag: Percentiles
    lso_gap: Percentiles           # high-watermark lag - readable lag: open transactions and commit markers
    partition_lso_lag: Percentiles  # the worst partition's LSO lag, each second
    time_lag_s: Percentiles
    closed_loop: bool
    transaction_overhead_share: float | None  # of the mean high-watermark lag
    warning_records: int
    critical_records: int
    partition_warning_records: int
    partition_critical_records: int
    warning_seconds: float
    critical_seconds: float
    detection_records_s: float  # from a full stall to crossing critical_records
    detection_seconds_s: float  # from a full stall to crossing critical_seconds
    ceiling_msgs: float | None  # one core over the consumer's CPU per record
    consumer_cpu_us_per_record: float | None
    alert_on: str
    tuned_on_twin: Tuned | None = None
    rule: str = RULE

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def near_ceiling(self) -> bool:
        return self.ceiling_msgs is not None and self.rate_msgs >= NEAR_CEILING * self.ceiling_msgs

    def records(self) -> Thresholds:
        return Thresholds(self.warning_records, self.critical_records, self.detection_records_s)

    def partition_records(self) -> Thresholds:
        return Thresholds(self.partition_warning_records, self.partition_critical_records, None)

    def seconds(self) -> Thresholds:
        return Thresholds(self.warning_seconds, self.critical_seconds, self.detection_seconds_s)


def steady_totals(lag: pd.DataFrame, topic: str, fault_windows: list[dict]) -> pd.DataFrame:
    """Per-sample totals over partitions (records summed, time lag the oldest) outside faults."""
    rows = lag[(lag["phase"] == "measure") & (lag["topic"] == topic)]
    for w in fault_windows:
        rows = rows[(rows["t_s"] < w["start_s"]) | (rows["t_s"] > w["end_s"] + FAULT_SETTLE_S)]
    return totals(rows)


TOTALS = ["t_s", "hw_lag", "lso_lag", "readable_lag", "lso_gap", "partition_lso_lag", "time_lag_s", "committed"]


def totals(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=TOTALS)
    # Results from before the readable and time lag were sampled: the LSO lag, and no time lag.
    rows = rows.assign(readable_lag=rows["readable_lag"] if "readable_lag" in rows else rows["lso_lag"],
                       time_lag_s=rows["time_lag_s"] if "time_lag_s" in rows else 0.0,
                       committed=rows["committed"] if "committed" in rows else math.nan)
    grouped = rows.groupby("t_s")
    # A partition the probe could not read in time is unknown (empty): so is that second's total.
    known = grouped["readable_lag"].count() == grouped.size()
    hw, readable = grouped["hw_lag"].sum(), grouped["readable_lag"].sum().where(known)
    return pd.DataFrame({"hw_lag": hw, "lso_lag": grouped["lso_lag"].sum(), "readable_lag": readable,
                         "lso_gap": (hw - readable).clip(lower=0), "partition_lso_lag": grouped["lso_lag"].max(),
                         "time_lag_s": grouped["time_lag_s"].max().where(known),
                         "committed": grouped["committed"].sum(min_count=1)}).reset_index()


def recommend(cell_id: str, mode_name: str, samples: pd.DataFrame, rate: float, commit_interval_s: float | None,
              closed_loop: bool = False, partitions: int = 1, consumer_cpu_us: float | None = None) -> Recommendation:
    mode = modes.MODES[mode_name]
    if "lso_gap" not in samples:
        samples = samples.assign(lso_gap=(samples["hw_lag"] - samples["readable_lag"]).clip(lower=0),
                                 partition_lso_lag=samples["lso_lag"])
    hw, lso, age = Percentiles.of(samples["hw_lag"]), Percentiles.of(samples["lso_lag"]), Percentiles.of(samples["time_lag_s"])
    readable, gap = Percentiles.of(samples["readable_lag"]), Percentiles.of(samples["lso_gap"])
    worst_partition = Percentiles.of(samples["partition_lso_lag"])
    mean_hw = float(samples["hw_lag"].mean()) if len(samples) else math.nan
    share = None
    if mode.uses_transactions and mean_hw > 0:
        share = float(samples["lso_gap"].mean() / mean_hw)
    # Each second's high-watermark lag is its readable lag plus its gap, so it never exceeds the sum of their maxima.
    level = 2 * zero(readable.max if not math.isnan(readable.max) else hw.max) + zero(gap.max)
    warning_records = math.ceil(level + rate * 1.0)
    critical_records = math.ceil(warning_records + rate * 2.0)
    per_partition = rate / max(partitions, 1)
    partition_warning = math.ceil(2 * zero(worst_partition.max) + per_partition * 1.0)
    partition_critical = math.ceil(partition_warning + per_partition * 2.0)
    floor_s = (commit_interval_s or 0.0) + 1.0
    warning_seconds = round(max(2 * zero(age.max) + 1.0, floor_s), 2)
    critical_seconds = round(warning_seconds + 2.0, 2)
    # Upper bounds: a stall that starts from zero lag takes longest to cross.
    detection_records = critical_records / rate + SAMPLE_INTERVAL_S if rate > 0 else math.inf
    detection_seconds = critical_seconds + SAMPLE_INTERVAL_S
    alert_on = ("the time lag where the exporter has it; else the record lag with these LSO-aware thresholds: on a transactional "
                "topic the high-watermark lag includes the open transaction and the commit markers" if mode.uses_transactions
                else "the record lag, with the time lag as a second signal where the exporter has it")
    ceiling = 1e6 / consumer_cpu_us if consumer_cpu_us and consumer_cpu_us > 0 else None
    return Recommendation(
        cell_id, mode_name, mode.uses_transactions, len(samples), rate, commit_interval_s, partitions, hw, lso, readable, gap,
        worst_partition, age, closed_loop, share, warning_records, critical_records, partition_warning, partition_critical,
        warning_seconds, critical_seconds, round(detection_records, 2), round(detection_seconds, 2),
        None if ceiling is None else round(ceiling), consumer_cpu_us, alert_on,
    )


def zero(value: float | None) -> float:
    """A figure that was not measured (None or NaN) as 0."""
    return 0.0 if value is None or math.isnan(value) else value


def commit_interval_s(params: dict, rate: float) -> float | None:
    """How long records wait for their commit: transaction_ms, or transaction_size at this rate."""
    if params.get("transaction_ms"):
        return params["transaction_ms"] / 1000.0
    if params.get("transaction_size") and rate > 0:
        return params["transaction_size"] / rate
    return None


def first_crossing(totals_frame: pd.DataFrame, column: str, threshold: float, after_s: float) -> float | None:
    """Seconds from `after_s` until `column` first reaches `threshold`; None if it never does."""
    later = totals_frame[(totals_frame["t_s"] >= after_s) & (totals_frame[column] >= threshold)]
    return None if later.empty else float(later["t_s"].iloc[0] - after_s)


def cell_series(store, cell_id: str, repetitions) -> tuple[list[pd.DataFrame], dict]:
    """Steady-state lag totals of a cell, one frame per repetition that has samples, and the params of its first one."""
    frames, params = [], {}
    cells = {(c["params"]["cell_id"], c["params"]["repetition"]): c for c in store.cells()}
    for rep in repetitions:
        cell = cells[(cell_id, rep)]
        params = cell["params"]
        lag = store.lag(cell["dir"])
        if not lag.empty:
            frame = steady_totals(lag, params["topics"][-1], params.get("fault_windows") or [])
            if not frame.empty:
                frames.append(frame)
    return frames, params


def for_run(store) -> list[Recommendation]:
    """A recommendation for every cell of a run that has lag samples."""
    frame = summary.summary(store)
    ok = frame[frame["status"] == "ok"]
    out = {}
    samples_of = {}
    for cell_id, reps in ok.groupby("cell_id", sort=False):
        frames, params = cell_series(store, cell_id, reps["repetition"])
        if not frames:
            continue
        samples_of[cell_id] = samples = pd.concat(frames, ignore_index=True)
        rate = float(reps["throughput_msgs"].mean())
        cpu = reps["consumer_cpu_us_per_record"].mean() if "consumer_cpu_us_per_record" in reps else math.nan
        out[cell_id] = recommend(cell_id, reps["mode"].iloc[0], samples, rate, commit_interval_s(params, rate),
                                 closed_loop=params.get("rate") is None, partitions=int(params.get("partitions") or 1),
                                 consumer_cpu_us=None if math.isnan(cpu) else float(cpu))
    for base, new in twins(ok):
        b, n = base["cell_id"].iloc[0], new["cell_id"].iloc[0]
        if b in out and n in out:
            hw = samples_of[n]["hw_lag"]
            out[n] = _with(out[n], Tuned(b, out[b].warning_records, int((hw > out[b].warning_records).sum()),
                                         int((hw > out[n].warning_records).sum()), len(hw)))
    return list(out.values())


def twins(ok: pd.DataFrame):
    """(non-transactional cell, transactional cell) pairs of one topology that differ by their mode only."""
    present = ok["mode"].unique()
    plain = [m for m in present if not modes.MODES[m].uses_transactions]
    seen = set()
    for mode in (m for m in present if modes.MODES[m].uses_transactions):
        for base_mode in plain:
            for base, new in contrast.pairs(ok, {"mode": base_mode}, {"mode": mode}):
                if new["cell_id"].iloc[0] not in seen and base["topology"].iloc[0] == new["topology"].iloc[0]:
                    seen.add(new["cell_id"].iloc[0])
                    yield base, new


def _with(r: Recommendation, tuned: Tuned) -> Recommendation:
    return Recommendation(**{**{k: getattr(r, k) for k in r.__dataclass_fields__}, "tuned_on_twin": tuned})


def measured(store, cell_id: str) -> list[pd.DataFrame]:
    """The steady-state lag totals of each finished repetition of one cell."""
    frame = summary.summary(store)
    reps = frame[(frame["status"] == "ok") & (frame["cell_id"] == cell_id)]["repetition"]
    return cell_series(store, cell_id, reps)[0]
