"""Consumer-lag alert thresholds recommended from measured lag.

The rules, stated in words in every recommendation:
- records: warning = 2 x the largest steady-state high-watermark lag seen + 1 s of traffic;
  critical = warning + 2 s of traffic. They are set on the high-watermark lag because that is
  what kafka-consumer-groups.sh, Burrow and kafka-lag-exporter see; on transactional topics it
  includes open transactions and commit markers, so thresholds taken from it stay quiet where a
  threshold guessed from LSO lag (or from a non-transactional topic) would page.
- seconds: warning = 2 x the largest steady-state time lag + 1 s, and at least one commit
  interval + 1 s; critical = warning + 2 s.
- detection: a consumer that stops entirely lets lag grow by `rate` records and 1 s per second;
  the time to cross critical from zero lag (an upper bound) is stated, plus one sampling interval.
Steady state is the measured window outside injected faults (and 5 s after each).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from bench import modes
from bench.analysis import summary

SAMPLE_INTERVAL_S = 1.0
FAULT_SETTLE_S = 5.0
RULE = ("records: warning = 2 x max steady-state high-watermark lag + 1 s of traffic, critical = warning + 2 s of traffic; "
        "seconds: warning = 2 x max steady-state time lag + 1 s (at least one commit interval + 1 s), critical = warning + 2 s")


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
class Recommendation:
    cell_id: str
    mode: str
    transactional: bool
    samples: int
    rate_msgs: float
    commit_interval_s: float | None
    hw_lag: Percentiles
    lso_lag: Percentiles
    readable_lag: Percentiles
    time_lag_s: Percentiles
    closed_loop: bool
    transaction_overhead_share: float | None  # of the mean high-watermark lag
    warning_records: int
    critical_records: int
    warning_seconds: float
    critical_seconds: float
    detection_records_s: float  # from a full stall to crossing critical_records
    detection_seconds_s: float  # from a full stall to crossing critical_seconds
    alert_on: str
    rule: str = RULE

    def as_dict(self) -> dict:
        return asdict(self)


def steady_totals(lag: pd.DataFrame, topic: str, fault_windows: list[dict]) -> pd.DataFrame:
    """Per-sample totals over partitions (records summed, time lag the oldest) outside faults."""
    rows = lag[(lag["phase"] == "measure") & (lag["topic"] == topic)]
    for w in fault_windows:
        rows = rows[(rows["t_s"] < w["start_s"]) | (rows["t_s"] > w["end_s"] + FAULT_SETTLE_S)]
    return totals(rows)


def totals(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=["t_s", "hw_lag", "lso_lag", "readable_lag", "time_lag_s"])
    # Results from before the readable and time lag were sampled: the LSO lag, and no time lag.
    rows = rows.assign(readable_lag=rows["readable_lag"] if "readable_lag" in rows else rows["lso_lag"],
                       time_lag_s=rows["time_lag_s"] if "time_lag_s" in rows else 0.0)
    grouped = rows.groupby("t_s")
    # A partition the probe could not read in time is unknown (empty): so is that second's total.
    known = grouped["readable_lag"].count() == grouped.size()
    return pd.DataFrame({"hw_lag": grouped["hw_lag"].sum(), "lso_lag": grouped["lso_lag"].sum(),
                         "readable_lag": grouped["readable_lag"].sum().where(known),
                         "time_lag_s": grouped["time_lag_s"].max().where(known)}).reset_index()


def recommend(cell_id: str, mode_name: str, samples: pd.DataFrame, rate: float, commit_interval_s: float | None,
              closed_loop: bool = False) -> Recommendation:
    mode = modes.MODES[mode_name]
    hw, lso, age = Percentiles.of(samples["hw_lag"]), Percentiles.of(samples["lso_lag"]), Percentiles.of(samples["time_lag_s"])
    readable = Percentiles.of(samples["readable_lag"])
    mean_hw = float(samples["hw_lag"].mean()) if len(samples) else math.nan
    share = None
    if mode.uses_transactions and mean_hw > 0:
        share = float((samples["hw_lag"] - samples["readable_lag"]).clip(lower=0).mean() / mean_hw)
    warning_records = math.ceil(2 * _zero(hw.max) + rate * 1.0)
    critical_records = math.ceil(warning_records + rate * 2.0)
    floor_s = (commit_interval_s or 0.0) + 1.0
    warning_seconds = round(max(2 * _zero(age.max) + 1.0, floor_s), 2)
    critical_seconds = round(warning_seconds + 2.0, 2)
    # Upper bounds: a stall that starts from zero lag takes longest to cross.
    detection_records = critical_records / rate + SAMPLE_INTERVAL_S if rate > 0 else math.inf
    detection_seconds = critical_seconds + SAMPLE_INTERVAL_S
    alert_on = ("kafka_consumergroup_group_lag_seconds (time lag): on a transactional topic the record lag "
                "includes open transactions and commit markers" if mode.uses_transactions
                else "kafka_consumergroup_group_lag (records), with the time lag as a second signal")
    return Recommendation(
        cell_id, mode_name, mode.uses_transactions, len(samples), rate, commit_interval_s, hw, lso, readable, age, closed_loop, share,
        warning_records, critical_records, warning_seconds, critical_seconds,
        round(detection_records, 2), round(detection_seconds, 2), alert_on,
    )


def _zero(value: float) -> float:
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


def cell_samples(store, cell_id: str, repetitions) -> tuple[pd.DataFrame, dict]:
    """Steady-state lag totals of a cell over its repetitions, and the params of its first one."""
    frames, params = [], {}
    cells = {(c["params"]["cell_id"], c["params"]["repetition"]): c for c in store.cells()}
    for rep in repetitions:
        cell = cells[(cell_id, rep)]
        params = cell["params"]
        lag = store.lag(cell["dir"])
        if not lag.empty:
            frames.append(steady_totals(lag, params["topics"][-1], params.get("fault_windows") or []))
    return (pd.concat(frames, ignore_index=True) if frames else totals(pd.DataFrame())), params


def for_run(store) -> list[Recommendation]:
    """A recommendation for every cell of a run that has lag samples."""
    frame = summary.summary(store)
    out = []
    for cell_id, reps in frame[frame["status"] == "ok"].groupby("cell_id", sort=False):
        samples, params = cell_samples(store, cell_id, reps["repetition"])
        if samples.empty:
            continue
        rate = float(reps["throughput_msgs"].mean())
        out.append(recommend(cell_id, reps["mode"].iloc[0], samples, rate, commit_interval_s(params, rate),
                             closed_loop=params.get("rate") is None))
    return out
