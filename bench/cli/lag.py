"""`eosbench lag RUN`: consumer-lag alert thresholds recommended from the lag a run measured, and
alerting rules for one cell in the metric names of the exporter people run."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from bench.analysis.lag import RULE, Recommendation, for_run, measured
from bench.errors import BadInput
from bench.report.exporters import EXPORTERS
from bench.report.lag_rules import Selection, rules_text, unit_tests
from bench.results import DEFAULT_RESULTS_DIR, RunStore

RULE_FORMATS = ("prometheus", "promtool-test")


@click.command()
@click.argument("run")
@click.option("--cell", help="The cell to recommend for (an open-loop cell at your production rate); required for rules.")
@click.option("--exporter", type=click.Choice(list(EXPORTERS)), default="kafka_exporter", show_default=True,
              help="Whose metric and label names the rules use.")
@click.option("--group", help="The consumer group the rules watch.")
@click.option("--topic", help="The topic the rules watch (exporters with a topic label).")
@click.option("--client-id", help="Java consumers (--exporter jmx): the client.id prefix; default consumer-<group>- or <group>-.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", *RULE_FORMATS]), default="text", show_default=True)
@click.option("--rules-file", default="rules.yml", show_default=True, help="The rule file a promtool-test file names.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def lag(run: str, cell: str | None, exporter: str, group: str | None, topic: str | None, client_id: str | None, fmt: str,
        rules_file: str, results_dir: Path) -> None:
    """Recommend warning and critical lag thresholds (records and seconds) for the cells of RUN, or
    write one cell's alerting rules (--format prometheus) and their promtool unit tests."""
    if fmt in RULE_FORMATS:
        _require(cell, f"--format {fmt} writes the rules of one cell: choose it with --cell")
        _require(group and group.strip(), "--group needs the consumer group's name")
        _require(topic or not EXPORTERS[exporter].topic_label, f"--exporter {exporter} labels lag by topic: give --topic")
    store = RunStore.open(run, results_dir)
    run_id = store.manifest()["run_id"]
    recommendations = for_run(store)
    if cell:
        recommendations = [_chosen(recommendations, cell, run_id)]
    if fmt in RULE_FORMATS:
        r, chosen = recommendations[0], EXPORTERS[exporter]
        selection = Selection(group, topic, client_id)
        if fmt == "prometheus":
            click.echo(rules_text(r, chosen, selection, run_id), nl=False)
        else:
            tests = unit_tests(r, chosen, selection, run_id, measured(store, r.cell_id), rules_file)
            click.echo(yaml.safe_dump(tests, sort_keys=False, width=100_000, allow_unicode=True), nl=False)
    elif fmt == "json":
        click.echo(json.dumps({"run_id": run_id, "rule": RULE, "cells": [r.as_dict() for r in recommendations]}, indent=2,
                              default=lambda v: None))
    else:
        click.echo("\n\n".join(describe(r) for r in recommendations) if recommendations else "no lag samples in this run")


def _require(condition, message: str) -> None:
    if not condition:
        raise BadInput(message)


def _chosen(recommendations: list[Recommendation], cell: str, run_id: str) -> Recommendation:
    by_id = {r.cell_id: r for r in recommendations}
    if cell not in by_id:
        known = ", ".join(list(by_id)[:8]) + (", ..." if len(by_id) > 8 else "")
        raise BadInput(f"run {run_id} has no cell '{cell}' with lag samples (cells: {known or 'none'})")
    r = by_id[cell]
    if r.closed_loop:
        raise BadInput(f"cell {cell} ran closed loop (rate: max): its consumer ran saturated, so its lag sets no threshold; "
                       "recommend from an open-loop cell at your production rate")
    return r


def describe(r: Recommendation) -> str:
    interval = f", commits every {r.commit_interval_s * 1000:.0f} ms" if r.commit_interval_s else ""
    lines = [
        f"{r.cell_id} ({r.mode}, {r.rate_msgs:,.0f} msg/s{interval}; {r.samples} one-second samples)",
        f"  high-watermark lag  p50 {r.hw_lag.p50:,.0f}  p99 {r.hw_lag.p99:,.0f}  max {r.hw_lag.max:,.0f} records",
        f"  last-stable lag     p50 {r.lso_lag.p50:,.0f}  p99 {r.lso_lag.p99:,.0f}  max {r.lso_lag.max:,.0f} records",
        f"  readable lag        p50 {r.readable_lag.p50:,.0f}  p99 {r.readable_lag.p99:,.0f}  max {r.readable_lag.max:,.0f} records",
        f"  time lag            p50 {r.time_lag_s.p50:.2f}  p99 {r.time_lag_s.p99:.2f}  max {r.time_lag_s.max:.2f} s",
    ]
    if r.closed_loop:
        lines.append("  note: closed loop (rate: max): the consumer ran saturated, so these are upper bounds; "
                     "recommend from an open-loop run at your production rate")
    if r.transaction_overhead_share is not None:
        lines.append(f"  LSO gap             p50 {r.lso_gap.p50:,.0f}  p99 {r.lso_gap.p99:,.0f}  max {r.lso_gap.max:,.0f} records: "
                     f"{r.transaction_overhead_share:.0%} of the high-watermark lag is the open transaction and commit markers, "
                     "which exporters reading the high watermark count as lag and a read_committed consumer never reads")
    lines += [
        f"  WARNING   > {r.warning_records:,} records (high watermark)  > {r.partition_warning_records:,} (records-lag-max)  "
        f"> {r.warning_seconds:g} s",
        f"  CRITICAL  > {r.critical_records:,} records (high watermark)  > {r.partition_critical_records:,} (records-lag-max)  "
        f"> {r.critical_seconds:g} s",
        f"  detection: a consumer that stops crosses CRITICAL within {r.detection_records_s:g} s (records) / "
        f"{r.detection_seconds_s:g} s (seconds), plus your exporter's poll interval and the rule's `for:`",
    ]
    if r.tuned_on_twin:
        t = r.tuned_on_twin
        lines.append(f"  tuned on {t.twin_cell} instead (warning > {t.twin_warning_records:,} records), an alert on this healthy "
                     f"consumer's high-watermark lag would fire in {t.crossed_s} of {t.samples} seconds; these thresholds in "
                     f"{t.crossed_own_s}")
    if r.ceiling_msgs:
        near = "  WARNING: the cell ran within 20% of it, so lag there can only grow" if r.near_ceiling else ""
        lines.append(f"  ceiling: {r.ceiling_msgs:,.0f} msg/s (one core over {r.consumer_cpu_us_per_record:.2f} us of consumer CPU "
                     f"per record){near}")
    lines += [
        f"  alert on: {r.alert_on}",
        f"  Burrow (no thresholds): keep storage intervals x commit interval >= {max(r.detection_seconds_s, 10):.0f} s so a stall shows as STOP/STALL within the window",
        f"  rules: eosbench lag RUN --cell {r.cell_id} --group G --topic T --exporter kafka_exporter|kminion|jmx|kafka-lag-exporter "
        "--format prometheus",
    ]
    return "\n".join(lines)
