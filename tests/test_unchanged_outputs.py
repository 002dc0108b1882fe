"""What a committed run reads as, checked on its content: every figure the summary, the overhead
table and the report give is traced back to the cells' own files and recomputed here by the
definition a user reads (docs/profiles.md, bench.analysis.overhead), not compared with a stored digest of
the code's own output, which the code could only ever agree with.

- the summary has one row per cell repetition, and its accounting and throughput are the cell's
  metrics.json values;
- each overhead of a run whose repetitions are paired is 100 x (1 - the geometric mean of the
  same-repetition throughput ratios), with the t interval on their logs, simultaneous over the run's
  cells; under order alternating the overhead lies inside its interval and counts its paired turns;
- the report's Markdown states every overhead as the table prints it, and the cost curve's answer
  where the run has one.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from bench.analysis import model, overhead, summary
from bench.cli import main
from bench.formatting import overhead_text
from bench.results import RunStore
from tests.conftest import REPO

RESULTS = REPO / "results"
RUNS = sorted(p.name for p in RESULTS.iterdir() if (p / "manifest.json").is_file())


def check_summary(run: Path, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The summary of `run` (or `frame`) against its cells' metrics.json, figure by figure; the summary."""
    frame = summary.summary(RunStore.open(run)) if frame is None else frame
    cells = sorted(run.glob("cells/*/r*/metrics.json"))
    assert len(frame) == len(cells), f"{run.name}: {len(frame)} rows for {len(cells)} cell repetitions"
    by_key = frame.set_index(["cell_id", "repetition"])
    for path in cells:
        metrics = json.loads(path.read_text())
        params = json.loads((path.parent / "params.json").read_text())
        row = by_key.loc[(params["cell_id"], params["repetition"])]
        assert row["status"] == metrics["status"]
        for key in ("sent", "acked", "consumed", "duplicates", "lost", "throughput_msgs"):
            if key in metrics:
                assert row[key] == pytest.approx(metrics[key], rel=1e-12), f"{run.name} {params['cell_id']} r{params['repetition']}: {key}"
    return frame


def expected_overhead(cell: pd.DataFrame, base: pd.DataFrame, tests: int) -> tuple[float, float, float]:
    """The overhead of paired repetitions by its definition: (overhead, low, high) in %."""
    mine, theirs = cell.set_index("repetition")["throughput_msgs"], base.set_index("repetition")["throughput_msgs"]
    logs = np.log((mine / theirs).dropna().to_numpy())
    centre = logs.mean()
    if len(logs) < 3:
        return -100 * math.expm1(centre), math.nan, math.nan
    half = stats.t.ppf(1 - 0.05 / (2 * tests), len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    return -100 * math.expm1(centre), -100 * math.expm1(centre + half), -100 * math.expm1(centre - half)


@pytest.mark.parametrize("run", RUNS)
def test_a_committed_run_reads_as_its_cells_say(run, tmp_path):
    frame = check_summary(RESULTS / run)
    baseline = json.loads((RESULTS / run / "manifest.json").read_text())["profile"].get("baseline")
    table = overhead.overhead(frame, baseline)
    rows = {r.cell_id: r for r in table.itertuples()}
    pairs = list(overhead.baseline_pairs(frame, baseline))
    assert len(pairs) == len(table)
    tests = int(table["ci_low_pct"].notna().sum())
    for cell_id, cell, base in pairs:
        row = rows[cell_id]
        if row.pairs_of == "turns":
            turns = overhead.turn_pairs(cell, base)
            assert row.pairs == sum(len(t) for t in turns)
            assert row.ci_low_pct <= row.overhead_pct <= row.ci_high_pct
            continue
        if not (cell["throughput_msgs"] > 0).all():
            continue  # a repetition that delivered nothing: the arithmetic mean, said in the table
        value, low, high = expected_overhead(cell, base, tests)
        assert row.overhead_pct == pytest.approx(value, abs=1e-9), cell_id
        if not math.isnan(low):
            assert (row.ci_low_pct, row.ci_high_pct) == pytest.approx((low, high), abs=1e-9), cell_id

    page = tmp_path / f"{run}.html"
    result = CliRunner().invoke(main, ["report", str(RESULTS / run), "--output", str(page)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    markdown = page.with_suffix(".md").read_text()
    for row in table.itertuples():
        assert f"| {row.cell_id} | {row.mode} |" in markdown and overhead_text(row) in markdown, row.cell_id
    for curve in (f for f in model.fits(frame, baseline) if isinstance(f, model.Fit)):
        for sentence in model.sentences(curve):
            assert sentence in markdown


def test_a_changed_figure_is_noticed(tmp_path):
    """Negative control: one throughput nudged in a copy of a run's metrics.json, and not in its
    summary, is caught; so is a cell repetition that went missing."""
    copy = tmp_path / "gate-A1"
    shutil.copytree(RESULTS / "gate-A1", copy)
    metrics = next(copy.glob("cells/*/r1/metrics.json"))
    data = json.loads(metrics.read_text())
    original = data["throughput_msgs"]
    data["throughput_msgs"] = original * 1.001
    metrics.write_text(json.dumps(data))
    params = json.loads((metrics.parent / "params.json").read_text())
    frame = summary.summary(RunStore.open(copy))
    frame.loc[(frame["cell_id"] == params["cell_id"]) & (frame["repetition"] == 1), "throughput_msgs"] = original  # the stale summary
    with pytest.raises(AssertionError, match="throughput_msgs"):
        check_summary(copy, frame)
    with pytest.raises(AssertionError, match="rows for"):
        check_summary(copy, frame.iloc[1:])
