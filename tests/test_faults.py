"""Guarantees under real broker faults on a three-broker cluster: a paused leader makes
at_least_once write duplicates (reported) while the idempotent, transactional and exactly-once
modes write none and lose nothing; a killed leader costs no acks=all mode an acknowledged record,
nor does a leader restarted with a controlled shutdown;
the harness survives every fault and says so when a broker does not come back."""

import pytest

from bench import jvm
from bench.broker import cluster as clusters
from bench.broker import distribution, faults
from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target

pytestmark = pytest.mark.broker

CLIENT = {"request.timeout.ms": "2000", "socket.timeout.ms": "2000", "message.timeout.ms": "60000"}
BASE = dict(partitions=3, rate=2000, message_size=256, warmup_s=1, duration_s=12, transaction_ms=100)
PAUSE = {"kind": "pause", "target": "leader", "at_s": 2, "duration_s": 6}
KILL = {"kind": "kill", "target": "leader", "at_s": 2, "duration_s": 3}
RESTART = {"kind": "restart", "target": "leader", "at_s": 2, "duration_s": 3}


@pytest.fixture(scope="module")
def three_brokers(tmp_path_factory):
    cluster = clusters.start(distribution.resolve(), brokers=3, home=tmp_path_factory.mktemp("three-brokers"))
    yield cluster
    clusters.stop(cluster)


def cell(cluster, name, fault, **params):
    return run(cluster, name, fault, **params).metrics


def run(cluster, name, fault, **params):
    java = (cluster.java, "-Xmx512m", "-cp", jvm.classpath(distribution.resolve(cluster.version))) if params.get("driver") == "java" else ()
    client = {k: v for k, v in CLIENT.items() if not java or k != "socket.timeout.ms"}  # librdkafka's alone
    target = Target(cluster.bootstrap_servers, client, 3, 2, cluster=cluster, java=java)
    outcome = run_cell(CellSpec(**{**BASE, **params, "faults": (fault,)}), target, 1, f"faults-{name}")
    assert outcome.status == "ok", outcome.status
    assert [f["kind"] for f in outcome.faults] == [fault["kind"]]
    assert len(cluster.running_nodes()) == 3, "a broker was left down"
    return outcome


@pytest.mark.parametrize("mode, topology, driver", [
    ("idempotent", "produce", "librdkafka"), ("transactional", "produce", "librdkafka"), ("exactly_once_v2", "process", "librdkafka"),
    ("transactional", "produce", "java"),  # the Java producer's idempotence is its transactions' too
])
def test_a_paused_leader_costs_the_exactly_once_modes_no_duplicate_and_no_record(three_brokers, mode, topology, driver):
    m = cell(three_brokers, f"pause-{mode}-{driver}", PAUSE, mode=mode, topology=topology, driver=driver)
    assert (m["duplicates"], m["lost"], m["unexpected"]) == (0, 0, 0)
    assert m["consumed"] == m["acked"] > 0


def test_a_paused_leader_lets_at_least_once_write_duplicates_and_the_accounting_reports_them(three_brokers):
    """Requests time out during the pause and are retried; the paused broker, once resumed, still
    appends the first copies: at_least_once promises no more, and the accounting must show it."""
    m = cell(three_brokers, "pause-alo", PAUSE, mode="at_least_once")
    print(f"at_least_once under a {PAUSE['duration_s']} s leader pause: {m['duplicates']} duplicates of {m['acked']} records")
    assert m["duplicates"] > 0 and m["lost"] == 0
    assert m["consumed"] == m["acked"] + m["duplicates"]


@pytest.mark.parametrize("mode", ["at_least_once", "transactional"])
def test_a_killed_leader_loses_no_acknowledged_record_with_acks_all(three_brokers, mode):
    m = cell(three_brokers, f"kill-{mode}", KILL, mode=mode)
    assert m["lost"] == 0 and m["acked"] > 0
    # librdkafka's complaints about the dead broker went to the roles' logs (so not to the terminal)
    assert any(kind.startswith("ERROR/") for counts in m["client_log_counts"].values() for kind in counts), m["client_log_counts"]


@pytest.mark.parametrize("mode", ["idempotent", "transactional"])
def test_a_leader_restarted_with_a_controlled_shutdown_costs_no_record_and_no_duplicate(three_brokers, mode):
    """SIGTERM hands the leader's partitions and the transaction coordinators it hosts to the other
    brokers before it exits: the step of a rolling restart, which exactly-once must ride through."""
    outcome = run(three_brokers, f"restart-{mode}", RESTART, mode=mode)
    m, [record] = outcome.metrics, outcome.faults
    print(f"{mode} across a leader restart: {m['acked']} acked, {m['duplicates']} duplicates, {m['lost']} lost; {record}")
    assert (m["duplicates"], m["lost"], m["unexpected"]) == (0, 0, 0) and m["acked"] > 0
    assert record["clean_shutdown"] is True and record["rejoin_s"] > 0


