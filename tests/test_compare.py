"""`eosbench compare`: two real runs of bench/profiles/ci.yaml flag nothing, a real broker quota on the
transactional producer is flagged in exactly its cell (exit 1), golden output from those committed
runs; and the statistics that make that possible, on synthetic runs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis import gate_simulation
from bench.analysis.compare import compare as compare_runs
from bench.analysis.stats import holm
from tests.conftest import REPO, eosbench
from tests.test_overhead import rows

RESULTS = REPO / "results"
# Committed runs of bench/profiles/ci.yaml on one embedded broker, in this order: A1 and A2 as they are,
# QUOTA with producer_byte_rate=8 MiB/s on client.id eosbench-transactional-producer, LINGER with
# --set client.linger.ms=20.
A1, A2, QUOTA, LINGER = (str(RESULTS / name) for name in ("gate-A1", "gate-A2", "gate-quota", "gate-linger"))
GOLDEN = REPO / "tests" / "golden"
THROTTLED = "transactional"


def flagged(stdout: str) -> set[str]:
    return {line.split()[0] for line in stdout.splitlines() if line.rstrip().endswith("REGRESSION")}


def test_two_runs_of_the_same_profile_pass_the_gate():
    result = eosbench("compare", A1, A2)
    assert result.returncode == 0, result.stdout
    assert flagged(result.stdout) == set()


def test_a_quota_on_the_transactional_producer_fails_the_gate_through_the_eos_cost_of_exactly_its_cell():
    result = eosbench("compare", A1, QUOTA)
    assert result.returncode == 1, result.stderr
    assert flagged(result.stdout) == {THROTTLED}
    assert "transactional: throughput relative to at_least_once -60.8%" in result.stdout


def test_runs_on_a_cluster_eosbench_did_not_start_do_not_claim_the_same_broker_version():
    out = eosbench("compare", A1, QUOTA).stdout
    assert "same broker" not in out
    assert "warning: broker version not recorded in gate-A1, gate-quota" in out


def test_with_one_run_per_side_absolute_figures_are_shown_but_not_gated():
    """linger.ms=20 triples the e2e p99 of the non-transactional modes, but between two single runs
    nothing changed has moved it by up to +359% on this machine: shown, named, not gated."""
    result = eosbench("compare", A1, LINGER)
    assert result.returncode == 0, result.stdout
    assert "client linger.ms: (default) -> 20" in result.stdout
    p99 = result.stdout[result.stdout.index("End-to-end p99"):]
    assert p99.count("  (not gated)") == 3 and "not gated with one run per side" in result.stdout


def test_a_stated_run_drift_gates_absolute_figures_too():
    result = eosbench("compare", A1, LINGER, "--run-drift", "20")
    assert result.returncode == 1
    assert flagged(result.stdout) == {"at_least_once", "idempotent"}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_comparison_table_matches_its_golden_output(fmt):
    out = eosbench("compare", A1, QUOTA, "--format", fmt).stdout
    golden = GOLDEN / f"compare.{fmt}"
    assert out == golden.read_text(), f"output differs from {golden}"


def test_json_output_is_valid_json_with_verdicts_per_metric_and_the_geometric_mean():
    out = eosbench("compare", A1, QUOTA, "--format", "json").stdout
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    by_cell = {c["cell_id"]: c for c in data["cells"]}
    assert by_cell[THROTTLED]["cost"]["verdict"] == "regression" and data["gate"] == "fail"
    assert by_cell[THROTTLED]["throughput"]["verdict"] == "not gated"
    assert by_cell["at_least_once"]["cost"] is None  # the baseline has no cost against itself
    assert all(r.startswith(f"{THROTTLED}:") for r in data["regressions"])
    base, new = (pd.read_csv(Path(run) / "summary.csv").groupby("mode")["throughput_msgs"] for run in (A1, QUOTA))
    geometric = lambda g: g.apply(lambda v: np.exp(np.log(v).mean()))  # noqa: E731
    assert float(data["geometric_mean_throughput_ratio"]) == pytest.approx(float((geometric(new) / geometric(base)).prod() ** (1 / 3)))


def test_a_minimum_effect_larger_than_every_change_flags_nothing():
    assert eosbench("compare", A1, QUOTA, "--max-regression", "100000").returncode == 0


def test_a_missing_run_is_bad_input(tmp_path):
    result = eosbench("compare", A1, str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no run" in result.stderr


def test_the_comparison_is_also_a_self_contained_page(tmp_path):
    page = tmp_path / "compare.html"
    result = eosbench("compare", A1, QUOTA, "--format", "html", "--output", str(page))
    assert result.returncode == 1 and str(page) in result.stdout
    text = page.read_text()
    assert 'id="fig-compare-throughput"' in text and 'id="fig-compare-cost"' in text
    assert "EOS cost" in text and "<script src=" not in text


# ---------------------------------------------------------------- a broken NEW run fails the gate


@pytest.fixture
def broken(tmp_path):
    """A copy of gate-A1 to break: the gate must never pass it."""
    run = tmp_path / "broken"
    shutil.copytree(A1, run)
    manifest = run / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "run_id": "broken"}))
    return run


def _metrics(run: Path, cell: str, rep: int) -> Path:
    return run / "cells" / cell / f"r{rep}" / "metrics.json"


def test_a_failed_cell_in_new_fails_the_gate_and_says_so_at_the_top(broken):
    path = _metrics(broken, "transactional", 3)
    path.write_text(json.dumps({"status": "failed: broker 1 did not come back"}))
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0] == "GATE FAILED: transactional r3 failed in broken: failed: broker 1 did not come back"


def test_a_cell_missing_from_new_fails_the_gate(broken):
    shutil.rmtree(broken / "cells" / "idempotent")
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 1 and "GATE FAILED: idempotent of gate-A1 was not measured in broken" in result.stdout


def test_zero_throughput_in_new_fails_the_gate_and_as_base_is_left_out_without_a_crash(broken):
    path = _metrics(broken, "transactional", 2)
    path.write_text(json.dumps({**json.loads(path.read_text()), "throughput_msgs": 0.0}))
    as_new = eosbench("compare", A1, str(broken), "--format", "json")
    assert as_new.returncode == 1, as_new.stderr
    data = json.loads(as_new.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert "transactional r2 delivered nothing in broken (zero throughput)" in data["failures"]
    as_base = eosbench("compare", str(broken), A1)
    assert as_base.returncode == 0, as_base.stderr
    assert "transactional r2 delivered nothing in the base run: left out of its figures" in as_base.stdout


def test_a_base_run_without_a_finished_cell_is_bad_input(broken):
    for metrics in broken.glob("cells/*/r*/metrics.json"):
        metrics.write_text(json.dumps({"status": "failed: broker down"}))
    result = eosbench("compare", str(broken), A1)
    assert result.returncode == 2 and "base run broken has no cell that finished" in result.stderr


def test_runs_with_no_cell_in_common_fail_the_gate_instead_of_comparing_nothing():
    result = eosbench("compare", A1, str(RESULTS / "example-standard"))
    assert result.returncode == 1
    assert "GATE FAILED: no cell of example-standard matches one of gate-A1: nothing was compared" in result.stdout


def test_an_interrupted_new_run_fails_the_gate(broken):
    manifest = broken / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "status": "interrupted"}))
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 1 and result.stdout.startswith("GATE FAILED: run broken is interrupted, not complete")


# planted in NEW's transactional r2 -> what the gate's first line names
BROKEN_GUARANTEES = {
    "duplicates": ({"duplicates": 500}, "transactional r2: 500 duplicates in broken: a broken guarantee"),
    "lost records": ({"lost": 7}, "transactional r2: 7 acknowledged records lost in broken: a broken guarantee"),
    "aborted reads": ({"unexpected": 10}, "transactional r2: 10 uncommitted records read in broken: a broken guarantee"),
    "torn transactions": ({"torn_transactions": 3},
                          "transactional r2: 3 torn transactions (some records read, not all) in broken: a broken guarantee"),
    "events split across topics": ({"partial_events": 2},
                                   "transactional r2: 2 events read in some of their topics only in broken: a broken guarantee"),
    "wrong aggregates": ({"aggregates_wrong": 4, "aggregate_excess": 6},
                         "transactional r2: 4 keys' aggregates differ from their input's (+6 records) in broken: a broken guarantee"),
}


@pytest.mark.parametrize("kind", BROKEN_GUARANTEES)
def test_a_broken_guarantee_in_new_fails_the_gate_by_name_whatever_its_throughput(broken, kind):
    planted, says = BROKEN_GUARANTEES[kind]
    path = _metrics(broken, "transactional", 2)
    path.write_text(json.dumps({**json.loads(path.read_text()), **planted}))
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 1, result.stdout
    assert result.stdout.splitlines()[0] == f"GATE FAILED: {says}"


def test_the_same_figures_without_the_planted_fault_pass(broken):
    """The control for the table above: the copy itself passes."""
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 0 and "GATE FAILED" not in result.stdout, result.stdout


def test_a_new_run_without_a_cell_fails_the_gate_with_one_reason(broken):
    shutil.rmtree(broken / "cells")
    (broken / "cells").mkdir()
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("GATE FAILED")] == [
        "GATE FAILED: broken holds no finished cell: nothing was measured"]


def test_a_new_run_with_too_few_repetitions_for_a_test_fails_the_gate_by_cell(broken):
    for cell in (broken / "cells").iterdir():
        for repetition in cell.iterdir():
            if repetition.name != "r1":
                shutil.rmtree(repetition)
    result = eosbench("compare", A1, str(broken))
    assert result.returncode == 1, result.stdout
    assert [line for line in result.stdout.splitlines() if line.startswith("GATE FAILED")] == [
        f"GATE FAILED: {mode}: throughput relative to at_least_once has 1 repetition(s) in new (at least 3 needed for a test): "
        "a gate cannot pass what it could not test" for mode in ("idempotent", "transactional")]


# ---------------------------------------------------------------- the statistics, on synthetic runs

ALO = [300, 240, 270, 330, 255]           # a closed-loop baseline on a noisy machine
TXN_RATIO = [0.50, 0.52, 0.49, 0.51, 0.50]  # transactional / baseline in each repetition


def run_frame(scale_all: float = 1.0, scale_txn: float = 1.0) -> pd.DataFrame:
    alo = [t * scale_all for t in ALO]
    txn = [t * r * scale_txn for t, r in zip(alo, TXN_RATIO)]
    return pd.DataFrame(rows("at_least_once", "at_least_once", alo) +
                        rows("transactional", "transactional", txn, transaction_size=1000))


def verdicts(result, metric: str) -> dict[str, str]:
    return {c.cell_id: c.changes()[metric].verdict for c in result.cells if metric in c.changes()}


def test_holm_adjusts_each_p_value_for_all_the_tests_of_the_comparison():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def runs(scale_all: float = 1.0, scale_txn: float = 1.0) -> list[pd.DataFrame]:
    """Three runs of one setup, each with a drift of its own (a little of it in one mode only)."""
    return [run_frame(scale_all * drift, scale_txn * own) for drift, own in ((1.0, 1.0), (1.03, 0.99), (0.96, 1.01))]


def test_a_machine_that_slows_every_mode_alike_leaves_the_eos_cost_unchanged():
    result = compare_runs(runs(), runs(scale_all=0.55), baseline="at_least_once")
    assert verdicts(result, "throughput") == {"at_least_once": "regression", "transactional": "regression"}
    cost = result.cells[1].cost
    assert cost.change_pct == pytest.approx(0.0, abs=1e-9) and cost.verdict == "~"


def test_with_one_run_per_side_a_uniform_slowdown_is_shown_but_not_gated():
    result = compare_runs(run_frame(), run_frame(scale_all=0.55), baseline="at_least_once")
    assert verdicts(result, "throughput") == {"at_least_once": "not gated", "transactional": "not gated"}
    assert result.cells[0].throughput.change_pct == pytest.approx(-45.0) and not result.failed


def test_a_slowdown_of_the_transactional_producer_alone_is_an_eos_cost_regression():
    result = compare_runs(run_frame(), run_frame(scale_txn=0.7), baseline="at_least_once")
    assert verdicts(result, "cost") == {"transactional": "regression"}
    assert verdicts(result, "throughput")["at_least_once"] == "not gated"
    assert result.regressions[-1].startswith("transactional: throughput relative to at_least_once -30.0%")


def test_no_baseline_means_no_eos_cost_and_fewer_tests():
    with_cost = compare_runs(runs(), runs(scale_txn=0.7), baseline="at_least_once")
    without = compare_runs(runs(), runs(scale_txn=0.7), baseline=None)
    assert all(c.cost is None for c in without.cells)
    assert without.tests == with_cost.tests - 1


def test_cells_that_do_not_match_are_named_with_the_parameter_that_differs_and_fail_the_gate():
    other = run_frame().assign(message_size=512)
    result = compare_runs(run_frame(), other)
    assert result.cells == [] and result.failed
    assert "message_size differs: 1024 vs 512" in result.warnings
    assert "at_least_once of base was not measured in new" in result.failures


def test_runs_that_each_hold_two_kafka_versions_are_compared_version_by_version_not_pooled():
    """Pooled, 4.0.0's slow transactional cell would hide in 4.1.1's fast one."""
    def two_versions(txn_4_0: float) -> pd.DataFrame:
        return pd.concat([run_frame().assign(kafka_version="4.1.1", cell_id=lambda f: f["cell_id"] + "-k4.1.1"),
                          run_frame(scale_txn=txn_4_0).assign(kafka_version="4.0.0", cell_id=lambda f: f["cell_id"] + "-k4.0.0")])
    result = compare_runs(two_versions(1.0), two_versions(0.7), baseline="at_least_once")
    assert len(result.cells) == 4
    assert verdicts(result, "cost") == {"transactional-k4.1.1": "~", "transactional-k4.0.0": "regression"}


def test_versions_side_by_side_in_one_run_are_paired_by_repetition():
    """Repetition drift shared by both versions cancels: a 5% change stands out of 30% noise."""
    base = run_frame()
    new = base.assign(throughput_msgs=base["throughput_msgs"] * 0.90)
    result = compare_runs(base, new, baseline="at_least_once", paired=True)
    assert verdicts(result, "throughput") == {"at_least_once": "regression", "transactional": "regression"}


# The gate's false-alarm rate, simulated with a run-to-run drift (the model of bench.analysis.compare);
# benchmarks/gate_false_alarms.py prints the full table.
DRIFTING = gate_simulation.Noise(run_drift=0.10, repetition_drift=0.02, noise=0.02)


def test_gating_absolute_figures_on_repetitions_alone_raises_false_alarms_under_run_drift():
    """What the old gate did (every figure gated, repetitions as units, no drift allowed for)."""
    assert gate_simulation.rate(DRIFTING, "single", trials=60, run_drift_pct=0) > 0.2


@pytest.mark.parametrize("design", ["single", "several", "paired"])
def test_the_gate_raises_few_false_alarms_under_run_drift_in_every_design(design):
    assert gate_simulation.rate(DRIFTING, design, trials=60) <= 0.05


def test_the_gate_still_catches_a_30_percent_slowdown_of_one_mode():
    assert gate_simulation.rate(DRIFTING, "single", trials=20, slowdown=0.3) >= 0.9


# Runs that took turns (order alternating): one repetition, the figures are the centres of the turns.
def turned_run(seed: int, txn_factor: float = 1.0, cpu_factor: float = 1.0, rounds: int = 120) -> pd.DataFrame:
    """One run of at_least_once and transactional taking turns: every round's pair shares a swing
    of the machine (20%), each turn has 5% of its own."""
    rng = np.random.default_rng(seed)
    swing = np.exp(rng.normal(0, 0.2, rounds))
    alo = 200_000 * swing * np.exp(rng.normal(0, 0.05, rounds))
    txn = 100_000 * swing * np.exp(rng.normal(0, 0.05, rounds)) * txn_factor
    cpu = 4.0 * np.exp(rng.normal(0, 0.05, rounds)) * cpu_factor

    def turns(values: np.ndarray) -> str:
        return " ".join(f"{v:.6g}" for v in values)
    frame = pd.DataFrame(rows("at_least_once", "at_least_once", [alo.mean()]) +
                         rows("transactional", "transactional", [txn.mean()], transaction_size=1000))
    return frame.assign(turns_group=7, turn_throughputs_msgs=[turns(alo), turns(txn)], broker_cpu_us_per_record=[4.0, cpu.mean()],
                        turn_broker_cpu_us=[turns(4.0 * np.exp(rng.normal(0, 0.05, rounds))), turns(cpu)])


def test_runs_that_took_turns_are_gated_on_one_run_per_side_from_the_centres_of_their_turns():
    """One repetition per side: too few for a test on repetitions, enough on 120 paired turns."""
    result = compare_runs(turned_run(1), turned_run(2), baseline="at_least_once")
    assert "turns" in result.design and not result.failed
    assert verdicts(result, "cost") == {"transactional": "~"}
    assert verdicts(result, "throughput") == {"at_least_once": "not gated", "transactional": "not gated"}


def test_a_ten_point_rise_in_the_eos_cost_of_runs_that_took_turns_is_a_regression():
    result = compare_runs(turned_run(1), turned_run(2, txn_factor=0.8), baseline="at_least_once")  # 50% -> 60%
    assert verdicts(result, "cost") == {"transactional": "regression"}
    assert result.cells[1].cost.change_pct == pytest.approx(-20.0, abs=3.0)


def test_broker_cpu_per_record_of_runs_that_took_turns_is_shown_but_not_gated_with_one_run_per_side():
    """It fell by 21-27% between two real runs on one broker: a 15% rise is not told from that."""
    result = compare_runs(turned_run(1), turned_run(2, cpu_factor=1.15), baseline="at_least_once")
    assert verdicts(result, "broker_cpu") == {"at_least_once": "not gated", "transactional": "not gated"}
    assert result.cells[1].broker_cpu.change_pct == pytest.approx(15.0, abs=3.0) and not result.failed
