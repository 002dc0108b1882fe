"""launcher trogdor: eosbench's roles as ExternalCommand tasks on the agents of a real Trogdor
(the embedded coordinator and agents eosbench starts itself from Kafka's own jars), their results
merged exactly as local roles' are, an agent lost mid-cell failing that cell and stopping the run
for --resume, and the bad inputs around it refused with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.cell.derive import cross_host_latency_refused
from bench.trogdor.embedded import load
from bench.trogdor.launcher import clock_offset
from bench.trogdor.placement import of_profile, round_robin

from tests.conftest import LOOPBACK, REPO, eosbench, listening_addresses


def test_round_robin_puts_the_producers_first_and_the_readers_on_the_next_agents():
    placement = round_robin(["a", "b", "c"], 2)
    assert (placement.producers, placement.consumer, placement.processor) == (("a", "b"), "c", "a")
    assert placement.agent_for("producer-1") == "b" and placement.agent_for("producer-101") == "b"  # a replacement where its victim ran
    assert placement.agent_for("lag-sampler") == "c" and placement.agent_for("processor") == "a"
    assert set(round_robin(["a"], 3).agents()) == {"a"}
    named = of_profile({"placement": {"consumer": "a", "producers": "c"}}, ["a", "b", "c"], 2)
    assert (named.producers, named.consumer, named.processor) == (("c",), "a", "a")


def test_the_clock_offset_is_read_from_the_probe_with_the_shortest_round_trip():
    offset = 5_000_000  # the other clock is 5 ms behind this one
    # (sent on this clock, read on the other, received on this one): a quick symmetric trip, and a slow lopsided one
    quick = (1_000_000, 1_000_050 - offset, 1_000_100)
    slow = (2_000_000, 2_000_900 - offset, 2_001_000)
    assert clock_offset([slow, quick]) == (offset, 50)
    assert clock_offset([slow]) == (offset - 400, 500)  # wrong by 400 ns, within its bound of 500


def test_end_to_end_latency_across_hosts_is_left_out_beyond_a_millisecond_of_clock_uncertainty():
    assert cross_host_latency_refused(None) == ""
    assert cross_host_latency_refused({"same_host": True, "e2e_uncertainty_us": 0.0}) == ""
    assert cross_host_latency_refused({"same_host": False, "e2e_uncertainty_us": 250.0}) == ""
    assert "known to +-1,500 us only" in cross_host_latency_refused({"same_host": False, "e2e_uncertainty_us": 1500.0})


def test_an_agent_whose_producers_keep_every_core_of_its_host_busy_is_generator_bound():
    from bench.cell.derive import agents
    from bench.roles.protocol import ClientLogResult, ProducerResult

    def producer(index: int, cpu_window_s: float) -> ProducerResult:
        return ProducerResult(index, b"", 0, 1.0, 0, 0, 0, 0, 0, 0, cpu_window_s, cpu_window_s, 0.0, {}, ClientLogResult([], {}, 0))

    where = {"host": "gen-1", "cpus": 2}
    placement = {"producer-0": {**where, "agent": "a"}, "producer-1": {**where, "agent": "a"}, "producer-2": {**where, "agent": "b", "cpus": 4}}
    results = {"producer-0": producer(0, 9.0), "producer-1": producer(1, 9.5), "producer-2": producer(2, 9.5)}
    out = agents(placement, results, duration_s=10.0)
    assert out["a"]["producer_cpu_share"] == pytest.approx(1.85) and out["a"]["generator_bound"]  # 1.85 of 2 cores
    assert out["b"]["producer_cpu_share"] == pytest.approx(0.95) and not out["b"]["generator_bound"]  # a core of 4
    assert out["a"]["roles"] == ["producer-0", "producer-1"]


def test_each_trogdor_cell_is_set_against_its_local_twin_paired_by_repetition():
    from bench.analysis.launchers import trogdor_against_local

    rows = []
    for rep, drift in ((1, 1.0), (2, 0.7), (3, 1.2)):  # the machine drifts; the pairs cancel it
        for mode, launcher, msgs in (("at_least_once", "local", 100_000), ("at_least_once", "trogdor", 98_000),
                                     ("transactional", "local", 60_000), ("transactional", "trogdor", 60_000)):
            rows.append({"cell_id": f"{mode}-{launcher}", "repetition": rep, "mode": mode, "topology": "produce",
                         "launcher": launcher, "transaction_size": 100 if mode == "transactional" else None, "status": "ok",
                         "throughput_msgs": msgs * drift, "e2e_p99_ms": 10.0})
    table = trogdor_against_local(pd.DataFrame(rows)).set_index("cell")
    assert list(table.index) == ["at_least_once-trogdor", "transactional-trogdor"]
    assert table.loc["at_least_once-trogdor", "change_pct"] == pytest.approx(-2)
    assert table.loc["at_least_once-trogdor", "base_cell"] == "at_least_once-local" and table.loc["at_least_once-trogdor", "pairs"] == 3
    assert table.loc["transactional-trogdor", "change_pct"] == pytest.approx(0)


def _profile(tmp_path: Path, name: str = "p.yaml", **sections) -> Path:
    body = {"description": "trogdor", "workload": {"mode": "idempotent", "launcher": "trogdor", "producers": 2, "rate": 1000,
                                                   "partitions": 2, "warmup_s": 1, "duration_s": 3},
            "warmup_max_s": 0, **sections}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture(scope="module")
def trogdor(tmp_path_factory):
    """`eosbench trogdor up --agents 3`: its URL and the environment that finds it."""
    env = {"EOSBENCH_STATE_DIR": str(tmp_path_factory.mktemp("trogdor-state"))}
    up = eosbench("trogdor", "up", "--agents", "3", env=env)
    assert up.returncode == 0, up.stderr
    try:
        yield up.stdout.strip(), env
    finally:
        down = eosbench("trogdor", "down", env=env)
        assert "stopped Trogdor" in down.stdout


def test_trogdor_up_runs_a_coordinator_and_three_agents_on_loopback_only(trogdor):
    url, env = trogdor
    running = load(Path(env["EOSBENCH_STATE_DIR"]))
    assert url == running.url and running.agent_names() == ["agent-0", "agent-1", "agent-2"]
    for node in [running.coordinator, *running.agents]:
        assert listening_addresses(node.pid) <= LOOPBACK, f"{node.name} listens beyond 127.0.0.1: it runs any command it is sent"
    status = eosbench("trogdor", "status", env=env)
    assert status.stdout.count("answering") == 3, status.stdout


@pytest.mark.broker
def test_ten_producer_tasks_on_three_agents_merge_into_one_exact_account(bootstrap_servers, trogdor, tmp_path):
    url, env = trogdor
    profile = _profile(tmp_path, trogdor={"clock": "probe"})  # offsets estimated even on one host: the method's own error
    result = eosbench("run", str(profile), "--set", "producers=10", "--trogdor", url, "--bootstrap-servers", bootstrap_servers,
                      "--results-dir", str(tmp_path), "--run-id", "ten", env=env)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(tmp_path / "ten" / "summary.csv")
    assert (frame["status"] == "ok").all() and (frame["duplicates"] == 0).all() and (frame["lost"] == 0).all()
    metrics = json.loads(next((tmp_path / "ten" / "cells").glob("*/r1/metrics.json")).read_text())
    producers = {name: where for name, where in metrics["placement"].items() if name.startswith("producer-")}
    assert len(producers) == 10
    assert [producers[f"producer-{i}"]["agent"] for i in range(10)] == [f"agent-{i % 3}" for i in range(10)]
    assert metrics["placement"]["consumer"]["agent"] == "agent-1"  # round-robin: after the ten producers
    assert len({where["pid"] for where in metrics["placement"].values()}) == 12  # ten producers, consumer, lag sampler
    assert metrics["sent"] == metrics["acked"] == metrics["consumed"] > 0 and metrics["unexpected"] == 0
    assert sum(len(a["roles"]) for a in metrics["agents"].values()) == 12
    assert metrics["clock"]["same_host"] is False and metrics["clock"]["e2e_uncertainty_us"] < 1000
    assert all(abs(w["offset_ns"]) <= w["uncertainty_ns"] for w in metrics["placement"].values()), "one clock, estimated"
    assert metrics["e2e"]["p50_ms"] > 0
    manifest = json.loads((tmp_path / "ten" / "manifest.json").read_text())
    assert manifest["trogdor"]["url"] == url and not manifest["trogdor"]["started_by_run"]


@pytest.mark.parametrize("case", ["unreachable", "unknown agent in placement", "more agents than exist", "an agent the coordinator lacks",
                                  "a zombie fault"])
def test_bad_trogdor_input_is_one_line_and_nothing_is_written(trogdor, tmp_path, case):
    url, env = trogdor
    given, code, says = {
        "unreachable": (("http://127.0.0.1:9", {}), 3, "cannot reach a Trogdor coordinator at http://127.0.0.1:9"),
        "unknown agent in placement": ((url, {"trogdor": {"placement": {"consumer": "agent-7"}}}), 2,
                                       "trogdor.placement.consumer names agent 'agent-7', which is not one of the agents"),
        "more agents than exist": ((url, {"trogdor": {"agents": 5}}), 2, f"trogdor.agents asks for 5 agents; the Trogdor at {url} has 3"),
        "an agent the coordinator lacks": ((url, {"trogdor": {"agents": ["agent-0", "agent-9"]}}), 2,
                                           "agent 'agent-9' is not an agent of"),
        "a zombie fault": ((url, {"faults": [{"kind": "zombie", "at_s": 1, "duration_s": 1}],
                                  "workload": {"mode": "transactional", "launcher": "trogdor"}}), 2,
                           "a zombie fault freezes a producer process of this run"),
    }[case]
    coordinator, sections = given
    result = eosbench("run", str(_profile(tmp_path, **sections)), "--trogdor", coordinator, "--results-dir", str(tmp_path / "results"),
                      env=env)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    assert not (tmp_path / "results").exists()


def test_asking_trogdor_up_for_no_agents_is_one_line(tmp_path):
    result = eosbench("trogdor", "up", "--agents", "0", env={"EOSBENCH_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2 and result.stderr.strip().splitlines() == ["eosbench: error: --agents must be 1..16, not 0"]


def _eosbench_processes(marker: str) -> list[int]:
    """Live processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.broker