def test_a_cells_topics_take_the_clusters_min_insync_replicas(three_brokers):
    """min.insync.replicas=2 comes from the cluster's configuration, not from a topic-level override
    eosbench would add: the cell runs as a deployment with that cluster would."""
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

    target = Target(three_brokers.bootstrap_servers, CLIENT, 3, 2, cluster=three_brokers)
    outcome = run_cell(CellSpec(mode="transactional", partitions=3, rate=500, message_size=100, warmup_s=0, duration_s=1),
                       target, 1, "faults-isr", keep_topics=True)
    assert outcome.status == "ok", outcome.status
    admin = AdminClient({"bootstrap.servers": three_brokers.bootstrap_servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, outcome.topics[0])
    isr = admin.describe_configs([resource])[resource].result(30)["min.insync.replicas"]
    admin.delete_topics(outcome.topics)
    assert isr.value == "2" and isr.source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value  # the cluster's default, no override


def test_a_broker_that_does_not_come_back_fails_the_cell_with_a_clear_status(three_brokers, monkeypatch):
    monkeypatch.setattr(clusters, "start_node", lambda cluster, node: None)  # the restart "fails"
    monkeypatch.setattr(faults, "REJOIN_TIMEOUT_S", 5.0)
    target = Target(three_brokers.bootstrap_servers, CLIENT, 3, 2, cluster=three_brokers)
    outcome = run_cell(CellSpec(**{**BASE, "duration_s": 6, "mode": "idempotent", "faults": (KILL,)}), target, 1, "faults-noreturn")
    assert outcome.status.startswith("failed:") and "did not come back" in outcome.status
    monkeypatch.undo()
    clusters.wait_ready(three_brokers)  # brings the dead node back: a multi-node cluster starts its exited nodes again
    assert len(three_brokers.running_nodes()) == 3


# ----------------------------------------------------------------------------- transactions across topics

FAN_OUT = dict(BASE, fan_out=3, duration_s=10)


PRODUCER_FAULTS = ({"kind": "producer_kill", "at_s": 2.5}, {"kind": "zombie", "at_s": 5, "duration_s": 2})


@pytest.mark.parametrize("faults", [PRODUCER_FAULTS, (KILL,)], ids=["producer-kill-then-zombie", "leader-kill"])
def test_a_transaction_across_three_topics_is_never_torn_aborted_read_or_lost_under_a_fault(three_brokers, faults):
    """One cell for both producer faults: the first producer killed mid-transaction and replaced,
    then its successor frozen, fenced off by a third instance with the same transactional.id, and woken."""
    target = Target(three_brokers.bootstrap_servers, CLIENT, 3, 2, cluster=three_brokers)
    outcome = run_cell(CellSpec(**{**FAN_OUT, "mode": "transactional", "faults": faults}), target, 1, f"atomic-{faults[0]['kind']}")
    assert outcome.status == "ok", outcome.status
    assert [f["kind"] for f in outcome.faults] == [f["kind"] for f in faults]
    m = outcome.metrics
    print(f"transactional, 3 topics, {'+'.join(f['kind'] for f in faults)}: {m['transactions']} transactions, "
          f"{m['aborted']} aborted records, {m['fenced_producers']} fenced")
    assert (m["torn_transactions"], m["partial_events"], m["unexpected"], m["lost"], m["duplicates"]) == (0, 0, 0, 0, 0)
    assert m["consumed"] == m["acked"] > 0
    if faults == PRODUCER_FAULTS:
        assert m["fenced_producers"] == 1  # woken up, the zombie was refused: its open transaction can never commit
        assert m["aborted"] > 0  # the victims' open transactions, aborted by their successors


def test_the_checker_sees_half_written_events_of_a_killed_idempotent_producer(three_brokers):
    """Negative control: the same fan-out without a transaction, the producer killed mid-burst,
    leaves events written to some of their topics only, and the checker counts them. Whether a
    kill finds an event half sent is a matter of timing (on the CI machine, after the other faults
    of this module, a kill once found none in flight, open loop and closed loop alike), so the
    fault is planted up to three times: a checker that never counts a partial event still fails."""
    found = []
    for attempt in range(3):
        m = cell(three_brokers, f"atomic-negative-{attempt}", {"kind": "producer_kill", "at_s": 3.5}, **dict(FAN_OUT, rate=20000),
                 mode="idempotent")
        found.append(m["partial_events"])
        if m["partial_events"] > 0:
            break
    print(f"idempotent, 3 topics, producer killed: partial events per attempt {found}")
    assert found[-1] > 0
