"""`eosbench run` end to end against the real broker: the results layout of docs/profiles.md, readable
HdrHistogram logs, no secret written anywhere, and an interrupted run resumed to completion."""

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.run import resume_command
from bench.metrics import read_hlog
from tests.conftest import REPO, eosbench

SECRET = "hunter2-do-not-write"
TINY = f"""
description: two modes, two repetitions, short
client: {{sasl.password: "{SECRET}", sasl.oauthbearer.assertion.private.key.passphrase: "{SECRET}",
         sasl.oauthbearer.config: "principal=admin clientSecret={SECRET}", batch.size: 2048, fetch.min.bytes: 1,
         schema.registry.basic.auth.user.info: "eosbench:{SECRET}"}}
workload: {{topology: produce, partitions: 2, message_size: 200, rate: 3000, warmup_s: 1, duration_s: 2, transaction_size: 50}}
sweep: {{mode: [at_least_once, transactional]}}
repeat: 2
baseline: at_least_once
warmup_max_s: 0
faults: [{{kind: command, at_s: 0.5, duration_s: 0.5, command: "true --token={SECRET}", end_command: "true {SECRET}"}}]
"""
SUMMARY_COLUMNS = (
    "cell_id repetition mode topology partitions transaction_size transaction_ms message_size rate duration_s "
    "sent acked failed consumed duplicates lost throughput_msgs throughput_mb produce_p50_ms produce_p99_ms "
    "produce_p999_ms e2e_p50_ms e2e_p99_ms e2e_p999_ms commit_p50_ms commit_p99_ms transactions aborts "
    "lag_max_msgs status"
).split()
OVERHEAD_COLUMNS = "cell_id mode baseline_cell_id overhead_pct ci_low_pct ci_high_pct e2e_p99_delta_ms significant".split()


def holding(secret: str, root: Path, out: subprocess.CompletedProcess) -> list[str]:
    """Every file under `root` (results, state directory, logs), and the run's stdout and stderr, that hold `secret`."""
    found = [str(p) for p in root.rglob("*") if p.is_file() and p.name != "tiny.yaml" and secret.encode() in p.read_bytes()]
    return found + [name for name, text in (("stdout", out.stdout), ("stderr", out.stderr)) if secret in text]


def test_the_secret_scan_finds_a_planted_secret(tmp_path):
    """Negative control for the scan above: it is not blind to a file deep in a run, or to the terminal."""
    (tmp_path / "results" / "r1" / "cells" / "x" / "r1").mkdir(parents=True)
    (tmp_path / "results" / "r1" / "cells" / "x" / "r1" / "producer.log").write_bytes(b"\x00 sasl " + SECRET.encode())
    out = subprocess.CompletedProcess([], 0, stdout="", stderr=f"token={SECRET}")
    assert holding(SECRET, tmp_path, out) == [str(tmp_path / "results" / "r1" / "cells" / "x" / "r1" / "producer.log"), "stderr"]


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.mark.broker
def test_a_run_stores_what_spec_promises_and_no_secret(bootstrap_servers, tiny, tmp_path):
    results = tmp_path / "results"
    # another state directory: the test broker is then a cluster eosbench knows nothing of, as a user's own would be
    out = eosbench("run", str(tiny), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(results), "--run-id", "r1", "--quiet",
                   env={"EOSBENCH_STATE_DIR": str(tmp_path / "elsewhere")})
    assert out.returncode == 0, out.stderr
    assert out.stderr == "", "a --quiet run prints nothing but its table: librdkafka's lines go to the cells' logs"
    assert "overhead vs at_least_once" in out.stdout and "transactional" in out.stdout
    run = results / "r1"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["schema_version"] == 1
    assert manifest["environment"]["host"]["cores"] and manifest["environment"]["librdkafka"]
    assert [p["cell_id"] for p in manifest["plan"]] == ["at_least_once", "transactional"] * 2

    summary = pd.read_csv(run / "summary.csv")
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)
    assert len(summary) == 4 and (summary["status"] == "ok").all()
    assert (summary["lost"] == 0).all() and (summary["duplicates"] == 0).all()
    assert pd.read_parquet(run / "summary.parquet").shape == summary.shape
    # a cluster eosbench did not start, no --jmx: log bytes from DescribeLogDirs, broker CPU not measured (never guessed)
    assert (summary["log_bytes_per_record"] > 200).all() and summary["broker_cpu_us_per_record"].isna().all()
    assert manifest["broker"]["resources"]["cpu"] == "not measured"
    overhead = pd.read_csv(run / "overhead.csv")
    assert set(OVERHEAD_COLUMNS) <= set(overhead.columns)
    assert list(overhead["baseline_cell_id"]) == ["at_least_once"]

    cell = run / "cells" / "transactional" / "r2"
    metrics = json.loads((cell / "metrics.json").read_text())
    assert read_hlog(cell / "e2e.hlog").get_total_count() == metrics["e2e"]["count"] > 0
    assert read_hlog(cell / "commit.hlog").get_total_count() == metrics["commit"]["count"] > 0
    assert len(pd.read_csv(cell / "lag.csv")) > 0

    assert holding(SECRET, tmp_path, out) == [], "a secret reached the results, the state directory or the terminal"
    assert json.loads((cell / "params.json").read_text())["faults"][0]["command"].startswith("true [redacted] (sha256 ")
    configs = json.loads((cell / "params.json").read_text())["client_configs"]
    assert configs["producer"]["batch.size"] == "2048" and "batch.size" not in configs["consumer"]
    assert configs["consumer"]["fetch.min.bytes"] == "1" and "fetch.min.bytes" not in configs["producer"]


