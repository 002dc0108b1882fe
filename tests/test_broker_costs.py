"""Broker costs read from a real broker: the counts agree with what the clients did and with
Kafka's own log dump tool, and two independent readings of the broker's CPU agree."""

import json

import pytest

from bench.broker import cluster as clusters
from bench.brokers import session
from bench.cell.phases import run_cell
from bench.cell.resources import Window
from bench.cell.spec import CellSpec
from tests.conftest import REPO, eosbench

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """An embedded broker with its resource probe, as `eosbench run` opens them."""
    with session({}, tmp_path_factory.mktemp("costs"), java_roles=True) as (target, record):
        yield target, record


def test_the_manifest_says_where_each_broker_cost_comes_from(measured):
    _, record = measured
    assert record["resources"]["measured"] and record["resources"]["cpu"] == "proc"
    assert record["resources"]["requests"] == "jmx" and record["resources"]["log_bytes"] == "DescribeLogDirs"
    assert record["features"]["transaction.version"] == 2  # as a Kafka 4.1 cluster is formatted: which protocol clients may speak


def test_end_txn_requests_and_transaction_markers_match_what_the_producer_did(measured):
    """Every commit and abort is one EndTxn on the broker and, on a one-partition topic, one
    control batch (a transaction marker) that Kafka's DumpLogSegments finds in the log; the log's
    size as DescribeLogDirs reports it is the sum of the batches the dump lists."""
    target, _ = measured
    probe = target.resources
    before = probe.sample([])
    spec = CellSpec(mode="transactional", partitions=1, rate=2000, message_size=200, warmup_s=0, duration_s=3,
                    transaction_size=10, abort_ratio=0.2)
    outcome = run_cell(spec, target, 1, "costs-markers", keep_topics=True)
    assert outcome.status == "ok", outcome.status
    after = probe.sample(outcome.topics)
    m = outcome.metrics
    finished = m["transactions"] + m["aborts"]
    requests = Window.between(before, after, []).requests
    assert m["aborts"] > 0 and requests["EndTxn"] == finished
    # librdkafka speaks transactions v1 on this transaction.version 2 cluster: its own AddPartitionsToTxn, one per transaction
    assert requests["AddPartitionsToTxn"] >= finished and not requests.get("AddPartitionsToTxnInterBroker")

    topic = outcome.topics[0]
    batches = clusters.dump_log(target.cluster, topic, 0)
    assert sum(b.control for b in batches) == finished
    assert sum(b.size for b in batches) == after.log_bytes[topic]["0"]["1"]


@pytest.mark.network  # kafka-clients' build deps come from Maven Central once
def test_the_java_producer_drops_its_add_partitions_round_trip_at_transaction_version_2_and_only_there(measured):
    """Transactions v2 (KIP-890) as the broker counts it: at level 1 the Java producer asks the
    coordinator to add each partition (AddPartitionsToTxn); at level 2 it sends none, and the
    partition leader adds the partition itself (an AddPartitionsToTxn of version 4+, brokers' own)."""
    target, _ = measured
    per_transaction = {}
    for level in (1, 2):  # 2 last: the cluster is left as it was formatted
        spec = CellSpec(mode="transactional", driver="java", transaction_version=level, partitions=2, rate=2000, message_size=200,
                        warmup_s=0, duration_s=3, transaction_size=100)
        outcome = run_cell(spec, target, 10 + level, f"costs-tv{level}")
        assert outcome.status == "ok", outcome.status
        m = outcome.metrics
        assert (m["duplicates"], m["lost"], m["consumed"]) == (0, 0, m["acked"])
        requests = m["resources"]["requests"]
        per_transaction[level] = {kind: requests.get(kind, 0) / requests["EndTxn"] for kind in ("AddPartitionsToTxn", "AddPartitionsToTxnInterBroker")}
    print("Java producer, requests per transaction by transaction.version:", per_transaction)
    assert per_transaction[1]["AddPartitionsToTxn"] >= 0.9 and per_transaction[1]["AddPartitionsToTxnInterBroker"] == 0
    assert per_transaction[2]["AddPartitionsToTxn"] == 0 and per_transaction[2]["AddPartitionsToTxnInterBroker"] >= 0.9


def test_two_independent_readings_of_the_brokers_cpu_agree_within_five_percent(measured):
    """/proc/<pid>/stat (what eosbench uses for its own brokers) against the JVM's own
    ProcessCpuTime over JMX (what it uses for other clusters), over one measured window."""
    target, _ = measured
    outcome = run_cell(CellSpec(mode="idempotent", partitions=3, rate=5000, message_size=512, warmup_s=1, duration_s=4),
                       target, 2, "costs-cpu")
    assert outcome.status == "ok", outcome.status
    window = outcome.metrics["resources"]
    assert window["cpu_source"] == "proc" and outcome.metrics["broker_cpu_us_per_record"] > 0
    proc = sum(window["broker_cpu_s"].values())
    jmx = window["jmx_cpu_s"]
    assert proc > 0.5 and abs(proc - jmx) / jmx < 0.05, (proc, jmx)


def test_a_jmx_address_that_does_not_answer_is_one_line_and_exit_3(bootstrap_servers, tmp_path):
    result = eosbench("run", str(REPO / "bench" / "profiles" / "quick.yaml"), "--bootstrap-servers", bootstrap_servers,
                      "--jmx", "127.0.0.1:1", "--results-dir", str(tmp_path), timeout=300)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "JMX at 127.0.0.1:1 (--jmx) does not answer" in lines[-1] and "Traceback" not in result.stderr



def test_a_cluster_eosbench_did_not_start_is_measured_through_the_jmx_the_user_gives(bootstrap_servers, tmp_path):
    """The test session's broker, treated as the user's own: with its JMX address, broker CPU comes
    from ProcessCpuTime and requests from RequestMetrics, as for the embedded brokers."""
    cluster = clusters.load_state()
    if cluster is None:
        pytest.skip("EOSBENCH_BOOTSTRAP_SERVERS: the JMX address of that cluster is not known here")
    profile = tmp_path / "p.yaml"
    profile.write_text("workload: {topology: produce, partitions: 2, message_size: 200, rate: 2000, warmup_s: 1, duration_s: 2,"
                       " transaction_size: 50}\nsweep: {mode: [transactional]}\nrepeat: 1\nwarmup_max_s: 0\n")
    result = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--jmx", cluster.nodes[0].jmx_address,
                      "--results-dir", str(tmp_path), "--run-id", "jmx", "--quiet", timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "jmx" / "cells" / "transactional" / "r1" / "metrics.json").read_text())
    assert metrics["resources"]["cpu_source"] == "jmx" and metrics["broker_cpu_us_per_record"] > 0
    assert metrics["requests_per_1k"]["EndTxn"] > 0 and metrics["log_bytes_per_record"] > 200


def test_the_cluster_of_eosbench_broker_up_is_measured_like_the_embedded_one(bootstrap_servers, tmp_path):
    """`eosbench broker up`, then `run --bootstrap-servers` on it: eosbench knows those processes."""
    if clusters.load_state() is None:
        pytest.skip("EOSBENCH_BOOTSTRAP_SERVERS: not a cluster eosbench manages")
    with session({}, tmp_path, bootstrap_servers) as (target, record):
        assert record["external"] and record["resources"]["cpu"] == "proc" and record["resources"]["requests"] == "jmx"
        assert target.resources.sample([]).proc_cpu_s
