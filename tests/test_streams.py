"""A real Kafka Streams application (jvm/, built from Maven Central) as the processor of topology
`process`: what exactly_once_v2 keeps exact, across a SIGKILL of the JVM, in records and in state;
what at_least_once lets through; and the bad input around it."""

import json

import pytest

from bench import jvm
from bench.broker import distribution
from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target
from bench.metrics import STATEFUL_KEYS
from tests.conftest import eosbench

pytestmark = [pytest.mark.broker, pytest.mark.network]  # kafka-streams and RocksDB come from Maven Central once

QUICK = dict(topology="process", partitions=2, warmup_s=1, duration_s=6, rate=2000, message_size=256)


@pytest.fixture(scope="module")
def target(bootstrap_servers):
    java = (distribution.find_java().executable, "-Xmx512m", "-cp", jvm.classpath(distribution.resolve()))
    return Target(bootstrap_servers, java=java)


def run(target, name, **params):
    outcome = run_cell(CellSpec(**{**QUICK, **params}), target, ordinal=1, run_tag=f"test-streams-{name}")
    assert outcome.status == "ok", outcome.status
    return outcome


@pytest.mark.parametrize("state", ["stateless", "stateful"])
def test_exactly_once_v2_keeps_records_and_state_exact_across_a_killed_streams_jvm(target, state):
    outcome = run(target, f"eos-kill-{state}", mode="streams_exactly_once_v2", state=state, transaction_ms=1000,
                  duration_s=8, faults=({"kind": "processor_kill", "at_s": 3.5},))
    m = outcome.metrics
    kill, = outcome.faults
    print(f"streams exactly_once_v2 {state}: recovery {kill['recovery_s']} s from the kill to the new instance's first commit")
    assert kill["kind"] == "processor_kill" and kill["recovery_s"] > 0
    assert (m["consumed"], m["duplicates"], m["lost"], m["unexpected"]) == (m["sent"], 0, 0, 0)
    if state == "stateful":
        assert (m["aggregates_wrong"], m["aggregate_excess"]) == (0, 0)


def test_at_least_once_streams_duplicates_records_and_counts_across_a_kill_and_says_so(target):
    """Killed before its first commit (every 10 s: 4.5 s into its processing, whenever within a second
    the kill lands), the restarted application processes again what its predecessor had written but
    not committed: duplicates downstream, and counts incremented twice in the store, which its
    changelog had already taken. The accounting reports both. (With commits every second, a kill just
    after one left nothing to process again on a slow machine: 0 duplicates of 18,000.)"""
    outcome = run(target, "alo-kill", mode="streams_at_least_once", state="stateful", transaction_ms=10000,
                  duration_s=8, faults=({"kind": "processor_kill", "at_s": 3.5},))
    m = outcome.metrics
    print(f"streams at_least_once kill: {m['duplicates']} duplicates of {m['acked']}, "
          f"{m['aggregates_wrong']} of {STATEFUL_KEYS} keys wrong by {m['aggregate_excess']:+d} records")
    assert m["duplicates"] > 0 and m["lost"] == 0
    assert m["aggregates_wrong"] > 0 and m["aggregate_excess"] > 0


def test_a_run_of_stateful_streams_cells_under_both_guarantees_accounts_for_every_record_and_every_key(bootstrap_servers, tmp_path):
    profile = tmp_path / "streams.yaml"
    profile.write_text("""
workload: {topology: process, partitions: 2, message_size: 200, rate: 2000, warmup_s: 1, duration_s: 3, state: stateful,
           transaction_ms: 200}
sweep: {mode: [streams_at_least_once, streams_exactly_once_v2]}
repeat: 1
baseline: streams_at_least_once
warmup_max_s: 0
""")
    out = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path / "r"),
                   "--run-id", "s1", "--quiet")
    assert out.returncode == 0, out.stderr
    for mode in ("streams_at_least_once", "streams_exactly_once_v2"):
        cell = tmp_path / "r" / "s1" / "cells" / mode / "r1"
        m = json.loads((cell / "metrics.json").read_text())
        assert (m["acked"], m["consumed"], m["duplicates"], m["lost"], m["unexpected"]) == (m["sent"], m["sent"], 0, 0, 0)
        assert (m["aggregates_wrong"], m["aggregate_excess"]) == (0, 0)
        assert m["window_records"] > 0.9 * 2000 * 3  # processed in the window: Streams commits on its own schedule
        config = json.loads((cell / "params.json").read_text())["client_configs"]
        assert config["streams"]["processing.guarantee"] == mode.removeprefix("streams_")
        assert config["streams"]["commit.interval.ms"] == "200" and config["streams"]["num.stream.threads"] == "1"
        assert config["consumer"]["isolation.level"] == ("read_committed" if mode.endswith("v2") else "read_uncommitted")
    assert m["transactions"] > 0  # exactly_once_v2's, from Kafka Streams' own commit count
    # the store's changelog is one of the cell's topics, read on its own: every input record updates
    # its key's count (the cache is off), so the changelog takes at least the 8-byte count per record
    # processed in the window, and far less than the 200-byte value, which it does not carry
    changelog = {t: b for t, b in m["resources"]["log_bytes"]["topics"].items() if t.endswith("-changelog")}
    assert len(changelog) == 1, m["resources"]["log_bytes"]["topics"]
    assert 8 * m["window_records"] < next(iter(changelog.values())) < 200 * m["window_records"]
    assert "streams_exactly_once_v2" in out.stdout


@pytest.mark.parametrize("setting, says", [
    ("--set=workload.topology=produce", "mode streams_exactly_once_v2 cannot run in topology produce"),
    ("--set=workload.transaction_ms=0", "transaction_ms' must be a number > 0"),
    ("--set=workload.stream_threads=0", "stream_threads' must be a whole number from 1 to 64"),
])
def test_bad_streams_settings_get_one_line_and_exit_2(tmp_path, setting, says):
    profile = tmp_path / "p.yaml"
    profile.write_text("workload: {mode: streams_exactly_once_v2, topology: process}\n")
    out = eosbench("validate", str(profile), setting)
    assert out.returncode == 2 and says in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