@pytest.mark.broker
def test_ctrl_c_keeps_finished_cells_and_resume_runs_only_the_rest(bootstrap_servers, tiny, tmp_path):
    results = tmp_path / "results"
    args = ["run", str(tiny), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(results), "--run-id", "r2", "--quiet",
            "--set", "mode=transactional", "--repeat", "3"]  # one mode: one warm-up cell per run
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cells = results / "r2" / "cells"
    deadline = time.monotonic() + 120
    while not list(cells.glob("*/r*/metrics.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # into the next cell: it must be dropped whole, not half-written
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert json.loads((results / "r2" / "manifest.json").read_text())["status"] == "interrupted"
    finished = sorted(str(p.parent.relative_to(cells)) for p in cells.glob("*/r*/metrics.json"))
    assert 1 <= len(finished) < 3
    assert not [p for p in cells.rglob(".r*") if p.is_dir()], "half-written cell left behind"

    hint = err.strip().splitlines()[-1]
    assert f"kept in {results / 'r2'}" in hint
    command = shlex.split(hint.split("finish the run with: ")[1])
    assert command == ["eosbench", *[a for a in args if a != "r2" and a != "--run-id"], "--run-id", "r2", "--resume"]
    again = eosbench(*command[1:])  # the command it gives, as given: every --set kept, so the profile matches
    assert again.returncode == 0, again.stderr
    summary = pd.read_csv(results / "r2" / "summary.csv")
    pairs = sorted(zip(summary["cell_id"], summary["repetition"]))
    assert pairs == [("transactional", 1), ("transactional", 2), ("transactional", 3)]
    assert json.loads((results / "r2" / "manifest.json").read_text())["status"] == "complete"


def test_an_existing_run_directory_is_never_overwritten(tiny, tmp_path):
    (tmp_path / "results" / "taken").mkdir(parents=True)
    out = eosbench("run", str(tiny), "--results-dir", str(tmp_path / "results"), "--run-id", "taken", "--bootstrap-servers", "127.0.0.1:1")
    assert out.returncode == 2 and "already exists" in out.stderr


def test_a_cluster_that_cannot_be_reached_leaves_no_run_directory(tiny, tmp_path):
    out = eosbench("run", str(tiny), "--results-dir", str(tmp_path / "results"), "--run-id", "r", "--bootstrap-servers", "127.0.0.1:1")
    assert out.returncode == 3 and "cannot reach Kafka at 127.0.0.1:1" in out.stderr
    assert not (tmp_path / "results" / "r").exists()


@pytest.mark.broker
def test_without_bootstrap_servers_a_run_starts_the_embedded_broker_records_it_and_stops_it(tiny, tmp_path):
    """In memory storage: the brokers' logs on a tmpfs, recorded, and freed with the broker. The
    first thing the run says is its id and where its results go."""
    state = tmp_path / "state"
    out = eosbench("run", str(tiny), "--results-dir", str(tmp_path / "results"), "--run-id", "embedded",
                   "--set", "mode=at_least_once", "--repeat", "1", "--set", "kafka.storage=memory",
                   env={"EOSBENCH_STATE_DIR": str(state)})
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[0] == f"run embedded: results in {tmp_path / 'results' / 'embedded'}"
    broker = json.loads((tmp_path / "results" / "embedded" / "manifest.json").read_text())["broker"]
    assert broker["external"] is False and broker["version"] == "4.1.1" and broker["brokers"] == 1
    memory = Path("/dev/shm") / f"eosbench-{broker['cluster_id']}"
    assert broker["storage"] == "memory" and broker["config"]["log.dirs"] == str(memory / "node-1")
    assert not memory.exists(), "the brokers' in-memory logs outlived the run"
    assert broker["api_versions"]["Produce"].startswith("0..")
    running = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True).stdout
    assert running == "", "the run's broker was left running"
    assert not list(state.glob("runs/*/broker.json"))


def test_the_resume_command_keeps_every_setting_but_the_value_of_a_secret():
    args = ["p.yaml", "--set", f"client.sasl.password={SECRET}", "--set=client.ssl.key.password=x", "--set", "mode=transactional",
            "--run-id", "old", "--repeat", "3"]
    command = resume_command(args, "r7")
    assert SECRET not in command and "=x" not in command
    assert shlex.split(command) == ["eosbench", "run", "p.yaml", "--set", "client.sasl.password=<secret>",
                                    "--set=client.ssl.key.password=<secret>", "--set", "mode=transactional", "--repeat", "3",
                                    "--run-id", "r7", "--resume"]
