"""The long table of a run: one row per cell and repetition (`summary.csv`, `summary.parquet`),
and the per-cell aggregate over repetitions with its stability flags.
"""

from __future__ import annotations

import pandas as pd

from bench import modes
from bench.analysis.columns import METRICS, Source, flags, with_parameter_columns
from bench.parameters import BY_NAME, NAMES as PARAM_COLUMNS
from bench.results import RunStore


def summary(store: RunStore) -> pd.DataFrame:
    return table([row(store, cell) for cell in store.cells()])


def table(rows: list[dict]) -> pd.DataFrame:
    """The summary of these rows, in run order (a run being written adds one row per cell)."""
    frame = pd.DataFrame(sorted(rows, key=lambda r: r["ordinal"]))
    if frame.empty:
        return pd.DataFrame(columns=["cell_id", "repetition", *PARAM_COLUMNS, "status"])
    return frame


def row(store: RunStore, cell: dict) -> dict:
    """One cell repetition's row of the summary: its parameters, then every metric (columns.METRICS)."""
    p = cell["params"]
    source = Source(p, cell["metrics"], store.lag(cell["dir"]))
    out = {"cell_id": p["cell_id"], "repetition": p["repetition"], "ordinal": p["ordinal"], "kafka_version": p.get("kafka_version")}
    out.update({k: p.get(k, BY_NAME[k].before) for k in PARAM_COLUMNS})
    out["rate"] = "max" if p.get("rate") is None else p["rate"]
    out.update({m.name: m.source(source) for m in METRICS})
    out["status"] = source.metrics.get("status")
    return out


def cells(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: each metric combined over repetitions as it declares (mean, sd and
    coefficient of variation where it asks for its spread), and the cell's flags."""
    ok = with_parameter_columns(frame[frame["status"] == "ok"])
    if ok.empty:
        return pd.DataFrame()
    grouped = ok.groupby("cell_id", sort=False)
    out = grouped[PARAM_COLUMNS].first()
    out["repetitions"] = grouped.size()
    for metric in METRICS:
        if metric.per_cell is None or metric.name not in ok.columns:  # a frame from before the metric existed
            continue
        out[metric.name] = getattr(grouped[metric.name], metric.per_cell)()
        if metric.spread:
            sd, cv = metric.spread
            out[sd] = grouped[metric.name].std(ddof=1)
            out[cv] = out[sd] / out[metric.name]
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
        torn, partial = getattr(r, "torn_transactions", None), getattr(r, "partial_events", None)
        if mode.uses_transactions and torn == torn and (torn or 0) > 0:  # NaN: not checked
            found.append(f"{r.cell_id} r{r.repetition}: {int(torn)} torn transactions (some records read, not all)")
        if mode.transactional_producer and partial == partial and (partial or 0) > 0:
            found.append(f"{r.cell_id} r{r.repetition}: {int(partial)} events read in some of their topics only")
        for column, what in (("schema_refused_written", "records tried with a schema the registry refused were read"),
                             ("schema_foreign_records", "records read under a schema id no producer was given"),
                             ("undecodable", "records no registered schema decodes")):
            found_n = getattr(r, column, None)
            if found_n == found_n and (found_n or 0) > 0:  # NaN: not an Avro cell
                found.append(f"{r.cell_id} r{r.repetition}: {int(found_n)} {what}")
        wrong = getattr(r, "aggregates_wrong", None)
        if mode.promises_no_duplicates and wrong == wrong and (wrong or 0) > 0:  # NaN: not a stateful cell
            found.append(f"{r.cell_id} r{r.repetition}: {int(wrong)} keys' aggregates differ from their input's "
                         f"({int(r.aggregate_excess):+d} records)")
    return found
