"""Prometheus alerting rules for one measured cell and one exporter, and the `promtool test rules`
file that checks them against the cell's own lag.

The rules carry the cell's thresholds (bench.analysis.lag) in the exporter's metric and label names
(bench.report.exporters). The unit tests replay what the run measured, second by second, as the
exporter's series: a healthy consumer at the measured lag must not fire; a consumer that stalls
must fire critical within the stated detection time and the rule's `for:`; one that consumes at
90% of its ceiling must fire the ceiling warning.
"""

from __future__ import annotations

import math
import re
from itertools import accumulate
from dataclasses import dataclass

import pandas as pd
import yaml

from bench.analysis.lag import NEAR_CEILING, Recommendation, Thresholds, zero
from bench.report.exporters import HIGH_WATERMARK, Exporter

EVALUATION_S = 15     # the unit tests' rule evaluation interval
RATE_WINDOW = "2m"    # rate() of committed offsets
HOLD = {"warning": 60, "critical": 30}  # `for:` in seconds
STALLED_SHARE = 0.1   # a consumed rate under 10% of the measured rate is a stall
CEILING_HOLD_S = 300
HEALTHY_S = 600       # the measured seconds, replayed in turn for this long
STALL_AT_S = 120
DECAY_S = 60          # the Java consumer's rate metrics forget a stall over their window (2 x 30 s samples)


@dataclass(frozen=True)
class Selection:
    """The consumer the rules watch, in the exporter's labels."""

    group: str
    topic: str | None
    client_prefix: str | None  # Java consumers: client.id prefix; default consumer-<group>- or <group>- (Kafka Streams)

    def matchers(self, exporter: Exporter) -> str:
        parts = []
        if exporter.group_label:
            parts.append(f"{exporter.group_label}={promql_string(self.group)}")
        if exporter.topic_label and self.topic:
            parts.append(f"{exporter.topic_label}={promql_string(self.topic)}")
        if exporter.client_label:
            prefix = re.escape(self.client_prefix) if self.client_prefix else f"(consumer-)?{re.escape(self.group)}-"
            parts.append(f"{exporter.client_label}=~{promql_string(prefix + '.*')}")
        return "{" + ",".join(parts) + "}"

    def sample_labels(self, exporter: Exporter) -> dict[str, str]:
        """The labels of the series the unit tests write: one that the matchers select."""
        out = {}
        if exporter.group_label:
            out[exporter.group_label] = self.group
        if exporter.topic_label:
            out[exporter.topic_label] = self.topic or "topic"
        if exporter.client_label:
            out[exporter.client_label] = (self.client_prefix or f"consumer-{self.group}-") + "1"
        return out


