"""transaction.version 2 against 1, cell by cell: what KIP-890 changes for a client stack.

The overhead table prices each transactional cell against at_least_once; this asks the narrower
question directly, with cells that differ only in `transaction_version` (bench.analysis.contrast).
"""

from __future__ import annotations

import pandas as pd

from bench.analysis.contrast import CONTRASTS


def v2_against_v1(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of cells at transaction.version 1 and 2: driver, transaction_size, the
    throughput ratio v2 / v1 with its 95% interval, and the repetitions it rests on."""
    table = CONTRASTS["transaction.version 2 vs 1"].table(summary)
    return table.rename(columns={"base_cell": "cell_v1", "cell": "cell_v2", "pairs": "repetitions"})[
        ["driver", "transaction_size", "cell_v1", "cell_v2", "ratio", "low", "high", "repetitions"]]
