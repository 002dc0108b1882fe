"""`eosbench lag RUN`: consumer-lag alert thresholds recommended from the lag a run measured."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import yaml

from bench.analysis.lag import RULE, Recommendation, for_run
from bench.results import DEFAULT_RESULTS_DIR, RunStore


@click.command()
@click.argument("run")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "prometheus"]), default="text", show_default=True)
@click.option("--group", default="your-consumer-group", show_default=True, help="Consumer group label for Prometheus rules.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def lag(run: str, fmt: str, group: str, results_dir: Path) -> None:
    """Recommend warning and critical lag thresholds (records and seconds) for every cell of RUN."""
    if not group.strip():
        raise click.UsageError("--group needs the consumer group's name")
    store = RunStore.open(run, results_dir)
    recommendations = for_run(store)
    run_id = store.manifest()["run_id"]
    if fmt == "json":
        click.echo(json.dumps({"run_id": run_id, "rule": RULE, "cells": [r.as_dict() for r in recommendations]}, indent=2,
                              default=lambda v: None))
    elif fmt == "prometheus":
        click.echo(prometheus_rules(run_id, recommendations, group))
    else:
        click.echo("\n\n".join(describe(r) for r in recommendations) if recommendations else "no lag samples in this run")


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
        lines.append(f"  {r.transaction_overhead_share:.0%} of the high-watermark lag is transaction overhead (open transactions and "
                     "commit markers a read_committed consumer cannot read): exporters count it as lag, so a threshold "
                     "guessed without it pages for nothing")
    lines += [
        f"  WARNING   > {r.warning_records:,} records  or  > {r.warning_seconds:g} s",
        f"  CRITICAL  > {r.critical_records:,} records  or  > {r.critical_seconds:g} s",
        f"  detection: a consumer that stops crosses CRITICAL within {r.detection_records_s:g} s (records) / "
        f"{r.detection_seconds_s:g} s (seconds), plus your exporter's poll interval and the rule's `for:`",
        f"  alert on: {r.alert_on}",
        f"  Burrow (no thresholds): keep storage intervals x commit interval >= {max(r.detection_seconds_s, 10):.0f} s so a stall shows as STOP/STALL within the window",
        f"  rule: {r.rule}",
    ]
    return "\n".join(lines)


def _alert_name(kind: str, cell_id: str) -> str:
    return f"KafkaConsumerLag{kind}_" + re.sub(r"[^A-Za-z0-9_]", "_", cell_id)


def promql_string(text: str) -> str:
    """A PromQL string literal: backslash, double quote and line breaks escaped, as PromQL reads
    Go-style escapes (a consumer group name may hold any of them)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def prometheus_rules(run_id: str, recommendations: list[Recommendation], group: str) -> str:
    """Alerting rules for kafka-lag-exporter's metrics, one warning and one critical per signal."""
    rules = []
    selector = f"{{group={promql_string(group)}}}"
    for r in recommendations:
        signals = [("records", f"sum by (group, topic) (kafka_consumergroup_group_lag{selector})",
                    r.warning_records, r.critical_records, r.detection_records_s),
                   ("seconds", f"max by (group, topic) (kafka_consumergroup_group_lag_seconds{selector})",
                    r.warning_seconds, r.critical_seconds, r.detection_seconds_s)]
        for unit, expr, warning, critical, detection in signals:
            for severity, threshold, hold in (("Warning", warning, "1m"), ("Critical", critical, "30s")):
                rules.append({
                    "alert": _alert_name(severity, r.cell_id) + f"_{unit}",
                    "expr": f"{expr} > {threshold}",
                    "for": hold,
                    "labels": {"severity": severity.lower(), "eosbench_run": run_id, "eosbench_cell": r.cell_id},
                    "annotations": {
                        "summary": f"Consumer group {{{{ $labels.group }}}} is behind on {{{{ $labels.topic }}}} ({unit})",
                        "description": (f"Lag {{{{ $value }}}} {unit} > {threshold} ({severity.lower()}). From eosbench run {run_id}, "
                                        f"cell {r.cell_id} at {r.rate_msgs:,.0f} msg/s; a full stall crosses critical within "
                                        f"{detection:g} s of it starting. Rule: {RULE}."),
                    },
                })
    document = {"groups": [{"name": f"eosbench-{run_id}", "rules": rules}]}
    header = (f"# Consumer-lag alerting rules recommended by eosbench from run {run_id}.\n"
              f"# Metrics of kafka-lag-exporter; set the group label (now {promql_string(group)}) with --group.\n")
    return header + yaml.safe_dump(document, sort_keys=False, width=1000)


