"""Where the roles ran: each cell run through Trogdor against its twin run by local processes,
paired by repetition (bench.analysis.contrast). On one machine the two should agree within their
interval: the distributed path adds task start-up, not a different measurement."""

from __future__ import annotations

import pandas as pd

from bench.analysis.contrast import pairs, ratio

COLUMNS = ["mode", "base_cell", "cell", "base_msgs", "msgs", "change_pct", "ci_low_pct", "ci_high_pct", "pairs",
           "base_e2e_p99_ms", "e2e_p99_ms"]


def trogdor_against_local(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per `launcher: trogdor` cell against its local twin: throughput change
    100 x (trogdor / local - 1) with its 95% interval, and the end-to-end p99 of both."""
    rows = []
    for base, new in pairs(summary, {"launcher": "local"}, {"launcher": "trogdor"}):
        mean, low, high, n = ratio(base, new)
        rows.append([new["mode"].iloc[0], base["cell_id"].iloc[0], new["cell_id"].iloc[0], base["throughput_msgs"].mean(),
                     new["throughput_msgs"].mean(), 100 * (mean - 1), 100 * (low - 1), 100 * (high - 1), n,
                     base["e2e_p99_ms"].mean(), new["e2e_p99_ms"].mean()])
    return pd.DataFrame(rows, columns=COLUMNS)
