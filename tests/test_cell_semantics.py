"""Each delivery mode, run as a cell against the real broker, delivers what it promises.

These pin down semantics, not only that a cell ran: the effective client properties, the
read_committed filtering of aborted transactions, and exactly-once across a processor crash.
"""

import pytest

from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target

pytestmark = pytest.mark.broker

# Open loop at a modest rate keeps these cells short and the processor never far behind.
QUICK = dict(partitions=2, warmup_s=1, duration_s=4, rate=2000, message_size=256)


def run(bootstrap_servers, name, **params):
    outcome = run_cell(CellSpec(**{**QUICK, **params}), Target(bootstrap_servers), ordinal=1, run_tag=f"test-{name}")
    assert outcome.status == "ok", outcome.status
    return outcome


@pytest.fixture(scope="module")
def produced(bootstrap_servers):
    """One cell of each produce mode, read by the tests below."""
    return {mode: run(bootstrap_servers, mode, mode=mode) for mode in ("at_most_once", "at_least_once", "idempotent", "transactional")}


def test_every_record_of_a_produce_mode_is_consumed_once(produced):
    for mode, outcome in produced.items():
        m = outcome.metrics
        assert m["sent"] > 0.9 * 2000 * 5, mode
        assert (m["acked"], m["duplicates"], m["lost"], m["unexpected"]) == (m["sent"], 0, 0, 0), mode
        assert m["e2e"]["count"] > 0 and m["produce"]["count"] > 0, mode
        # asleep between its scheduled sends: the generator did not set the pace (tests/test_generator_bound.py)
        assert not m["generator_bound"] and m["generator_thread"]["demand"] < 0.5, (mode, m["generator_thread"])


def test_at_least_once_really_runs_without_idempotence_and_transactional_reads_committed(produced):
    alo, txn = produced["at_least_once"].client_configs, produced["transactional"].client_configs
    assert alo["producer"]["enable.idempotence"] == "false" and alo["producer"]["acks"] == "all"
    assert alo["consumer"]["isolation.level"] == "read_uncommitted"
    assert txn["producer"]["enable.idempotence"] == "true"
    assert txn["consumer"]["isolation.level"] == "read_committed"
    assert (alo["producer"]["client.id"], txn["producer"]["client.id"]) == ("eosbench-at_least_once-producer", "eosbench-transactional-producer")


def test_read_committed_consumer_gets_exactly_the_committed_records_when_a_third_is_aborted(bootstrap_servers):
    m = run(bootstrap_servers, "aborts", mode="transactional", transaction_size=50, abort_ratio=0.3).metrics
    assert m["aborts_on_purpose"] > 0 and m["aborted"] > 0
    assert m["consumed"] == m["acked"] == m["sent"] - m["aborted"]
    assert (m["duplicates"], m["lost"], m["unexpected"]) == (0, 0, 0)
    assert m["commit"]["count"] > 0


def test_exactly_once_v2_survives_a_processor_kill_under_the_consumer_group_protocol(bootstrap_servers):
    """KIP-848: the killed processor's partitions pass to its successor (a new member) when the old
    member's 10 s session ends, so the recovery, timed to the successor's first commit, takes that long."""
    outcome = run(
        bootstrap_servers, "eos-kill", mode="exactly_once_v2", topology="process", transaction_ms=1000, group_protocol="consumer",
        duration_s=14, faults=({"kind": "processor_kill", "at_s": 2},),
    )
    m = outcome.metrics
    assert [f["kind"] for f in outcome.faults] == ["processor_kill"]
    assert outcome.client_configs["processor_consumer"]["group.protocol"] == "consumer"
    assert "group.instance.id" not in outcome.client_configs["processor_consumer"]
    assert 9 < outcome.faults[0]["recovery_s"] < 30
    assert m["consumed"] == m["acked"] == m["sent"]
    assert (m["duplicates"], m["lost"], m["unexpected"]) == (0, 0, 0)


def test_a_zombie_processor_is_fenced_by_its_group_and_exactly_once_holds(bootstrap_servers):
    """Frozen mid-transaction while a successor with a transactional.id of its own takes its
    partitions (when the frozen member's 10 s session ends), then woken: only the group's generation
    can refuse the zombie's open transaction. It aborts it, and no record is read twice or lost."""
    outcome = run(
        bootstrap_servers, "eos-zombie", mode="exactly_once_v2", topology="process", transaction_ms=1000,
        duration_s=20, faults=({"kind": "processor_zombie", "at_s": 2, "duration_s": 14},),
    )
    zombie, = outcome.faults
    print(f"processor zombie: {zombie}")
    assert zombie["kind"] == "processor_zombie" and zombie["zombie_aborts"] >= 1
    assert 9 < zombie["recovery_s"] < 30
    m = outcome.metrics
    assert m["consumed"] == m["acked"] == m["sent"]
    assert (m["duplicates"], m["lost"], m["unexpected"]) == (0, 0, 0)


def test_at_least_once_processor_kill_duplicates_and_the_accounting_shows_it(bootstrap_servers):
    """Killed between commits (every second, so about a second of processed records is not yet
    committed), the processor's successor does that work again: at_least_once duplicates."""
    outcome = run(
        bootstrap_servers, "alo-kill", mode="at_least_once", topology="process", transaction_ms=1000,
        duration_s=8, faults=({"kind": "processor_kill", "at_s": 3.5},),
    )
    m = outcome.metrics
    print(f"at_least_once processor kill: {m['duplicates']} duplicates of {m['acked']} records")
    assert outcome.faults[0]["recovery_s"] < 5  # classic, static membership: the successor takes over at once
    assert m["duplicates"] > 0 and m["lost"] == 0
    assert m["consumed"] == m["acked"] + m["duplicates"]


def test_a_role_that_fails_keeps_its_traceback_with_the_cell(bootstrap_servers):
    """A property profile validation would refuse, given straight to the cell: the role's own
    traceback is kept for the cell's directory (`<role>.traceback`), the status says why."""
    outcome = run_cell(CellSpec(mode="at_least_once", **QUICK), Target(bootstrap_servers, {"fetch.wait.max.ms": "-5"}), 1, "test-broken")
    assert outcome.status.startswith("failed: consumer: KafkaException") and "fetch.wait.max.ms" in outcome.status
    (role, text), = outcome.tracebacks.items()
    assert role in outcome.status and "Traceback (most recent call last)" in text and "KafkaException" in text
