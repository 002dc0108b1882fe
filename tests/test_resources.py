"""Broker costs from two samples of the brokers' counters, per record, and as a capacity table:
pure logic, no broker (tests/test_broker_costs.py reads real brokers)."""

import math

import pandas as pd
import pytest

from bench.analysis import planning
from bench.cell.derive import resource_costs
from bench.cell.resources import Sample, Window, parse_jmx
from bench.client_properties import java_connection_properties
from bench.cell.spec import CellSpec
from bench.errors import BadInput
from tests.conftest import REPO, eosbench

TOPICS = ["eosbench.t.1.records"]


def sample(t_s: float, cpu: float, pid: int = 100, requests: dict | None = None, sizes: dict | None = None) -> Sample:
    return Sample(int(t_s * 1e9), {"1": (pid, cpu)}, {"1": {"cpu_ns": int(cpu * 1e9), "requests": requests or {}}},
                  sizes if sizes is not None else {})


def test_a_window_is_what_the_counters_moved_between_its_edges():
    a = sample(0, 10.0, requests={"Produce": 100, "EndTxn": 5},
               sizes={TOPICS[0]: {"0": {"1": 1000, "2": 1000}}, "__transaction_state": {"3": {"1": 50}}})
    b = sample(2, 12.5, requests={"Produce": 160, "EndTxn": 9, "WriteTxnMarkers": 4},
               sizes={TOPICS[0]: {"0": {"1": 5000, "2": 4900}, "1": {"1": 300, "2": 300}},
                      "__transaction_state": {"3": {"1": 250}}, "__consumer_offsets": {"0": {"1": 10}}})
    w = Window.between(a, b, TOPICS)
    assert w.seconds == 2.0 and w.broker_cpu_s == {"1": 2.5} and w.cpu_source == "proc"
    assert w.requests == {"EndTxn": 4, "Produce": 60, "WriteTxnMarkers": 4}
    # one replica of each partition (the leader's: the larger), every replica, each of the cell's topics,
    # internal topics apart
    assert w.log_bytes == {"cell": 4000 + 300, "cell_replicas": 4000 + 3900 + 600, "topics": {TOPICS[0]: 4000 + 300},
                           "__transaction_state": 200, "__consumer_offsets": 10}


def test_a_broker_that_restarted_in_the_window_is_not_measured_rather_than_wrong():
    a = sample(0, 10.0, pid=100, requests={"Produce": 100})
    b = sample(2, 0.5, pid=200, requests={"Produce": 7})  # a new JVM: counters from zero
    w = Window.between(a, b, TOPICS)
    assert w.broker_cpu_s is None and "restarted" in w.cpu_source
    assert w.requests is None and "restarted" in w.requests_note


def test_without_proc_or_jmx_the_cpu_is_not_measured_and_says_why():
    a = Sample(0, {}, {}, {"error": "TimeoutException: down"})
    w = Window.between(a, Sample(10**9, {}, {}, {}), TOPICS)
    assert w.broker_cpu_s is None and w.cpu_source.startswith("not measured")
    assert w.requests is None and w.log_bytes is None and "DescribeLogDirs failed" in w.log_note


def test_costs_per_record_divide_the_window_by_its_records():
    window = {"broker_cpu_s": {"1": 1.5, "2": 0.5}, "requests": {"Produce": 50, "EndTxn": 10},
              "log_bytes": {"cell": 1_100_000, "cell_replicas": 3_300_000, "__transaction_state": 5_000, "__consumer_offsets": 1_000}}
    out = resource_costs(CellSpec(mode="transactional", message_size=1000), 1000, window, "")
    assert out["broker_cpu_us_per_record"] == pytest.approx(2000.0)
    assert out["broker_cpu_ms_per_mb"] == pytest.approx(2000.0)   # 2 s over 1 MB of values
    assert out["log_bytes_per_record"] == 1100 and out["log_overhead_bytes_per_record"] == 100
    assert out["log_replicated_bytes_per_record"] == 3300 and out["internal_log_bytes_per_record"] == 6
    assert out["requests_per_1k"]["EndTxn"] == 10 and out["requests_per_1k"]["Fetch"] == 0


def test_an_unmeasured_window_gives_no_figure_never_a_guess():
    out = resource_costs(CellSpec(mode="transactional"), 1000, None, "not measured: the probe died")
    assert out["resources"] == {"note": "not measured: the probe died"}
    assert all(out[k] is None for k in ("broker_cpu_us_per_record", "log_bytes_per_record", "requests_per_1k"))


