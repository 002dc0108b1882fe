"""Lag thresholds recommended from measured lag page for a stopped consumer within the stated
detection time and stay quiet for a healthy one; on a transactional topic the high-watermark lag
stays above the readable lag, which reaches zero."""

import json
import math
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from bench.analysis.lag import first_crossing, recommend, steady_totals, totals
from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target
from bench.cli.lag import describe
from bench.report.exporters import EXPORTERS
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
    return {"basis": run("basis", 2), "healthy": run("healthy", 1), "paused": run("paused", 1, faults=(PAUSE,))}


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


STREAMS = REPO / "results" / "example-streams"
EOS_CELL = "streams_exactly_once_v2-tms10000-stateless"  # read_committed, commits every 10 s at 10,000 msg/s
PROMTOOL = shutil.which("promtool")


def lag_cli(*args, run=STREAMS):
    return eosbench("lag", str(run), *args)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The rules and promtool unit tests eosbench writes for one cell, as files promtool reads;
    each kind written once per module (a call reads the whole committed run)."""
    assert PROMTOOL, "promtool comes with Debian's prometheus package, installed by the README's test command"
    cache = {}

    def make(exporter, group="orders", topic="orders.out"):
        if (exporter, group) not in cache:
            folder = tmp_path_factory.mktemp("rules")
            common = ["--cell", EOS_CELL, "--group", group, "--topic", topic, "--exporter", exporter]
            rules, tests = folder / "rules.yml", folder / "test.yml"
            written = [lag_cli(*common, "--format", "prometheus"),
                       lag_cli(*common, "--format", "promtool-test", "--rules-file", rules.name)]
            assert all(w.returncode == 0 for w in written), [w.stderr for w in written]
            rules.write_text(written[0].stdout)
            tests.write_text(written[1].stdout)
            cache[exporter, group] = folder
        return cache[exporter, group]
    return make


@pytest.fixture(scope="module")
def eos_cell():
    return next(c for c in json.loads(lag_cli("--format", "json").stdout)["cells"] if c["cell_id"] == EOS_CELL)


def copied(folder, tmp_path):
    """A copy of written rules and tests to plant a fault in."""
    for name in ("rules.yml", "test.yml"):
        shutil.copy(folder / name, tmp_path / name)
    return tmp_path / "rules.yml", tmp_path / "test.yml"


def promtool(*args):
    """promtool, its standard output and error as one (a failing unit test reports on stderr)."""
    return subprocess.run([PROMTOOL, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_each_exporters_rules_pass_promtool_with_a_quiet_healthy_case_and_a_firing_stall(made, exporter):
    rules, tests = made(exporter) / "rules.yml", made(exporter) / "test.yml"
    check = promtool("check", "rules", rules)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout
    assert EXPORTERS[exporter].lag in rules.read_text()
    cases = yaml.safe_load(tests.read_text())["tests"]
    healthy, stalled = cases[0], cases[1]
    assert healthy["name"].startswith("healthy") and all(t["exp_alerts"] == [] for t in healthy["alert_rule_test"])
    assert stalled["name"].startswith("stalled") and all(t["exp_alerts"] for t in stalled["alert_rule_test"])
    run = promtool("test", "rules", tests)
    assert run.returncode == 0 and "SUCCESS" in run.stdout, run.stdout


def test_a_threshold_tuned_on_the_at_least_once_twin_fires_on_the_healthy_read_committed_consumer(made, eos_cell, tmp_path):
    """The LSO gap at work: the high-watermark lag of a healthy exactly-once consumer sits far
    above an at_least_once consumer's at the same rate, because of the open transaction."""
    cell = eos_cell
    tuned = cell["tuned_on_twin"]
    assert tuned["twin_cell"] == "streams_at_least_once-tms10000-stateless"
    assert tuned["crossed_s"] > tuned["samples"] / 2 and tuned["crossed_own_s"] == 0, tuned
    rules, tests = copied(made("kafka_exporter"), tmp_path)
    naive = rules.read_text().replace(f"> {cell['warning_records']}\n", f"> {tuned['twin_warning_records']}\n")
    assert naive != rules.read_text()
    rules.write_text(naive)
    run = promtool("test", "rules", tests)
    assert run.returncode == 1 and "alertname: EosbenchConsumerLagWarning" in run.stdout, run.stdout


