"""What the schema layer costs: Avro through a schema registry against raw bytes, mode by mode, and
the whole deployed stack (a mode with Avro against the baseline mode with bytes), each paired by
repetition (bench.analysis.contrast)."""

from __future__ import annotations

import pandas as pd

from bench.analysis.contrast import pairs, ratio

COLUMNS = ["contrast", "mode", "base_cell", "cell", "base_msgs", "msgs", "overhead_pct", "ci_low_pct", "ci_high_pct", "pairs",
           "base_producer_cpu_us", "producer_cpu_us", "base_consumer_cpu_us", "consumer_cpu_us", "base_e2e_p99_ms", "e2e_p99_ms"]


def avro_against_bytes(summary: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """One row per Avro cell against its bytes twin ("avro vs bytes"), and per Avro cell of a
    non-baseline mode against the baseline mode's bytes cell ("stack"): throughput overhead
    100 x (1 - avro / bytes) with its 95% interval, client CPU per record and end-to-end p99 of both."""
    rows = [_row("avro vs bytes", base, new) for base, new in pairs(summary, {"serialization": "bytes"}, {"serialization": "avro"})]
    if baseline is not None and not summary.empty and "serialization" in summary:
        for mode in summary.loc[(summary["serialization"] == "avro") & (summary["mode"] != baseline), "mode"].unique():
            rows += [_row(f"{mode} + avro vs {baseline} + bytes", base, new) for base, new in
                     pairs(summary, {"mode": baseline, "serialization": "bytes"}, {"mode": mode, "serialization": "avro"})]
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(contrast: str, base: pd.DataFrame, new: pd.DataFrame) -> list:
    mean, low, high, n = ratio(base, new)
    return [contrast, new["mode"].iloc[0], base["cell_id"].iloc[0], new["cell_id"].iloc[0], base["throughput_msgs"].mean(),
            new["throughput_msgs"].mean(), 100 * (1 - mean), 100 * (1 - high), 100 * (1 - low), n,
            *(side[column].mean() if column in side else float("nan")
              for column in ("producer_cpu_us_per_record", "consumer_cpu_us_per_record", "e2e_p99_ms") for side in (base, new))]
