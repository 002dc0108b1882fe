"""`eosbench calibrate` runs Kafka's own ProducerPerformance and eosbench's producer in turns
against the same broker and reports both, with their ratio; stored as a run."""

import pandas as pd
import pytest

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