def promql_string(text: str) -> str:
    """A PromQL string literal: backslash, double quote and line breaks escaped, as PromQL reads
    Go-style escapes (a consumer group name may hold any of them)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    expr: str
    hold_s: int
    summary: str
    description: str

    def rule(self, labels: dict) -> dict:
        return {"alert": self.name, "expr": self.expr, "for": f"{self.hold_s}s",
                "labels": {"severity": self.severity, **labels},
                "annotations": {"summary": self.summary, "description": self.description}}


def alerts(r: Recommendation, exporter: Exporter, selection: Selection, run_id: str) -> list[Alert]:
    by, sel = ", ".join(exporter.labels), selection.matchers(exporter)
    source = f"eosbench run {run_id}, cell {r.cell_id}, at {r.rate_msgs:,.0f} msg/s"
    out = []
    lag = f"{exporter.aggregate} by ({by}) ({exporter.lag}{sel})"
    levels, basis = lag_basis(r, exporter)
    for severity, threshold in (("warning", levels.warning), ("critical", levels.critical)):
        stall = (f" A consumer that stops crosses it within {levels.detection_s:g} s." if levels.detection_s and severity == "critical"
                 else "")
        out.append(Alert(f"EosbenchConsumerLag{severity.title()}", severity, f"{lag} > {threshold:.0f}", HOLD[severity],
                         f"Consumer lag above {threshold:,.0f} records ({severity})",
                         f"{exporter.name} lag over {threshold:,.0f} records. From {source}: {basis}.{stall}"))
    if exporter.time_lag:
        seconds = r.seconds()
        for severity, threshold in (("warning", seconds.warning), ("critical", seconds.critical)):
            out.append(Alert(f"EosbenchConsumerTimeLag{severity.title()}", severity,
                             f"max by ({by}) ({exporter.time_lag}{sel}) > {threshold:g}", HOLD[severity],
                             f"Consumer time lag above {threshold:g} s ({severity})",
                             f"The oldest unconsumed record is over {threshold:g} s old. From {source}: its time lag reached "
                             f"{_n(r.time_lag_s.max, '.2f')} s, commits every {_n((r.commit_interval_s or 0) * 1000, '.0f')} ms."))
    consumption = consumption_expr(exporter, by, sel)
    if exporter.consumed_rate:
        floor = STALLED_SHARE * r.rate_msgs
        out.append(Alert("EosbenchConsumerStalled", "critical", f"{consumption} < {floor:.0f}", HOLD["warning"],
                         f"Consumer reads under {floor:,.0f} records/s",
                         f"Under {STALLED_SHARE:.0%} of the {r.rate_msgs:,.0f} msg/s of {source}: a consumer that stops polling "
                         "stops updating records-lag-max, so this is how a stall shows. It also fires when the producers stop."))
    if r.ceiling_msgs:
        near = NEAR_CEILING * r.ceiling_msgs
        out.append(Alert("EosbenchConsumerNearCeiling", "warning", f"{consumption} > {near:.0f}", CEILING_HOLD_S,
                         f"Consumer within {1 - NEAR_CEILING:.0%} of its ceiling",
                         f"Consuming over {near:,.0f} records/s: one core over the {r.consumer_cpu_us_per_record:.2f} us of CPU "
                         f"per record the consumer spent in {source} allows {r.ceiling_msgs:,.0f}. Past it lag only grows."))
    return out


def lag_basis(r: Recommendation, exporter: Exporter) -> tuple[Thresholds, str]:
    """The record thresholds for what this exporter measures, and the sentence that says why."""
    if exporter.basis == HIGH_WATERMARK:
        basis = (f"readable lag up to {_n(r.readable_lag.max)} records; the thresholds add the LSO gap measured, up to "
                 f"{_n(r.lso_gap.max)} records (the open transaction and commit markers: {exporter.name} counts them as lag "
                 "and a read_committed consumer can never read them)" if r.transactional
                 else f"lag up to {_n(r.hw_lag.max)} records")
        return r.records(), basis
    return r.partition_records(), (f"the worst partition's lag up to {_n(r.partition_lso_lag.max)} records behind the last "
                                   "stable offset; records-lag-max is measured against it under read_committed, so the open "
                                   "transaction is not counted")


def consumption_expr(exporter: Exporter, by: str, sel: str) -> str:
    if exporter.consumed_rate:
        return f"sum by ({by}) ({exporter.consumed_rate}{sel})"
    return f"sum by ({by}) (rate({exporter.offsets}{sel}[{RATE_WINDOW}]))"


def _n(value: float, fmt: str = ",.0f") -> str:
    return "unknown" if value is None or math.isnan(value) else format(value, fmt)


def rules_document(r: Recommendation, exporter: Exporter, selection: Selection, run_id: str) -> dict:
    labels = {"eosbench_run": run_id, "eosbench_cell": r.cell_id}
    return {"groups": [{"name": f"eosbench-lag {r.cell_id}",
                        "rules": [a.rule(labels) for a in alerts(r, exporter, selection, run_id)]}]}


def rules_text(r: Recommendation, exporter: Exporter, selection: Selection, run_id: str) -> str:
    header = (f"# Consumer-lag alerting rules from eosbench run {run_id}, cell {r.cell_id} ({r.mode}, {r.rate_msgs:,.0f} msg/s).\n"
              f"# Exporter: {exporter.source}; {exporter.note}.\n")
    return header + yaml.safe_dump(rules_document(r, exporter, selection, run_id), sort_keys=False, width=1000, allow_unicode=True)


def unit_tests(r: Recommendation, exporter: Exporter, selection: Selection, run_id: str, measured: list[pd.DataFrame],
               rules_file: str) -> dict:
    """`promtool test rules` input: healthy (the measured seconds replayed), stalled, and near the ceiling."""
    by_name = {a.name: a for a in alerts(r, exporter, selection, run_id)}
    labels = {"eosbench_run": run_id, "eosbench_cell": r.cell_id, **selection.sample_labels(exporter)}
    replay = Replay(r, exporter, measured)
    healthy_checks = [name for name in by_name if not (name == "EosbenchConsumerNearCeiling" and r.near_ceiling)]
    tests = [{
        "name": f"healthy: {r.cell_id}'s measured lag, {len(replay.lag)} seconds replayed for {HEALTHY_S} s",
        "interval": "1s",
        "input_series": replay.healthy(selection),
        "alert_rule_test": [{"eval_time": f"{t}s", "alertname": name, "exp_alerts": []}
                            for t in range(60, HEALTHY_S + 1, 60) for name in healthy_checks],
    }]
    fires = _stall_fires(r, exporter, by_name)
    if fires:
        tests.append({
            "name": f"stalled at {STALL_AT_S} s: committed offsets stop, lag grows at {r.rate_msgs:,.0f} records/s",
            "interval": "1s",
            "input_series": replay.stalled(selection, max(t for t, _ in fires.values()) + 60),
            "alert_rule_test": [{"eval_time": f"{t}s", "alertname": name,
                                 "exp_alerts": [_expected(by_name[name], labels)]} for name, (t, _) in fires.items()],
        })
    if r.ceiling_msgs:
        eval_s = 120 + CEILING_HOLD_S + 4 * EVALUATION_S
        tests.append({
            "name": f"consuming at 90% of the ceiling ({0.9 * r.ceiling_msgs:,.0f} records/s)",
            "interval": "1s",
            "input_series": replay.fast(selection, 0.9 * r.ceiling_msgs, eval_s + 60),
            "alert_rule_test": [{"eval_time": f"{eval_s}s", "alertname": "EosbenchConsumerNearCeiling",
                                 "exp_alerts": [_expected(by_name["EosbenchConsumerNearCeiling"], labels)]}],
        })
    return {"rule_files": [rules_file], "evaluation_interval": f"{EVALUATION_S}s", "tests": tests}


def _stall_fires(r: Recommendation, exporter: Exporter, by_name: dict) -> dict[str, tuple[int, str]]:
    """When each critical alert must have fired after a stall at STALL_AT_S: its crossing, a
    whole evaluation interval to notice it, its `for:`, and one more to fire."""
    margin = HOLD["critical"] + 2 * EVALUATION_S
    out = {}
    levels, _ = lag_basis(r, exporter)
    if levels.detection_s is not None and exporter.basis == HIGH_WATERMARK:
        out["EosbenchConsumerLagCritical"] = (STALL_AT_S + math.ceil(levels.detection_s) + margin, "records")
    if "EosbenchConsumerTimeLagCritical" in by_name:
        out["EosbenchConsumerTimeLagCritical"] = (STALL_AT_S + math.ceil(r.detection_seconds_s) + margin, "seconds")
    if "EosbenchConsumerStalled" in by_name:
        out["EosbenchConsumerStalled"] = (STALL_AT_S + DECAY_S + HOLD["warning"] + 2 * EVALUATION_S, "rate")
    return out


def _expected(alert: Alert, labels: dict) -> dict:
    return {"exp_labels": {"severity": alert.severity, **labels},
            "exp_annotations": {"summary": alert.summary, "description": alert.description}}


class Replay:
    """The exporter's series, second by second, built from the cell's measured lag."""

    def __init__(self, r: Recommendation, exporter: Exporter, measured: list[pd.DataFrame]):
        self.r, self.exporter = r, exporter
        frames = [f.sort_values("t_s") for f in measured]
        column = "hw_lag" if exporter.basis == HIGH_WATERMARK else "partition_lso_lag"
        self.lag = pd.concat([f[column] for f in frames], ignore_index=True).tolist()
        self.age = pd.concat([f["time_lag_s"] for f in frames], ignore_index=True).tolist()
        steps = pd.concat([f["committed"].diff().iloc[1:] for f in frames], ignore_index=True).clip(lower=0)
        self.steps = steps.fillna(r.rate_msgs).tolist() or [r.rate_msgs]

    def _cycle(self, values: list, n: int) -> list:
        return [values[i % len(values)] for i in range(n)]

    def _series(self, selection: Selection, lag: list, age: list, consumed: list[float]) -> list[dict]:
        e, labels = self.exporter, selection.sample_labels(self.exporter)
        out = [_input(e.lag, labels, lag, "{:.0f}")]
        if e.time_lag:
            out.append(_input(e.time_lag, labels, age, "{:.3f}"))
        if e.consumed_rate:
            window = 2 * 30  # records-consumed-rate: a rate over the metrics window
            rates = [sum(consumed[max(0, i - window + 1):i + 1]) / min(i + 1, window) for i in range(len(consumed))]
            out.append(_input(e.consumed_rate, labels, rates, "{:.1f}"))
        else:
            out.append(_input(e.offsets, labels, list(accumulate(consumed)), "{:.0f}"))
        return out

    def healthy(self, selection: Selection) -> list[dict]:
        return self._series(selection, self._cycle(self.lag, HEALTHY_S), self._cycle(self.age, HEALTHY_S),
                            self._cycle(self.steps, HEALTHY_S))

    def stalled(self, selection: Selection, length: int) -> list[dict]:
        lag, age, steps = (self._cycle(v, STALL_AT_S) for v in (self.lag, self.age, self.steps))
        after = range(1, length - STALL_AT_S + 1)
        if self.exporter.basis == HIGH_WATERMARK:
            lag += [zero(lag[-1]) + self.r.rate_msgs * k for k in after]
        else:  # the consumer stopped polling: its records-lag-max is no longer updated
            lag += [None] * len(after)
        age += [zero(age[-1]) + k for k in after]
        return self._series(selection, lag, age, steps + [0.0] * len(after))

    def fast(self, selection: Selection, rate: float, length: int) -> list[dict]:
        return self._series(selection, self._cycle(self.lag, length), self._cycle(self.age, length), [rate] * length)


def _input(metric: str, labels: dict, values: list, fmt: str) -> dict:
    selector = metric + "{" + ",".join(f"{k}={promql_string(v)}" for k, v in labels.items()) + "}"
    text = " ".join("_" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v) for v in values)
    return {"series": selector, "values": text}
