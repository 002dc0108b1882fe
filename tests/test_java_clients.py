"""Kafka's own Java clients as producers and verifying consumer (`driver: java`, jvm/): every record
accounted for as with librdkafka, and the bad input around the driver and transaction_version.
Transactions v2 as the broker counts it: tests/test_broker_costs.py; under a leader pause: tests/test_faults.py."""

import pytest

from bench import jvm
from bench.broker import distribution
from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target
from tests.conftest import eosbench

pytestmark = [pytest.mark.broker, pytest.mark.network]  # kafka-clients' build deps come from Maven Central once

QUICK = dict(driver="java", partitions=2, warmup_s=1, duration_s=4, rate=2000, message_size=256)


@pytest.fixture(scope="module")
def target(bootstrap_servers):
    java = (distribution.find_java().executable, "-Xmx512m", "-cp", jvm.classpath(distribution.resolve()))
    return Target(bootstrap_servers, java=java)


def test_java_clients_account_for_every_record_committed_aborted_and_read_committed(target):
    """Open loop, a fifth of the transactions aborted on purpose: the Java consumer, a member of its
    group under the consumer protocol (KIP-848; classic is the other tests' default), reads exactly
    the committed records once, and the cell records the Java properties that ran."""
    outcome = run_cell(CellSpec(**QUICK, mode="transactional", transaction_size=50, abort_ratio=0.2, group_protocol="consumer"),
                       target, 1, "java-txn")
    assert outcome.status == "ok", outcome.status
    m = outcome.metrics
    assert m["aborts_on_purpose"] > 0 and m["aborted"] > 0
    assert m["consumed"] == m["acked"] == m["sent"] - m["aborted"] > 0.9 * 2000 * 5 * 0.8
    assert (m["duplicates"], m["lost"], m["unexpected"], m["torn_transactions"]) == (0, 0, 0, 0)
    assert min(m["e2e"]["count"], m["produce"]["count"], m["commit"]["count"]) > 0
    assert m["e2e"]["p50_ms"] < 1_000  # stamps of the Java producer read on the Python runner's clock: the same monotonic clock
    producer, consumer = outcome.client_configs["producer"], outcome.client_configs["consumer"]
    assert (producer["enable.idempotence"], producer["acks"], producer["buffer.memory"]) == ("true", "all", str(2_048 * 1024))
    assert producer["batch.size"] == "16384" and "statistics.interval.ms" not in producer  # Java's names and defaults, stated
    assert consumer["isolation.level"] == "read_committed" and consumer["enable.auto.commit"] == "false"
    assert consumer["group.protocol"] == "consumer"


@pytest.mark.parametrize("workload, says", [
    ("{mode: idempotent, driver: go}", "'workload.driver' must be librdkafka or java, not 'go'"),
    ("{mode: transactional, transaction_version: 3}", "'workload.transaction_version' must be a whole number from 1 to 2"),
    ("{mode: exactly_once_v2, topology: process, driver: java}", "driver 'java' shapes none of this profile's cells"),
    ("{mode: at_least_once, transaction_version: 1}", "transaction_version 1 shapes none of this profile's cells"),
])
def test_bad_driver_and_transaction_version_settings_get_one_line_and_exit_2(tmp_path, workload, says):
    profile = tmp_path / "p.yaml"
    profile.write_text(f"workload: {workload}\n")
    out = eosbench("validate", str(profile))
    assert out.returncode == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("workload", ["{mode: idempotent, driver: java}", "{mode: streams_exactly_once_v2, topology: process}"])
def test_java_roles_on_a_kafka_version_maven_central_lacks_are_one_line_and_exit_2(bootstrap_servers, tmp_path, workload):
    """The Java module is built before anything is written: no client jars, no run directory."""
    profile = tmp_path / "p.yaml"
    profile.write_text(f"kafka: {{version: 4.0.99}}\nworkload: {workload}\n")
    out = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "4.0.99" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_a_librdkafka_only_client_property_with_the_java_driver_is_one_line_and_exit_2(bootstrap_servers, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("client: {batch.num.messages: 500}\nworkload: {mode: idempotent, driver: java}\n")
    out = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "batch.num.messages" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_transaction_version_is_never_set_on_a_cluster_eosbench_did_not_start(bootstrap_servers, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("workload: {mode: transactional, transaction_version: 1}\n")
    out = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "embedded broker only" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
