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


# stateful cells of both guarantees run in the command-line test below, and under a kill
@pytest.mark.parametrize("mode", ["streams_at_least_once", "streams_exactly_once_v2"])
def test_every_record_passes_the_stateless_streams_application_once(target, mode):
    outcome = run(target, mode, mode=mode, state="stateless")
    m = outcome.metrics
    assert m["sent"] > 0.9 * 2000 * 7
    assert (m["acked"], m["consumed"], m["duplicates"], m["lost"], m["unexpected"]) == (m["sent"], m["sent"], 0, 0, 0)
    assert m["window_records"] > 0.9 * 2000 * 6  # processed in the window: Streams commits on its own schedule
    config = outcome.client_configs["streams"]
    assert config["processing.guarantee"] == mode.removeprefix("streams_")
    assert config["commit.interval.ms"] == "100" and config["num.stream.threads"] == "1"
    assert "aggregates_wrong" not in m  # no state, nothing to check
    if mode == "streams_exactly_once_v2":
        assert m["transactions"] > 0 and outcome.client_configs["consumer"]["isolation.level"] == "read_committed"


@pytest.mark.parametrize("state", ["stateless", "stateful"])
def test_exactly_once_v2_keeps_records_and_state_exact_across_a_killed_streams_jvm(target, state):
    outcome = run(target, f"eos-kill-{state}", mode="streams_exactly_once_v2", state=state, transaction_ms=1000,
                  duration_s=8, faults=({"kind": "processor_kill", "at_s": 3.5},))
    m = outcome.metrics
    assert [f["kind"] for f in outcome.faults] == ["processor_kill"]
    assert (m["consumed"], m["duplicates"], m["lost"], m["unexpected"]) == (m["sent"], 0, 0, 0)
    if state == "stateful":
        assert (m["aggregates_wrong"], m["aggregate_excess"]) == (0, 0)


def test_at_least_once_streams_duplicates_records_and_counts_across_a_kill_and_says_so(target):
    """Killed between commits (every second), the restarted application processes again what its
    predecessor had written but not committed: duplicates downstream, and counts incremented twice
    in the store, which its changelog had already taken. The accounting reports both."""
    outcome = run(target, "alo-kill", mode="streams_at_least_once", state="stateful", transaction_ms=1000,
                  duration_s=8, faults=({"kind": "processor_kill", "at_s": 3.5},))
    m = outcome.metrics
    print(f"streams at_least_once kill: {m['duplicates']} duplicates of {m['acked']}, "
          f"{m['aggregates_wrong']} of {STATEFUL_KEYS} keys wrong by {m['aggregate_excess']:+d} records")
    assert m["duplicates"] > 0 and m["lost"] == 0
    assert m["aggregates_wrong"] > 0 and m["aggregate_excess"] > 0


def test_a_run_of_streams_cells_builds_the_application_and_reports_exact_state(bootstrap_servers, tmp_path):
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
    cell = tmp_path / "r" / "s1" / "cells" / "streams_exactly_once_v2" / "r1"
    metrics = json.loads((cell / "metrics.json").read_text())
    assert (metrics["duplicates"], metrics["lost"], metrics["aggregates_wrong"]) == (0, 0, 0)
    # the store's changelog is one of the cell's topics: stateless cells take ~2 x 212 bytes per record
    assert metrics["log_bytes_per_record"] > 2 * 212 + 12
    params = json.loads((cell / "params.json").read_text())
    assert params["client_configs"]["streams"]["commit.interval.ms"] == "200"
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


def test_a_kafka_version_maven_central_lacks_is_one_line_and_exit_2(bootstrap_servers, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("kafka: {version: 4.0.99}\nworkload: {mode: streams_exactly_once_v2, topology: process}\n")
    out = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "4.0.99" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
