"""`eosbench capacity RUN --rate R`: the cluster a target load needs in each mode, from a run's costs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from bench.analysis import planning, summary
from bench.cli.tables import render
from bench.formatting import finite
from bench.results import DEFAULT_RESULTS_DIR, RunStore


@click.command()
@click.argument("run")
@click.option("--rate", type=float, required=True, help="Target load in records per second.")
@click.option("--message-size", type=click.IntRange(min=1), default=None, help="Only cells of this record size (bytes).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def capacity(run: str, rate: float, message_size: int | None, fmt: str, results_dir: Path) -> None:
    """Broker cores, disk MB/s and requests/s per mode for RATE records/s, with 95% intervals."""
    if not rate > 0:
        raise click.BadParameter(f"must be a positive number of records per second, not {rate:g}", param_hint="--rate")
    store = RunStore.open(run, results_dir)
    manifest = store.manifest()
    baseline = manifest["profile"].get("baseline")
    rows = planning.plan(summary.summary(store), rate, baseline, message_size)
    if fmt == "json":
        click.echo(json.dumps(finite({"run_id": manifest["run_id"], "rate": rate, "baseline": baseline, "method": planning.METHOD,
                                      "cells": [asdict(r) for r in rows]}), indent=2, default=str))
        return
    headers, table = planning.table(rows, baseline)
    click.echo(f"{manifest['run_id']}: what {rate:,.0f} records/s would cost the cluster, per cell")
    click.echo(render(headers, table, right=set(range(2, len(headers) - 1))))
    click.echo(planning.METHOD)