def test_secrets_reach_the_java_admin_only_in_its_own_form():
    config = {"bootstrap.servers": "b:9093", "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
              "sasl.username": "u", "sasl.password": "p4ss", "ssl.ca.location": "/ca.pem", "linger.ms": "5"}
    java = java_connection_properties(config)
    assert java["sasl.mechanism"] == "SCRAM-SHA-512" and "ScramLoginModule" in java["sasl.jaas.config"]
    assert 'password="p4ss"' in java["sasl.jaas.config"] and "sasl.password" not in java
    assert java["ssl.truststore.type"] == "PEM" and "linger.ms" not in java


@pytest.mark.parametrize("text, embedded, error", [
    ("10.0.0.1:9999,10.0.0.2:9999", False, None), ("10.0.0.1", False, "not HOST:PORT"),
    ("h:99999", False, "not HOST:PORT"), ("h:1", True, "cluster eosbench did not start"), (",", False, "at least one"),
])
def test_jmx_addresses_are_checked_before_anything_runs(text, embedded, error):
    if error is None:
        assert parse_jmx(text, embedded) == {"10.0.0.1:9999": "10.0.0.1:9999", "10.0.0.2:9999": "10.0.0.2:9999"}
    else:
        with pytest.raises(BadInput, match=error):
            parse_jmx(text, embedded)


def frame(rows: list[tuple]) -> pd.DataFrame:
    cols = ["cell_id", "repetition", "mode", "topology", "message_size", "partitions", "transaction_size", "transaction_ms", "status",
            "throughput_msgs", "broker_cpu_us_per_record", "log_bytes_per_record", "log_replicated_bytes_per_record",
            "internal_log_bytes_per_record", "requests_per_1k_end_txn"]
    return pd.DataFrame(rows, columns=cols)


RUN = frame([
    ("alo", 1, "at_least_once", "produce", 1024, 3, None, None, "ok", 50_000, 10.0, 1100, 1100, 0.0, 0.0),
    ("txn", 1, "transactional", "produce", 1024, 3, 100, None, "ok", 40_000, 14.0, 1110, 1110, 2.0, 10.0),
    ("alo", 2, "at_least_once", "produce", 1024, 3, None, None, "ok", 52_000, 11.0, 1100, 1100, 0.0, 0.0),
    ("txn", 2, "transactional", "produce", 1024, 3, 100, None, "ok", 41_000, 15.0, 1110, 1110, 2.0, 10.0),
])


def test_the_capacity_table_prices_a_target_load_and_the_extra_cores_pair_by_repetition():
    rows = {r.cell_id: r for r in planning.plan(RUN, 100_000, "at_least_once")}
    assert rows["alo"].broker_cores.mean == pytest.approx(1.05) and rows["alo"].extra_cores is None
    assert rows["txn"].broker_cores.mean == pytest.approx(1.45)
    extra = rows["txn"].extra_cores
    assert extra.mean == pytest.approx(0.4) and math.isnan(extra.low) is False and extra.low == extra.high  # identical pairs
    assert rows["txn"].disk_mb_s.mean == pytest.approx(100_000 * (1110 + 2) / 1e6)
    assert rows["txn"].requests_per_s["EndTxn"].mean == pytest.approx(1000)
    assert "extrapolated: measured up to 41,000 msg/s" in rows["txn"].note


def test_capacity_refuses_a_run_without_costs_and_a_size_it_did_not_measure():
    with pytest.raises(BadInput, match="no broker resource figures"):
        planning.plan(RUN.assign(broker_cpu_us_per_record=None), 1000, "at_least_once")
    with pytest.raises(BadInput, match="no cell of this run has message_size 100: it measured 1024"):
        planning.plan(RUN, 1000, "at_least_once", message_size=100)
    with pytest.raises(BadInput, match="positive"):
        planning.plan(RUN, -5, "at_least_once")


def test_capacity_refuses_what_it_cannot_price_in_one_line_each():
    old = str(REPO / "results" / "gate-A1")  # measured before broker costs were
    for args, code, words in ([old, "--rate", "1000"], 2, "no broker resource figures"), \
                             ([old, "--rate", "-5"], 2, "positive"), \
                             ([str(REPO / "results" / "no-such-run"), "--rate", "5"], 2, "no-such-run"):
        result = eosbench("capacity", *args)
        assert result.returncode == code and words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_without_a_probe_the_cell_script_sleeps_between_its_steps_instead_of_spinning():
    """The measured window's loop sleeps until the next edge or 0.2 s; with nothing to read at the
    window's start it must wait for the window's end, not for an edge already past (a busy loop
    that would burn the core the broker needs)."""
    from bench.cell.phases import WindowEdges
    from bench.roles.protocol import Timeline

    timeline = Timeline(0, 100, 200, 0.0)
    assert WindowEdges(None, TOPICS, timeline).next_ns() == 200
