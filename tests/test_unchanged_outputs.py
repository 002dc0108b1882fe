"""Refactoring changes no figure: what eosbench reads out of the committed runs is pinned, byte for byte.

`tests/golden/outputs.json` holds, per committed run, the SHA-256 of its report (HTML, with the
inlined plotly.js library cut out so a plotly upgrade alone does not count as a change, and
Markdown), of `eosbench lag --format json`, of the summary and overhead tables recomputed from
its cells, and of `eosbench compare gate-A1 gate-quota` in every format (HTML as the report's). The digests were taken
with the code before the structure change (issue 14) and must not move when code only moves.

After a change that is meant to change an output, regenerate with
`python -m tests.test_unchanged_outputs` and say in the commit which output changed and why.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import main
from tests.conftest import REPO

RESULTS = REPO / "results"
GOLDEN = REPO / "tests" / "golden" / "outputs.json"
RUNS = sorted(p.name for p in RESULTS.iterdir() if (p / "manifest.json").is_file())
_PLOTLY_JS = re.compile(r"<script type=['\"]text/javascript['\"]>.*?</script>", re.S)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def outputs_of(run: Path, scratch: Path) -> dict[str, str]:
    """Every output pinned for one run directory: name -> digest."""
    from bench.analysis import overhead, summary
    from bench.results import RunStore

    store = RunStore.open(run)
    frame = summary.summary(store)
    page = scratch / f"{run.name}.html"
    _invoke("report", str(run), "--output", str(page))
    return {
        "report.html": _page_digest(page),
        "report.md": _digest(page.with_suffix(".md").read_text()),
        "lag.json": _digest(_invoke("lag", str(run), "--format", "json")),
        "summary.csv": _digest(frame.to_csv(index=False)),
        "overhead.csv": _digest(overhead.overhead(frame, store.manifest()["profile"].get("baseline")).to_csv(index=False)),
    }


def comparison_outputs(scratch: Path) -> dict[str, str]:
    runs = [str(RESULTS / "gate-A1"), str(RESULTS / "gate-quota")]
    out = {fmt: _digest(_invoke("compare", *runs, "--format", fmt)) for fmt in ("text", "markdown", "json")}
    _invoke("compare", *runs, "--format", "html", "--output", str(scratch / "compare.html"))
    out["html"] = _page_digest(scratch / "compare.html")
    return out


def _page_digest(page: Path) -> str:
    return _digest(_PLOTLY_JS.sub("<script>plotly.js</script>", page.read_text(), count=1))


@pytest.mark.parametrize("run", RUNS)
def test_what_a_committed_run_reads_as_is_unchanged(run, tmp_path):
    golden = json.loads(GOLDEN.read_text())["runs"][run]
    now = outputs_of(RESULTS / run, tmp_path)
    changed = [name for name in golden if now[name] != golden[name]]
    assert not changed, f"{run}: {', '.join(changed)} changed (see this module's docstring)"


def test_the_comparison_of_two_committed_runs_is_unchanged(tmp_path):
    golden = json.loads(GOLDEN.read_text())["compare gate-A1 gate-quota"]
    now = comparison_outputs(tmp_path)
    assert now == golden


def test_a_changed_figure_is_noticed(tmp_path):
    """Negative control: one throughput nudged in a copy of a run changes its pinned outputs."""
    import shutil

    copy = tmp_path / "gate-A1"
    shutil.copytree(RESULTS / "gate-A1", copy)
    metrics = next(copy.glob("cells/*/r1/metrics.json"))
    data = json.loads(metrics.read_text())
    data["throughput_msgs"] *= 1.001
    metrics.write_text(json.dumps(data))
    golden = json.loads(GOLDEN.read_text())["runs"]["gate-A1"]
    now = outputs_of(copy, tmp_path)
    assert now["summary.csv"] != golden["summary.csv"] and now["report.md"] != golden["report.md"]


if __name__ == "__main__":  # regenerate (see the docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        data = {"runs": {run: outputs_of(RESULTS / run, Path(scratch)) for run in RUNS},
                "compare gate-A1 gate-quota": comparison_outputs(Path(scratch))}
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(RUNS)} runs)", file=sys.stderr)
