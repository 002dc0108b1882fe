"""The long table of a run: one row per cell and repetition (`summary.csv`, `summary.parquet`),
and the per-cell aggregate over repetitions with its stability flags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench import modes
from bench.parameters import NAMES as PARAM_COLUMNS
from bench.results import RunStore

CV_LIMIT = 0.10
THROTTLE_LIMIT = 0.01  # share of the window a quota held the producers back before a cell says so


def summary(store: RunStore) -> pd.DataFrame:
    return table([row(store, cell) for cell in store.cells()])


def table(rows: list[dict]) -> pd.DataFrame:
    """The summary of these rows, in run order (a run being written adds one row per cell)."""
    frame = pd.DataFrame(sorted(rows, key=lambda r: r["ordinal"]))
    if frame.empty:
        return pd.DataFrame(columns=["cell_id", "repetition", *PARAM_COLUMNS, "status"])
    return frame


def row(store: RunStore, cell: dict) -> dict:
    """One cell repetition's row of the summary."""
    return _row(cell, store.lag(cell["dir"]))


def _row(cell: dict, lag: pd.DataFrame) -> dict:
    p, m = cell["params"], cell["metrics"]
    row = {"cell_id": p["cell_id"], "repetition": p["repetition"], "ordinal": p["ordinal"], "kafka_version": p.get("kafka_version")}
    row.update({k: p.get(k) for k in PARAM_COLUMNS})
    row["rate"] = "max" if p.get("rate") is None else p["rate"]
    for key in ("sent", "acked", "failed", "aborted", "consumed", "duplicates", "lost", "unexpected",
                "throughput_msgs", "throughput_mb", "transactions", "aborts"):
        row[key] = m.get(key)
    for kind, percentiles in (("produce", ("p50", "p99", "p999", "p9999")), ("e2e", ("p50", "p99", "p999", "p9999")),
                              ("commit", ("p50", "p99", "p999")), ("send_delay", ("p50", "p99"))):
        for pct in percentiles:
            row[f"{kind}_{pct}_ms"] = (m.get(kind) or {}).get(f"{pct}_ms")
    row.update(_lag_maxima(lag, p))
    row["loop"] = m.get("loop")
    row["generator_bound"] = m.get("generator_bound")
    row["behind_schedule"] = bool(m.get("behind_schedule"))  # open loop: Kafka did not take the rate
    row["throttled_share"] = m.get("throttled_share", 0.0)    # a broker quota held the producers back
    row["generator_cpu_share"] = m.get("generator_cpu_share")
    row["faults"] = ";".join(f["kind"] for f in p.get("fault_windows") or [])
    # librdkafka's error lines (a broker down, a request timed out): counted per kind in metrics.json
    row["client_errors"] = sum(n for counts in (m.get("client_log_counts") or {}).values()
                               for kind, n in counts.items() if kind.split("/")[0] in ("ERROR", "CRITICAL"))
    row["status"] = m.get("status")
    return row


def _lag_maxima(lag: pd.DataFrame, params: dict) -> dict:
    """Largest total lag of the verified (final) group during the measured window."""
    if lag.empty:
        return {"lag_max_msgs": None, "lso_lag_max_msgs": None}
    final = params["topics"][-1]
    window = lag[(lag["phase"] == "measure") & (lag["topic"] == final)]
    totals = window.groupby("t_s")[["hw_lag", "lso_lag"]].sum()
    return {"lag_max_msgs": int(totals["hw_lag"].max()) if len(totals) else None,
            "lso_lag_max_msgs": int(totals["lso_lag"].max()) if len(totals) else None}


def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: throughput mean, sd and coefficient of variation over repetitions, flags."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    grouped = ok.groupby("cell_id", sort=False)
    out = grouped[PARAM_COLUMNS].first()
    out["repetitions"] = grouped.size()
    out["throughput_msgs"] = grouped["throughput_msgs"].mean()
    out["throughput_sd"] = grouped["throughput_msgs"].std(ddof=1)
    out["cv"] = out["throughput_sd"] / out["throughput_msgs"]
    out["throughput_mb"] = grouped["throughput_mb"].mean()
    for col in ("e2e_p50_ms", "e2e_p99_ms", "produce_p99_ms", "commit_p99_ms"):
        out[col] = grouped[col].mean()
    for col in ("duplicates", "lost", "unexpected"):
        out[col] = grouped[col].sum()
    out["generator_bound"] = grouped["generator_bound"].any()
    out["behind_schedule"] = grouped["behind_schedule"].any()
    out["throttled_share"] = grouped["throttled_share"].max()
    out["flags"] = [flags(row.cv, row.generator_bound, row.behind_schedule, row.throttled_share) for row in out.itertuples()]
    return out.reset_index()


def broken_guarantees(frame: pd.DataFrame) -> list[str]:
    """Cells where a mode let through what it promises not to: the finding that exits 1."""
    found = []
    for r in frame.itertuples() if not frame.empty else []:
        mode = modes.MODES[r.mode]
        if mode.promises_no_duplicates and (r.duplicates or 0) > 0:
            found.append(f"{r.cell_id} r{r.repetition}: {r.duplicates} duplicates")
        if mode.promises_no_loss and (r.lost or 0) > 0:
            found.append(f"{r.cell_id} r{r.repetition}: {r.lost} acknowledged records lost")
        if mode.uses_transactions and (r.unexpected or 0) > 0:
            found.append(f"{r.cell_id} r{r.repetition}: {r.unexpected} uncommitted records read")
    return found


def flags(cv: float, generator_bound: bool, behind_schedule: bool = False, throttled_share: float = 0.0) -> str:
    found = []
    if cv is not None and not np.isnan(cv) and cv > CV_LIMIT:
        found.append(f"unstable (cv {cv:.0%})")
    if generator_bound:
        found.append("generator-bound")
    if behind_schedule and not generator_bound:
        found.append("behind schedule (Kafka did not take the rate)")
    if throttled_share and throttled_share > THROTTLE_LIMIT:
        found.append(f"throttled by a broker quota (throttle time, summed over requests, {throttled_share:.0%} of the window)")
    return "; ".join(found)
