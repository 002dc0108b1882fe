"""`eosbench calibrate` runs Kafka's own ProducerPerformance and eosbench's producer in turns
against the same broker and reports both, with their ratio; stored as a run."""

import math
import os

import pandas as pd
import pytest
from confluent_kafka.admin import AdminClient

from bench.calibration import TOOLS, Kip98, Measurement

from tests.conftest import eosbench

@pytest.mark.broker
@pytest.mark.network  # Kafka's ProducerPerformance comes with the kafka-tools artifact
def test_calibrate_reports_both_tools_and_their_ratio(bootstrap_servers, tmp_path):
    result = eosbench("calibrate", "--bootstrap-servers", bootstrap_servers, "--mode", "transactional", "--records", "20000",
                      "--repeat", "2", "--message-size", "512", "--results-dir", str(tmp_path), "--run-id", "cal")
    assert result.returncode == 0, result.stderr
    assert "throughput ratio eosbench / perf-test at 512 B:" in result.stdout
    settings = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.split()[:1] and "." in line.split()[0]}
    assert settings["batch.size"] == ["16384", "16384"] and settings["linger.ms"] == ["5", "5"]  # the same for both tools
    assert settings["enable.idempotence"] == ["true", "true"] and settings["compression.type"] == ["none", "none"]
    assert "warm-up (discarded)" in result.stderr
    table = pd.read_csv(tmp_path / "cal" / "calibration.csv")
    assert sorted(table["tool"]) == ["eosbench", "eosbench", "perf-test", "perf-test"]
    assert (table["records"] == 20000).all() and (table["throughput_msgs"] > 0).all()
    assert list(table["tool"][:2]) == ["perf-test", "eosbench"] and list(table["tool"][2:]) == ["eosbench", "perf-test"]


def test_calibrate_refuses_a_mode_perf_test_cannot_mirror():
    result = eosbench("calibrate", "--mode", "exactly_once_v2")
    assert result.returncode == 2 and "--mode" in result.stderr


@pytest.mark.broker
@pytest.mark.network
def test_kip98_runs_every_setup_with_both_tools_and_sets_each_overhead_against_the_published_figure(bootstrap_servers, tmp_path):
    result = eosbench("calibrate", "--kip98", "--bootstrap-servers", bootstrap_servers, "--records", "3000", "--repeat", "2",
                      "--message-size", "512", "--results-dir", str(tmp_path), "--run-id", "kip98")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "kip98" / "kip98.csv")
    assert len(table) == 3 * 2 * 2  # setups x tools x rounds; the discarded warm-ups are not stored
    setups = table.drop_duplicates("setup").set_index("setup")
    assert setups.loc["transactional", "max_in_flight"] == 5 and setups.loc["at_least_once, 1 in flight", "max_in_flight"] == 1
    assert setups.loc["at_most_once (acks=1), 5 in flight", "mode"] == "at_most_once"
    assert table.loc[table["tool"] == "eosbench", "generator_cpu_share"].between(0, os.cpu_count()).all()
    lines = result.stdout.splitlines()
    published = {line.split()[0]: line for line in lines if line.rstrip().endswith((" 3%", " 20%"))}
    assert set(published) == {"at_least_once,", "at_most_once"}, result.stdout
    assert "generator-bound (a thread of eosbench's producer never waited for Kafka):" in result.stdout
    assert table.loc[table["tool"] == "eosbench", "generator_thread_demand"].between(0.01, 1.05).all()  # measured, as a share of the run
    topics = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10).topics
    assert not [t for t in topics if t.startswith("eosbench.calibrate.")], "a measurement's topic was left on the broker"


def test_kip98_takes_no_mode_of_its_own():
    result = eosbench("calibrate", "--kip98", "--mode", "idempotent")
    assert result.returncode == 2 and "--kip98 measures its own three setups" in result.stderr


def test_kip98_overheads_are_paired_by_round_and_ratios_are_eosbench_over_perf_test():
    def m(tool, rep, rate, share=0.5):
        return Measurement(tool, rep, 1000, rate, rate / 1000, 1.0, 2.0, 3.0, share if tool == "eosbench" else math.nan)

    drift = {1: 1.0, 2: 1.5, 3: 0.8}  # the machine's speed per round moves every setup alike
    result = Kip98(1024, 1000, {
        "transactional": [m(t, r, 90_000 * d * (1.1 if t == "eosbench" else 1.0)) for r, d in drift.items() for t in TOOLS],
        "at_least_once, 1 in flight": [m(t, r, 100_000 * d) for r, d in drift.items() for t in TOOLS],
        "at_most_once (acks=1), 5 in flight": [m(t, r, 120_000 * d, 0.95) for r, d in drift.items() for t in TOOLS],
    })
    overhead, low, high = result.overhead("at_least_once, 1 in flight", "perf-test")
    assert overhead == pytest.approx(10.0) and math.isnan(low) and math.isnan(high)  # identical ratios: no spread, no interval
    assert result.overhead("at_most_once (acks=1), 5 in flight", "eosbench")[0] == pytest.approx(100 * (1 - 99 / 120))
    assert result.ratio("transactional")[0] == pytest.approx(1.1) and result.ratio("at_least_once, 1 in flight")[0] == pytest.approx(1.0)
    assert result.generator_bound() == ["at_most_once (acks=1), 5 in flight"]
