"""`eosbench report`: built from a committed real run, it shows that run's numbers, renders in
headless Chromium without a JavaScript error, and handles partial, newer and missing runs."""

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from tests.conftest import REPO, eosbench

EXAMPLE = REPO / "results" / "example-standard"
FIGURES = ("overhead", "heatmap", "throughput", "spectrum", "commit", "timeseries")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "example.html"
    result = eosbench("report", str(EXAMPLE), "--output", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_the_report_holds_every_figure_and_the_runs_own_numbers(built):
    page = built.read_text()
    for key in FIGURES:
        assert f'id="fig-{key}"' in page, key
    overhead = pd.read_csv(EXAMPLE / "overhead.csv")
    for row in overhead.itertuples():
        assert f"{row.overhead_pct:+.1f}%" in page, row.cell_id
    summary = pd.read_csv(EXAMPLE / "summary.csv")
    assert f"{summary['sent'].groupby(summary['mode']).sum().iloc[0]:,.0f}" in page
    markdown = built.with_suffix(".md").read_text()
    assert "| cell | mode | msg/s |" in markdown and overhead.iloc[0]["cell_id"] in markdown


def test_the_report_is_self_contained(built):
    page = built.read_text()
    assert not re.search(r"<script[^>]+src=", page), "a script is loaded from elsewhere"
    assert not re.search(r"""<link[^>]+href=["']https?:""", page)


def test_chromium_renders_every_figure_without_a_javascript_error(built, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by the README's test command (apt-get install chromium)"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=20000", "--dump-dom", built.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert "Uncaught" not in result.stderr, [ln for ln in result.stderr.splitlines() if "Uncaught" in ln][:3]
    dom = result.stdout
    for key in FIGURES:
        block = dom[dom.index(f'id="fig-{key}"'):]
        assert 'class="main-svg"' in block[:5000], f"figure {key} was not drawn"


def test_an_interrupted_run_gives_a_labelled_partial_report(tmp_path):
    run = tmp_path / "partial"
    shutil.copytree(EXAMPLE, run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (run / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(next((run / "cells").iterdir()) / "r2")
    out = tmp_path / "partial.html"
    result = eosbench("report", str(run), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "is partial" in result.stderr
    assert "Partial run" in out.read_text() and "Partial run" in out.with_suffix(".md").read_text()


def test_a_run_from_a_newer_eosbench_is_refused_with_one_line(tmp_path):
    run = tmp_path / "newer"
    shutil.copytree(EXAMPLE, run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (run / "manifest.json").write_text(json.dumps(manifest))
    result = eosbench("report", str(run), "--output", str(tmp_path / "x.html"))
    assert result.returncode == 2 and "newer eosbench" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.html").exists()


def test_a_run_that_does_not_exist_is_named(tmp_path):
    result = eosbench("report", "no-such-run", "--results-dir", str(tmp_path))
    assert result.returncode == 2 and "no run 'no-such-run'" in result.stderr
