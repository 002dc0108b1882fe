"""Where the roles ran: each cell run through Trogdor against its twin run by local processes,
paired by repetition (bench.analysis.contrast). On one machine the two should agree within their
interval: the distributed path adds task start-up, not a different measurement."""

from __future__ import annotations

import pandas as pd

from bench.analysis.contrast import CONTRASTS

COLUMNS = ["mode", "base_cell", "cell", "base_msgs", "msgs", "change_pct", "ci_low_pct", "ci_high_pct", "pairs",
           "base_e2e_p99_ms", "e2e_p99_ms"]


def trogdor_against_local(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per `launcher: trogdor` cell against its local twin: throughput change
    100 x (trogdor / local - 1) with its 95% interval, and the end-to-end p99 of both."""
    rows = [[r.mode, r.base_cell, r.cell, r.base_msgs, r.msgs, 100 * (r.ratio - 1), 100 * (r.low - 1), 100 * (r.high - 1), r.pairs,
             r.base_e2e_p99_ms, r.e2e_p99_ms] for r in CONTRASTS["trogdor vs local"].table(summary).itertuples()]
    return pd.DataFrame(rows, columns=COLUMNS)
