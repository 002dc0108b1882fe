"""Plain-text tables for the terminal: aligned columns, numbers a person can read at a glance."""

from __future__ import annotations

import math

import click
import pandas as pd

from bench.analysis import model
from bench.analysis.columns import RUN_TABLE, view
from bench.analysis.headline import answer
from bench.analysis.overhead import precision_advice
from bench.formatting import change_text, overhead_text


def render(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(str(x)) for x in [h, *(r[i] for r in rows)]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def number(value, digits: int = 0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def print_run_table(cells: pd.DataFrame, overhead: pd.DataFrame, baseline: str | None) -> None:
    if cells.empty:
        click.echo("no cell finished")
        return
    by_cell = {r.cell_id: r for r in overhead.itertuples()} if not overhead.empty else {}
    shown = view(RUN_TABLE)
    headers = ["cell", "reps", *(h for m in shown for h in ([m.label, "cv"] if m.spread else [m.label])),
               f"overhead vs {baseline} [95% CI]" if baseline else "overhead", "flags"]
    rows = []
    for r in cells.itertuples():
        o = by_cell.get(r.cell_id)
        figures = []
        for m in shown:
            figures.append(m.text(getattr(r, m.name, None)))  # None: a frame from before the metric existed
            if m.spread:
                cv = getattr(r, m.cv_column, None)
                figures.append(number(100 * cv, 1, "%") if r.repetitions > 1 and cv is not None else "-")
        rows.append([
            r.cell_id, str(r.repetitions), *figures,
            overhead_text(o) if o is not None else ("baseline" if r.mode == baseline else "-"),
            str(o.flags if o is not None else r.flags),  # an overhead is only as good as both of its sides
        ])
    click.echo(render(headers, rows, right=set(range(1, len(headers) - 2))))
    if by_cell:
        click.echo("overhead = 100 x (1 - throughput / baseline throughput): positive is slower; intervals 95%, simultaneous "
                   "over the cells; '~' not significant (Holm)")
        for cell_id, o in by_cell.items():
            if isinstance(o.interval_note, str) and o.interval_note:
                click.echo(f"{cell_id}: {o.interval_note}")
        for line in precision_advice(overhead):
            click.echo(line)
        click.echo(f"\n{answer(overhead)}")


def print_schema_layer(runs: pd.DataFrame, contrasts: pd.DataFrame) -> None:
    """The schema layer of a run with Avro cells (`runs`: one row per cell repetition): what it cost
    against bytes, and what each Avro cell's schema faults let into its topics (repetitions added)."""
    if runs.empty or "serialization" not in runs or not (runs["serialization"] == "avro").any():
        return
    click.echo("\nschema layer (Avro through the schema registry, subject compatibility FULL)")
    if not contrasts.empty:
        rows = [[r.contrast, r.cell, number(r.base_msgs), number(r.msgs), change_text(r.overhead_pct, r.ci_low_pct, r.ci_high_pct),
                 str(r.pairs), f"{number(r.base_producer_cpu_us, 1)} -> {number(r.producer_cpu_us, 1)}",
                 f"{number(r.base_consumer_cpu_us, 1)} -> {number(r.consumer_cpu_us, 1)}",
                 f"{number(r.base_e2e_p99_ms, 1)} -> {number(r.e2e_p99_ms, 1)}"] for r in contrasts.itertuples()]
        click.echo(render(["contrast", "cell", "base msg/s", "msg/s", "overhead [95% CI]", "pairs", "producer CPU us/rec",
                           "consumer CPU us/rec", "e2e p99 ms"], rows, right={2, 3, 5}))
        click.echo("overhead = 100 x (1 - throughput / base throughput), paired by repetition; 95% per row")
    columns = ["schema_refused_records", "schema_refused_written", "schema_foreign_records", "serialize_errors", "registry_outage_records"]
    avro = runs[(runs["serialization"] == "avro") & (runs["status"] == "ok")]
    for cell_id, r in avro.groupby("cell_id", sort=False)[columns].sum(min_count=1).iterrows():
        if (r["schema_refused_records"] or 0) > 0 or not pd.isna(r["registry_outage_records"]):
            click.echo(f"{cell_id}: refused schema: {r['schema_refused_records']:,.0f} record(s) tried, "
                       f"{r['schema_refused_written']:,.0f} read; unknown schema id: {r['schema_foreign_records']:,.0f} read; "
                       f"serialization errors: {r['serialize_errors']:,.0f}"
                       + ("" if pd.isna(r["registry_outage_records"]) else
                          f"; sent while the registry was frozen: {r['registry_outage_records']:,.0f}"))


def print_launchers(contrasts: pd.DataFrame) -> None:
    """Cells run through Trogdor against their local twins (bench.analysis.launchers)."""
    if contrasts.empty:
        return
    click.echo("\nroles on Trogdor agents against local processes")
    rows = [[r.cell, number(r.base_msgs), number(r.msgs), change_text(r.change_pct, r.ci_low_pct, r.ci_high_pct), str(r.pairs),
             f"{number(r.base_e2e_p99_ms, 1)} -> {number(r.e2e_p99_ms, 1)}"] for r in contrasts.itertuples()]
    click.echo(render(["cell", "local msg/s", "trogdor msg/s", "change [95% CI]", "pairs", "e2e p99 ms"], rows, right={1, 2, 4}))
    click.echo("change = 100 x (trogdor / local throughput - 1), paired by repetition; 95% per row")


def print_contrasts(contrasts: pd.DataFrame) -> None:
    """The declared contrasts without a table of their own (bench.analysis.contrast.generic)."""
    if contrasts.empty:
        return
    click.echo("\none setting against another, the same cell otherwise")
    rows = [[r.contrast, r.cell, number(r.base_msgs), number(r.msgs), change_text(100 * (r.ratio - 1), 100 * (r.low - 1), 100 * (r.high - 1)),
             str(r.pairs), f"{number(r.base_e2e_p99_ms, 1)} -> {number(r.e2e_p99_ms, 1)}"] for r in contrasts.itertuples()]
    click.echo(render(["contrast", "cell", "base msg/s", "msg/s", "change [95% CI]", "pairs", "e2e p99 ms"], rows, right={2, 3, 5}))
    click.echo("change = 100 x (throughput / base throughput - 1), paired by repetition; 95% per row")


def print_answer(fitted: list) -> None:
    """The cost curve's answer in words (bench.analysis.model), after the table: where exactly-once
    costs 30% and 10% or less; `eosbench model RUN` prints the fit behind it."""
    curves = [f for f in fitted if isinstance(f, model.Fit)]
    if not curves:
        return
    click.echo("\nthe answer (the cost curve fitted across the sweep; eosbench model RUN shows the fit):")
    for curve in curves:
        for line in model.sentences(curve):
            click.echo(line)
