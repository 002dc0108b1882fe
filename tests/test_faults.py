"""Guarantees under real broker faults on a three-broker cluster: a paused leader makes
at_least_once write duplicates (reported) while the idempotent, transactional and exactly-once
modes write none and lose nothing; a killed leader costs no acks=all mode an acknowledged record;
the harness survives every fault and says so when a broker does not come back."""

import pytest

from bench.broker import cluster as clusters
from bench.broker import distribution, faults
from bench.cell import CellSpec, Target, run_cell

pytestmark = pytest.mark.broker

CLIENT = {"request.timeout.ms": "2000", "socket.timeout.ms": "2000", "message.timeout.ms": "60000"}
BASE = dict(partitions=3, rate=2000, message_size=256, warmup_s=1, duration_s=12, transaction_ms=100)
PAUSE = {"kind": "pause", "target": "leader", "at_s": 2, "duration_s": 6}
KILL = {"kind": "kill", "target": "leader", "at_s": 2, "duration_s": 3}


@pytest.fixture(scope="module")
def three_brokers(tmp_path_factory):
    cluster = clusters.start(distribution.resolve(), brokers=3, home=tmp_path_factory.mktemp("three-brokers"))
    yield cluster
    clusters.stop(cluster)


def cell(cluster, name, fault, **params):
    target = Target(cluster.bootstrap_servers, CLIENT, 3, 2, cluster=cluster)
    outcome = run_cell(CellSpec(**{**BASE, **params, "faults": (fault,)}), target, 1, f"faults-{name}")
    assert outcome.status == "ok", outcome.status
    assert [f["kind"] for f in outcome.faults] == [fault["kind"]]
    assert len(cluster.running_nodes()) == 3, "a broker was left down"
    return outcome.metrics


@pytest.mark.parametrize("mode, topology", [("idempotent", "produce"), ("transactional", "produce"), ("exactly_once_v2", "process")])
def test_a_paused_leader_costs_the_exactly_once_modes_no_duplicate_and_no_record(three_brokers, mode, topology):
    m = cell(three_brokers, f"pause-{mode}", PAUSE, mode=mode, topology=topology)
    assert (m["duplicates"], m["lost"], m["unexpected"]) == (0, 0, 0)
    assert m["consumed"] == m["acked"] > 0


def test_a_paused_leader_lets_at_least_once_write_duplicates_and_the_accounting_reports_them(three_brokers):
    m = cell(three_brokers, "pause-alo", PAUSE, mode="at_least_once")
    assert m["lost"] == 0 and m["consumed"] == m["acked"] + m["duplicates"]
    print(f"at_least_once under a {PAUSE['duration_s']} s leader pause: {m['duplicates']} duplicates of {m['acked']} records")


@pytest.mark.parametrize("mode", ["at_least_once", "transactional"])
def test_a_killed_leader_loses_no_acknowledged_record_with_acks_all(three_brokers, mode):
    m = cell(three_brokers, f"kill-{mode}", KILL, mode=mode)
    assert m["lost"] == 0 and m["acked"] > 0


def test_a_broker_that_does_not_come_back_fails_the_cell_with_a_clear_status(three_brokers, monkeypatch):
    monkeypatch.setattr(clusters, "start_node", lambda cluster, node: None)  # the restart "fails"
    monkeypatch.setattr(faults, "REJOIN_TIMEOUT_S", 5.0)
    target = Target(three_brokers.bootstrap_servers, CLIENT, 3, 2, cluster=three_brokers)
    outcome = run_cell(CellSpec(**{**BASE, "duration_s": 6, "mode": "idempotent", "faults": (KILL,)}), target, 1, "faults-noreturn")
    assert outcome.status.startswith("failed:") and "did not come back" in outcome.status
    monkeypatch.undo()
    for node in three_brokers.nodes:
        if not node.is_running():
            clusters.start_node(three_brokers, node)
    clusters.wait_ready(three_brokers)
    assert len(three_brokers.running_nodes()) == 3
