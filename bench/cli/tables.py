"""Plain-text tables for the terminal: aligned columns, numbers a person can read at a glance."""

from __future__ import annotations

import math

import click
import pandas as pd

from bench.analysis.columns import RUN_TABLE, view
from bench.formatting import overhead_text


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
