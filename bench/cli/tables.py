"""Plain-text tables for the terminal: aligned columns, numbers a person can read at a glance."""

from __future__ import annotations

import math

import click
import pandas as pd

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
    headers = ["cell", "reps", "msg/s", "cv", "MB/s", "e2e p50 ms", "e2e p99 ms", "commit p99 ms", "dup", "lost",
               f"overhead vs {baseline} [95% CI]" if baseline else "overhead", "flags"]
    rows = []
    for r in cells.itertuples():
        o = by_cell.get(r.cell_id)
        rows.append([
            r.cell_id, str(r.repetitions), number(r.throughput_msgs), number(100 * r.cv, 1, "%") if r.repetitions > 1 else "-",
            number(r.throughput_mb, 1), number(r.e2e_p50_ms, 1), number(r.e2e_p99_ms, 1), number(r.commit_p99_ms, 1),
            str(int(r.duplicates)), str(int(r.lost)),
            overhead_text(o) if o is not None else ("baseline" if r.mode == baseline else "-"),
            o.flags if o is not None else r.flags,  # an overhead is only as good as both of its sides
        ])
    click.echo(render(headers, rows, right={1, 2, 3, 4, 5, 6, 7, 8, 9}))
    if by_cell:
        click.echo("overhead = 100 x (1 - throughput / baseline throughput): positive is slower; intervals 95%, simultaneous "
                   "over the cells; '~' not significant (Holm)")
        for cell_id, o in by_cell.items():
            if isinstance(o.interval_note, str) and o.interval_note:
                click.echo(f"{cell_id}: {o.interval_note}")
