"""`eosbench compare`: golden output from committed runs, A vs A flags nothing, and a planted
slowdown is flagged in exactly the cell it was planted in (exit 1)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.compare import compare as compare_runs, holm
from tests.conftest import REPO, eosbench
from tests.test_overhead import rows

EXAMPLE = REPO / "results" / "example-standard-small"
GOLDEN = REPO / "tests" / "golden"
SLOWED = "transactional-ts100-p4"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """BASE: the example run as broker 4.0.0; NEW: the same run with SLOWED made 50% slower."""
    root = tmp_path_factory.mktemp("compare")
    base, new = root / "base", root / "new"
    shutil.copytree(EXAMPLE, base)
    shutil.copytree(EXAMPLE, new)
    manifest = json.loads((base / "manifest.json").read_text())
    manifest["run_id"], manifest["broker"]["version"] = "base", "4.0.0"
    (base / "manifest.json").write_text(json.dumps(manifest))
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["run_id"] = "new"
    (new / "manifest.json").write_text(json.dumps(manifest))
    for metrics_file in (new / "cells" / SLOWED).glob("r*/metrics.json"):
        metrics = json.loads(metrics_file.read_text())
        metrics["throughput_msgs"] *= 0.5
        metrics_file.write_text(json.dumps(metrics))
    return base, new


def test_a_run_against_itself_flags_nothing():
    result = eosbench("compare", str(EXAMPLE), str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "0 regression(s)" in result.stdout and "REGRESSION" not in result.stdout


def test_a_planted_slowdown_is_flagged_in_exactly_its_cell(runs):
    base, new = runs
    result = eosbench("compare", str(base), str(new))
    assert result.returncode == 1, result.stderr
    flagged = [line.split()[0] for line in result.stdout.splitlines() if "REGRESSION" in line]
    assert flagged == [SLOWED]
    assert "broker: 4.0.0 -> 4.1.1" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_the_comparison_table_matches_its_golden_output(runs, fmt):
    base, new = runs
    out = eosbench("compare", str(base), str(new), "--format", fmt).stdout
    golden = GOLDEN / f"compare.{fmt}"
    assert out == golden.read_text(), f"output differs from {golden}"


def test_json_output_carries_verdicts_and_the_geometric_mean(runs):
    base, new = runs
    data = json.loads(eosbench("compare", str(base), str(new), "--format", "json").stdout)
    verdicts = {c["cell_id"]: c["throughput"]["verdict"] for c in data["cells"]}
    assert verdicts[SLOWED] == "regression"
    assert [cell for cell, v in verdicts.items() if v == "regression"] == [SLOWED]
    assert data["geometric_mean_throughput_ratio"] == pytest.approx(0.5 ** (1 / 8))
    assert data["regressions"] == [f"{SLOWED}: throughput -50.0%"]


def test_a_larger_minimum_effect_hides_the_slowdown(runs):
    base, new = runs
    assert eosbench("compare", str(base), str(new), "--max-regression", "60").returncode == 0


def test_a_missing_run_is_bad_input(tmp_path):
    result = eosbench("compare", str(EXAMPLE), str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no run" in result.stderr


def test_the_comparison_is_also_a_self_contained_page(runs, tmp_path):
    base, new = runs
    page = tmp_path / "compare.html"
    result = eosbench("compare", str(base), str(new), "--format", "html", "--output", str(page))
    assert result.returncode == 1 and str(page) in result.stdout
    text = page.read_text()
    assert 'id="fig-compare"' in text and SLOWED in text and "<script src=" not in text


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