def test_an_agent_lost_mid_cell_fails_that_cell_stops_the_run_and_resume_finishes_it(bootstrap_servers, trogdor, tmp_path):
    url, env = trogdor
    env = {**os.environ, **env}
    args = [sys.executable, "-m", "bench", "run", str(_profile(tmp_path, repeat=2)), "--set", "duration_s=5", "--trogdor", url,
            "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path), "--run-id", "lost"]
    run = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list((tmp_path / "lost" / "cells").glob("*/r1/metrics.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # well into the second repetition: its consumer runs on agent-2
    running = load(Path(env["EOSBENCH_STATE_DIR"]))
    victim = next(a for a in running.agents if a.name == "agent-2")
    os.kill(victim.pid, signal.SIGKILL)
    out, err = run.communicate(timeout=240)
    assert run.returncode == 3, err
    line = err.strip().splitlines()[-1]
    assert "cell idempotent r2 failed: consumer on Trogdor agent 'agent-2'" in line and "the agent is gone" in line
    assert "keeps its 1 finished cell(s)" in line and "--run-id lost --resume" in line
    manifest = json.loads((tmp_path / "lost" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["lost_cells"][0]["repetition"] == 2
    assert [p.name for p in (tmp_path / "lost" / "cells" / "idempotent").iterdir()] == ["r1"]
    time.sleep(1)  # the roles of the dead agent stop when their stdin closes; the others were stopped by the run
    assert not [pid for pid in _eosbench_processes("bench.roles.remote")], "roles outlived the cell"

    up = eosbench("trogdor", "up", env=env)  # starts the dead agent again, on its port
    assert up.returncode == 0 and "started again: agent-2" in up.stderr, up.stderr
    assert load(Path(env["EOSBENCH_STATE_DIR"])).agent_problem("agent-2") is None
    resumed = subprocess.run([*args, "--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    frame = pd.read_csv(tmp_path / "lost" / "summary.csv")
    assert sorted(frame["repetition"]) == [1, 2] and (frame["status"] == "ok").all()
    assert (frame["duplicates"] == 0).all() and (frame["lost"] == 0).all()
