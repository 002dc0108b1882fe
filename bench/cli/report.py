"""`eosbench report RUN`: a self-contained HTML report (and a Markdown summary) of a run."""

from __future__ import annotations

from pathlib import Path

import click

from bench.report.data import RunData
from bench.report.page import build_html, build_markdown
from bench.results import DEFAULT_RESULTS_DIR, RunStore, write_atomically


@click.command()
@click.argument("run")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file [default: reports/<run-id>.html]; the Markdown summary goes beside it.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def report(run: str, output: Path | None, results_dir: Path) -> None:
    """Build the report of RUN (a run id or a run directory), offline and from results alone."""
    data = RunData(RunStore.open(run, results_dir))
    output = output or Path("reports") / f"{data.run_id}.html"
    page, summary = build_html(data), build_markdown(data)  # every file read before anything is written
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(output, page)
    markdown = output.with_suffix(".md")
    write_atomically(markdown, summary)
    if data.partial:
        click.echo(f"note: run {data.run_id} is partial ({data.manifest.get('status')}, {len(data.summary)} of {data.planned} cell repetitions); the report says so", err=True)
    click.echo(f"{output}\n{markdown}")
