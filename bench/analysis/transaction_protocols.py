"""transaction.version 2 against 1, cell by cell: what KIP-890 changes for a client stack.

The overhead table prices each transactional cell against at_least_once; this asks the narrower
question directly. Cells that differ only in `transaction_version` ran side by side in each
repetition, so their throughputs are paired by repetition and the ratio (level 2 / level 1) gets
the paired interval the calibration uses (geometric mean, t on log ratios).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench import parameters
from bench.analysis.stats import one_sample

_PAIRED_ON = [p.name for p in parameters.PARAMETERS if p.name not in ("transaction_version",)] + ["kafka_version"]


def v2_against_v1(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of cells at transaction.version 1 and 2: driver, transaction_size, the
    throughput ratio v2 / v1 with its 95% interval, and the repetitions it rests on."""
    columns = ["driver", "transaction_size", "cell_v1", "cell_v2", "ratio", "low", "high", "repetitions"]
    if summary.empty or "transaction_version" not in summary:
        return pd.DataFrame(columns=columns)
    ok = summary[(summary["status"] == "ok") & summary["transaction_version"].isin([1, 2])]
    keys = [c for c in _PAIRED_ON if c in ok]
    rows = []
    for _, group in ok.groupby(keys, dropna=False, sort=False):
        by_level = {int(level): g.set_index("repetition") for level, g in group.groupby("transaction_version")}
        if set(by_level) != {1, 2}:
            continue
        reps = by_level[1].index.intersection(by_level[2].index)
        logs = np.log(by_level[2].loc[reps, "throughput_msgs"].to_numpy(float) / by_level[1].loc[reps, "throughput_msgs"].to_numpy(float))
        estimate = one_sample(logs)
        first = group.iloc[0]
        rows.append([first["driver"], first["transaction_size"], by_level[1]["cell_id"].iloc[0], by_level[2]["cell_id"].iloc[0],
                     math.exp(estimate.mean), math.exp(estimate.low), math.exp(estimate.high), len(reps)])
    return pd.DataFrame(rows, columns=columns)
