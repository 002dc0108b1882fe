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


def _count(row, column: str) -> int:
    """A count of the summary, 0 where the cell has none (NaN: not checked there; absent: an older table)."""
    value = getattr(row, column, None)
    return int(value) if value is not None and value == value else 0


def refused_commits(frame: pd.DataFrame) -> list[str]:
    """Cells where Kafka refused commits (a finding about Kafka, not a broken guarantee: the records
    of such a transaction are accounted for by what the verifier read), with the rate per 10,000."""
    if frame.empty or "refused_commits" not in frame.columns:
        return []
    found = []
    for cell_id, rows in frame[frame["status"] == "ok"].groupby("cell_id", sort=False):
        refused = int(rows["refused_commits"].fillna(0).sum())
        if refused:
            tried = refused + int(rows["transactions"].fillna(0).sum())
            refusal = next(r for r in rows["refusal"] if isinstance(r, str))
            found.append(f"{cell_id}: Kafka refused {refused:,} of {tried:,} commits ({1e4 * refused / tried:.2f} per 10,000) "
                         f"in {int((rows['refused_commits'] > 0).sum())} of {len(rows)} repetitions: {refusal}")
    return found


def broken_guarantees(frame: pd.DataFrame) -> list[str]:
    """Cells where a mode let through what it promises not to: the finding that exits 1."""
    found = []
    for r in frame.itertuples() if not frame.empty else []:
        mode = modes.MODES[r.mode]
        found += [f"{r.cell_id} r{r.repetition}: {_count(r, column)} {what}" for column, what, applies in (
            ("duplicates", "duplicates", mode.promises_no_duplicates),
            ("lost", "acknowledged records lost", mode.promises_no_loss),
            ("unexpected", "uncommitted records read", mode.uses_transactions),
            ("torn_transactions", "torn transactions (some records read, not all)", mode.uses_transactions),
            ("partial_events", "events read in some of their topics only", mode.transactional_producer),
            ("schema_refused_written", "records tried with a schema the registry refused were read", True),
            ("schema_foreign_records", "records read under a schema id no producer was given", True),
            ("undecodable", "records no registered schema decodes", True),
        ) if applies and _count(r, column) > 0]
        if mode.promises_no_duplicates and _count(r, "aggregates_wrong") > 0:
            found.append(f"{r.cell_id} r{r.repetition}: {_count(r, 'aggregates_wrong')} keys' aggregates differ from their input's "
                         f"({_count(r, 'aggregate_excess'):+d} records)")
    return found
