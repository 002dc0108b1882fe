"""`eosbench compare`: golden output from committed runs, A vs A flags nothing, and a planted
slowdown is flagged in exactly the cell it was planted in (exit 1)."""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, eosbench

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