def test_a_rule_that_cannot_see_a_stall_fails_its_promtool_test(made, eos_cell, tmp_path):
    rules, tests = copied(made("kafka_exporter"), tmp_path)
    critical = eos_cell["critical_records"]
    rules.write_text(rules.read_text().replace(f"> {critical}\n", "> 999999999\n"))
    run = promtool("test", "rules", tests)
    assert run.returncode == 1 and "name: stalled" in run.stdout, run.stdout


def test_the_java_consumers_rules_use_its_lso_based_worst_partition_and_its_consumed_rate(made, eos_cell):
    document = yaml.safe_load((made("jmx") / "rules.yml").read_text())["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in document}
    cell = eos_cell
    assert by_name["EosbenchConsumerLagWarning"]["expr"].endswith(f"> {cell['partition_warning_records']}")
    assert 'client_id=~"(consumer-)?orders-.*"' in by_name["EosbenchConsumerLagWarning"]["expr"]
    assert "last stable offset" in by_name["EosbenchConsumerLagWarning"]["annotations"]["description"]
    assert "records_consumed_rate" in by_name["EosbenchConsumerStalled"]["expr"]


def test_a_closed_loop_cell_is_refused_for_thresholds_with_one_line():
    result = lag_cli("--cell", "transactional-ts1000-p1", "--format", "prometheus", "--group", "g", "--topic", "t",
                     run=REPO / "results" / "example-standard")
    assert result.returncode == 2 and result.stdout == "", result
    assert len(result.stderr.strip().splitlines()) == 1 and "ran closed loop" in result.stderr, result.stderr


@pytest.mark.parametrize("args, message", [
    (["--format", "prometheus", "--group", "g", "--topic", "t"], "choose it with --cell"),
    (["--cell", "nope"], "has no cell 'nope' with lag samples"),
    (["--cell", EOS_CELL, "--format", "prometheus", "--group", "g"], "give --topic"),
    (["--cell", EOS_CELL, "--format", "prometheus", "--topic", "t", "--group", " "], "--group needs the consumer group's name"),
])
def test_rules_need_one_known_cell_a_group_and_a_topic(args, message):
    result = lag_cli(*args)
    assert result.returncode == 2 and message in result.stderr and result.stdout == "", result.stderr


def test_a_cell_that_ran_near_its_consumers_ceiling_is_flagged():
    samples = pd.DataFrame({"hw_lag": [10.0], "lso_lag": [10.0], "readable_lag": [10.0], "time_lag_s": [0.1]})
    near = recommend("c", "at_least_once", samples, 9000, None, consumer_cpu_us=100.0)  # ceiling 10,000 msg/s
    far = recommend("c", "at_least_once", samples, 5000, None, consumer_cpu_us=100.0)
    assert near.ceiling_msgs == 10_000 and near.near_ceiling and not far.near_ceiling
    assert "WARNING: the cell ran within 20% of it" in describe(near) and "WARNING: the cell" not in describe(far)


@pytest.mark.parametrize("group, selector", [
    ("orders", 'consumergroup="orders"'),
    ('a"b', r'consumergroup="a\"b"'),
    ("a\\b", r'consumergroup="a\\b"'),
    ("a\nb", r'consumergroup="a\nb"'),
])
def test_prometheus_rules_pass_promtool_whatever_the_group_is_called(made, group, selector):
    rules, tests = made("kafka_exporter", group) / "rules.yml", made("kafka_exporter", group) / "test.yml"
    assert f"kafka_consumergroup_lag_sum{{{selector}," in rules.read_text()
    check = promtool("check", "rules", rules)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout
    run = promtool("test", "rules", tests)
    assert run.returncode == 0 and "SUCCESS" in run.stdout, run.stdout
