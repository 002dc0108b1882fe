"""The run's headline in words: what exactly-once cost, said where the cost shows.

A closed loop (rate max) shows the cost as throughput; an open loop sends the rate it is asked
whatever it costs, so there the cost is latency and the brokers' CPU per record, and a headline of
"no throughput lost" would say nothing. Printed by `eosbench run` and in the report.
"""

from __future__ import annotations

import math

import pandas as pd

from bench import modes
from bench.formatting import change_text


def answer(overhead: pd.DataFrame) -> str:
    """What the run says EOS costs, where the cost shows: for closed-loop cells, throughput (where
    the whole interval lies above 10% and 30%; the intervals are simultaneous over the run's cells,
    so every statement holds at once); for open-loop cells, which send the rate they are asked
    whatever it costs, latency and the brokers' CPU per record."""
    rate = pd.to_numeric(overhead["rate"], errors="coerce") if "rate" in overhead else pd.Series(float("nan"), overhead.index)
    closed, opened = overhead[rate.isna()], overhead[rate.notna()]
    return " ".join(filter(None, [_throughput_answer(closed) if len(closed) else "", _open_loop_answer(opened, rate[rate.notna()])]))


def _throughput_answer(overhead: pd.DataFrame) -> str:
    low, high = overhead["ci_low_pct"], overhead["ci_high_pct"]
    over10, over30, under10 = overhead[low > 10], overhead[low > 30], overhead[high < 10]
    no_interval = overhead[low.isna()]
    spanning = overhead[low.notna() & ~(low > 10) & ~(high < 10) | low.between(10, 30, inclusive="both") & (high >= 30)]

    def cells(frame: pd.DataFrame) -> str:
        return f" ({', '.join(frame['cell_id'])})" if len(frame) else ""

    out = (f"The 95% interval lies wholly above 10% in {len(over10)} of {len(overhead)} cells{cells(over10)}, "
           f"above 30% in {len(over30)}{cells(over30)}, and below 10% in {len(under10)}{cells(under10)}.")
    if len(spanning):
        out += f" {len(spanning)} cell(s) have an interval spanning 10% or 30%{cells(spanning)}: repeat more to decide them."
    if len(no_interval):
        out += f" {len(no_interval)} cell(s) have no interval{cells(no_interval)}: the table says why and how many repetitions would give one."
    faster = overhead[overhead["e2e_p99_delta_ms"] < 0] if "e2e_p99_delta_ms" in overhead else overhead.iloc[:0]
    if len(faster):
        out += (f" End-to-end p99 is lower than the baseline's in {len(faster)} cell(s){cells(faster)}: in a closed loop a "
                f"slower producer keeps fewer records queued ahead of each one, so this is less waiting, not a cheaper mode.")
    return out


def _open_loop_answer(overhead: pd.DataFrame, rate: pd.Series) -> str:
    if overhead.empty:
        return ""
    rates = " and ".join(f"{r:,.0f}" for r in sorted(rate.unique()))
    each = []
    for r in overhead.itertuples():
        reader = " (read_committed)" if modes.MODES[r.mode].consumer.get("isolation.level") == "read_committed" else ""
        p99 = f"end-to-end p99{reader} {r.e2e_p99_delta_ms:+,.1f} ms" if not _missing(r.e2e_p99_delta_ms) else "end-to-end p99 not measured"
        cpu = getattr(r, "broker_cpu_overhead_pct", float("nan"))
        cpu_text = (f"broker CPU per record {change_text(cpu, r.broker_cpu_ci_low_pct, r.broker_cpu_ci_high_pct)}" if not _missing(cpu)
                    else "broker CPU per record not measured")
        each.append(f"{r.cell_id} {p99}, {cpu_text}")
    return (f"Open loop at {rates} msg/s: every mode sends the rate it is asked, so exactly-once costs no throughput "
            f"here by construction; its cost is latency and broker CPU, against the baseline: {'; '.join(each)}.")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
