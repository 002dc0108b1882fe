"""`eosbench compare`: two real runs of profiles/ci.yaml flag nothing, a real broker quota on the
transactional producer is flagged in exactly its cell (exit 1), golden output from those committed
runs; and the statistics that make that possible, on synthetic runs."""

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.compare import compare as compare_runs, holm
from tests.conftest import REPO, eosbench
from tests.test_overhead import rows

RESULTS = REPO / "results"
# Committed runs of profiles/ci.yaml on one embedded broker, in this order: A1 and A2 as they are,
# QUOTA with producer_byte_rate=8 MiB/s on client.id eosbench-transactional-producer, LINGER with
# --set client.linger.ms=20.
A1, A2, QUOTA, LINGER = (str(RESULTS / name) for name in ("gate-A1", "gate-A2", "gate-quota", "gate-linger"))
GOLDEN = REPO / "tests" / "golden"
THROTTLED = "transactional"


def flagged(stdout: str) -> set[str]:
    return {line.split()[0] for line in stdout.splitlines() if line.rstrip().endswith("REGRESSION")}


def test_a_run_against_itself_flags_nothing():
    result = eosbench("compare", A1, A1)
    assert result.returncode == 0, result.stderr
    assert "0 regression(s)" in result.stdout and "REGRESSION" not in result.stdout


def test_two_runs_of_the_same_profile_on_the_same_broker_flag_nothing():
    result = eosbench("compare", A1, A2)
    assert result.returncode == 0, result.stdout
    assert flagged(result.stdout) == set()


def test_a_quota_on_the_transactional_producer_is_flagged_in_exactly_its_cell():
    result = eosbench("compare", A1, QUOTA)
    assert result.returncode == 1, result.stderr
    assert flagged(result.stdout) == {THROTTLED}
    assert "same broker, client and eosbench versions" in result.stdout


def test_a_client_setting_is_named_as_what_is_compared_and_flagged_where_it_shows():
    """linger.ms=20 adds its wait to every record; where the commit interval (50 ms here) already
    holds records back, the cell shows no significant change."""
    result = eosbench("compare", A1, LINGER)
    assert result.returncode == 1
    assert "client linger.ms: (default) -> 20" in result.stdout
    assert flagged(result.stdout) == {"at_least_once", "idempotent"}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_comparison_table_matches_its_golden_output(fmt):
    out = eosbench("compare", A1, QUOTA, "--format", fmt).stdout
    golden = GOLDEN / f"compare.{fmt}"
    assert out == golden.read_text(), f"output differs from {golden}"


def test_json_output_carries_verdicts_per_metric_and_the_geometric_mean():
    data = json.loads(eosbench("compare", A1, QUOTA, "--format", "json").stdout)
    by_cell = {c["cell_id"]: c for c in data["cells"]}
    assert by_cell[THROTTLED]["throughput"]["verdict"] == "regression"
    assert by_cell[THROTTLED]["cost"]["verdict"] == "regression"
    assert by_cell["at_least_once"]["cost"] is None  # the baseline has no cost against itself
    assert all(r.startswith(f"{THROTTLED}:") for r in data["regressions"])
    base, new = (pd.read_csv(Path(run) / "summary.csv").groupby("mode")["throughput_msgs"].mean() for run in (A1, QUOTA))
    assert float(data["geometric_mean_throughput_ratio"]) == pytest.approx(float((new / base).prod() ** (1 / 3)))


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


def test_a_machine_that_slows_every_mode_alike_leaves_the_eos_cost_unchanged():
    result = compare_runs(run_frame(), run_frame(scale_all=0.55), baseline="at_least_once")
    assert verdicts(result, "throughput") == {"at_least_once": "regression", "transactional": "regression"}
    cost = result.cells[1].cost
    assert cost.change_pct == pytest.approx(0.0, abs=1e-9) and cost.verdict == "~"


def test_a_slowdown_of_the_transactional_producer_alone_is_an_eos_cost_regression():
    result = compare_runs(run_frame(), run_frame(scale_txn=0.7), baseline="at_least_once")
    assert verdicts(result, "cost") == {"transactional": "regression"}
    assert verdicts(result, "throughput")["at_least_once"] == "~"
    assert result.regressions[-1].startswith("transactional: throughput relative to at_least_once -30.0%")


def test_no_baseline_means_no_eos_cost_and_fewer_tests():
    with_cost = compare_runs(run_frame(), run_frame(scale_txn=0.7), baseline="at_least_once")
    without = compare_runs(run_frame(), run_frame(scale_txn=0.7), baseline=None)
    assert all(c.cost is None for c in without.cells)
    assert without.tests == with_cost.tests - 1


def test_cells_that_do_not_match_are_named_with_the_parameter_that_differs():
    other = run_frame().assign(message_size=512)
    result = compare_runs(run_frame(), other)
    assert result.cells == []
    assert "message_size differs: 1024 vs 512" in result.warnings
