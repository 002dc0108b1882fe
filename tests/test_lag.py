"""Lag thresholds recommended from measured lag page for a stopped consumer within the stated
detection time and stay quiet for a healthy one; on a transactional topic the high-watermark lag
stays above the readable lag, which reaches zero."""

import math
import shutil
import subprocess

import pandas as pd
import pytest

from bench.analysis.lag import first_crossing, recommend, steady_totals, totals
from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target
from tests.conftest import REPO, eosbench

CELL = dict(mode="transactional", partitions=2, rate=2000, message_size=256, warmup_s=1, duration_s=8, transaction_ms=200)
PAUSE = {"kind": "consumer_pause", "at_s": 1.5, "duration_s": 6}


def measured(outcome) -> pd.DataFrame:
    lag = pd.DataFrame(outcome.lag_rows, columns=outcome.lag_columns)
    return totals(lag[(lag["phase"] == "measure") & (lag["topic"] == outcome.topics[-1])])


@pytest.fixture(scope="module")
def cells(bootstrap_servers):
    def run(name, n, **extra):
        out = [run_cell(CellSpec(**CELL, **extra), Target(bootstrap_servers), i, f"lag-{name}") for i in range(n)]
        assert all(o.status == "ok" for o in out), [o.status for o in out]
        return out
    return {"basis": run("basis", 2), "healthy": run("healthy", 1), "paused": run("paused", 2, faults=(PAUSE,))}


@pytest.fixture(scope="module")
def recommendation(cells):
    basis = cells["basis"]
    samples = pd.concat([steady_totals(pd.DataFrame(o.lag_rows, columns=o.lag_columns), o.topics[-1], []) for o in basis])
    rate = sum(o.metrics["throughput_msgs"] for o in basis) / len(basis)
    return recommend("transactional", "transactional", samples, rate, CELL["transaction_ms"] / 1000)


@pytest.mark.broker
def test_lag_samples_never_contradict_each_other(cells):
    """The last stable offset is read before the high watermark: LSO lag can never exceed HW lag
    (two sequential reads the other way round gave up to 104 records more on the committed gate-A1)."""
    for outcome in cells["basis"] + cells["healthy"] + cells["paused"]:
        lag = pd.DataFrame(outcome.lag_rows, columns=outcome.lag_columns)
        assert len(lag) and (lag["lso_lag"] <= lag["hw_lag"]).all()
        assert (lag["readable_lag"].dropna() <= lag["lso_lag"][lag["readable_lag"].notna()]).all()


def test_a_second_with_a_partition_the_probe_could_not_read_has_an_unknown_readable_lag():
    rows = pd.DataFrame({"t_s": [1.0, 1.0, 2.0, 2.0], "hw_lag": [5, 7, 5, 7], "lso_lag": [5, 7, 5, 7],
                         "readable_lag": [5, None, 5, 7], "time_lag_s": [0.1, None, 0.1, 0.2]})
    out = totals(rows).set_index("t_s")
    assert math.isnan(out.loc[1.0, "readable_lag"]) and math.isnan(out.loc[1.0, "time_lag_s"])
    assert (out.loc[2.0, "readable_lag"], out.loc[2.0, "time_lag_s"]) == (12, 0.2)
    assert out.loc[1.0, "hw_lag"] == 12


@pytest.mark.broker
def test_a_healthy_consumer_never_crosses_the_warning_threshold(cells, recommendation):
    for outcome in cells["healthy"]:
        lag = measured(outcome)
        assert lag["hw_lag"].max() < recommendation.warning_records
        assert lag["time_lag_s"].max() < recommendation.warning_seconds


@pytest.mark.broker
def test_a_stopped_consumer_crosses_critical_within_the_stated_detection_time(cells, recommendation):
    for outcome in cells["paused"]:
        window = outcome.faults[0]
        lag = measured(outcome)
        by_records = first_crossing(lag, "hw_lag", recommendation.critical_records, window["start_s"])
        by_time = first_crossing(lag, "time_lag_s", recommendation.critical_seconds, window["start_s"])
        print(f"pause at {window['start_s']} s: critical crossed after {by_records} s (records, stated "
              f"{recommendation.detection_records_s} s) and {by_time} s (time, stated {recommendation.detection_seconds_s} s)")
        assert by_records is not None and by_records <= recommendation.detection_records_s
        assert by_time is not None and by_time <= recommendation.detection_seconds_s


@pytest.mark.broker
def test_transactional_high_watermark_lag_stays_above_the_readable_lag_which_reaches_zero(cells, recommendation):
    """What an exporter that reads the high watermark sees on a healthy read_committed consumer: the
    open transaction's records and the commit markers sit above its committed offset in most
    samples (a sample that falls between a commit and the next send sees none), while the
    consumer has nothing readable left."""
    for outcome in cells["healthy"]:
        lag = measured(outcome)
        assert (lag["hw_lag"] > lag["readable_lag"]).mean() > 0.5, lag[["hw_lag", "readable_lag"]]
        assert (lag["readable_lag"] == 0).any(), "a caught-up read_committed consumer has nothing readable left"
    assert recommendation.transaction_overhead_share > 0


def test_an_empty_group_name_is_refused():
    result = eosbench("lag", str(REPO / "results" / "example-standard"), "--format", "prometheus", "--group", " ")
    assert result.returncode == 2 and "--group needs the consumer group's name" in result.stderr


@pytest.mark.parametrize("group, selector", [
    ("orders", 'group="orders"'),
    ('a"b', r'group="a\"b"'),
    ("a\\b", r'group="a\\b"'),
    ("a\nb", r'group="a\nb"'),
])
def test_prometheus_rules_pass_promtool_whatever_the_group_is_called(tmp_path, group, selector):
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package, installed by the README's test command"
    rules = tmp_path / "rules.yml"
    result = eosbench("lag", str(REPO / "results" / "example-standard"), "--format", "prometheus", "--group", group)
    assert result.returncode == 0, result.stderr
    rules.write_text(result.stdout)
    assert f"kafka_consumergroup_group_lag{{{selector}}}" in result.stdout
    assert "kafka_consumergroup_group_lag_seconds" in result.stdout
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
