"""What the schema layer costs: Avro through a schema registry against raw bytes, mode by mode, and
the whole deployed stack (a mode with Avro against the baseline mode with bytes), each paired by
repetition (bench.analysis.contrast)."""

from __future__ import annotations

import pandas as pd

from bench.analysis.contrast import CONTRASTS, Contrast

COLUMNS = ["contrast", "mode", "base_cell", "cell", "base_msgs", "msgs", "overhead_pct", "ci_low_pct", "ci_high_pct", "pairs",
           "base_producer_cpu_us", "producer_cpu_us", "base_consumer_cpu_us", "consumer_cpu_us", "base_e2e_p99_ms", "e2e_p99_ms"]


def avro_against_bytes(summary: pd.DataFrame, baseline: str | None) -> pd.DataFrame:
    """One row per Avro cell against its bytes twin ("avro vs bytes"), and per Avro cell of a
    non-baseline mode against the baseline mode's bytes cell ("stack"): throughput overhead
    100 x (1 - avro / bytes) with its 95% interval, client CPU per record and end-to-end p99 of both."""
    contrasts = [CONTRASTS["avro vs bytes"]]
    if baseline is not None and not summary.empty and "serialization" in summary:
        contrasts += [Contrast(f"{mode} + avro vs {baseline} + bytes", {"mode": baseline, "serialization": "bytes"},
                               {"mode": mode, "serialization": "avro"})
                      for mode in summary.loc[(summary["serialization"] == "avro") & (summary["mode"] != baseline), "mode"].unique()]
    rows = [[r.contrast, r.mode, r.base_cell, r.cell, r.base_msgs, r.msgs, 100 * (1 - r.ratio), 100 * (1 - r.high), 100 * (1 - r.low),
             r.pairs, r.base_producer_cpu_us, r.producer_cpu_us, r.base_consumer_cpu_us, r.consumer_cpu_us, r.base_e2e_p99_ms,
             r.e2e_p99_ms]
            for contrast in contrasts for r in contrast.table(summary).itertuples()]
    return pd.DataFrame(rows, columns=COLUMNS)
