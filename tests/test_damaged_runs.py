"""A damaged run directory is refused by `report`, `compare`, `lag` and `capacity` with one line naming the
damaged file and exit 2, never a traceback; and nothing is written for it."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.results import RunStore
from tests.conftest import REPO

EXAMPLE = REPO / "results" / "gate-A1"
CELL = Path("cells") / "transactional" / "r2"


def _truncate(path: Path) -> None:
    path.write_text(path.read_text()[: len(path.read_text()) // 2])


def _json(path: Path, data) -> None:
    path.write_text(json.dumps(data))


def _manifest_edit(**changes):
    def edit(run: Path) -> None:
        manifest = json.loads((run / "manifest.json").read_text())
        for key, value in changes.items():
            if value is None:
                manifest.pop(key)
            else:
                manifest[key] = value
        _json(run / "manifest.json", manifest)
    return edit


def _metrics_edit(**changes):
    def edit(run: Path) -> None:
        path = run / CELL / "metrics.json"
        _json(path, {**json.loads(path.read_text()), **changes})
    return edit


# kind -> (how to damage the copy, the damaged file named in the one line, what it says)
DAMAGE = {
    "truncated metrics.json": (lambda run: _truncate(run / CELL / "metrics.json"), CELL / "metrics.json", "is damaged"),
    "truncated params.json": (lambda run: _truncate(run / CELL / "params.json"), CELL / "params.json", "is damaged"),
    "a manifest that is a JSON list": (lambda run: _json(run / "manifest.json", [1, 2]), "manifest.json", "a JSON list, not an object"),
    "schema_version 0": (_manifest_edit(schema_version=0), "manifest.json", "schema_version 0, which no eosbench wrote"),
    "a manifest without profile": (_manifest_edit(profile=None), "manifest.json", "no run_id or no profile"),
    "a malformed lag.csv": (lambda run: (run / CELL / "lag.csv").write_text('t_s,phase\n"unterminated\n'), CELL / "lag.csv", "is damaged"),
    # more of our own
    "an empty manifest": (lambda run: (run / "manifest.json").write_text(""), "manifest.json", "is damaged"),
    "a manifest from a newer eosbench": (_manifest_edit(schema_version=99), "manifest.json", "newer eosbench"),
    "a schema_version that is text": (_manifest_edit(schema_version="1"), "manifest.json", "no schema_version"),
    "metrics.json holding a list": (lambda run: _json(run / CELL / "metrics.json", []), CELL / "metrics.json", "a JSON list"),
    "params.json without its cell id": (lambda run: _json(run / CELL / "params.json", {"repetition": 2}), CELL / "params.json", "'cell_id' is missing"),
    "a missing params.json": (lambda run: (run / CELL / "params.json").unlink(), CELL / "params.json", "is missing"),
    "metrics.json without a status": (lambda run: _json(run / CELL / "metrics.json", {"throughput_msgs": 1.0}), CELL / "metrics.json", "'status' is missing"),
    "lag.csv with text for numbers": (lambda run: (run / CELL / "lag.csv").write_text(
        "t_s,phase,group,topic,partition,hw_lag,lso_lag\nsoon,measure,g,t,0,many,1\n"), CELL / "lag.csv", "not a number"),
    "lag.csv without its columns": (lambda run: (run / CELL / "lag.csv").write_text("a,b\n1,2\n"), CELL / "lag.csv", "no column t_s"),
    "an HdrHistogram log of garbage": (lambda run: (run / CELL / "e2e.hlog").write_text("0.0,1.0,2.0,notbase64!\n"), CELL / "e2e.hlog",
                                       "not an HdrHistogram log"),
    "an environment that is not an object": (_manifest_edit(environment="x86"), "manifest.json", "'environment' is not a JSON object"),
    # a figure of the wrong type, or not finite
    "a throughput that is text": (_metrics_edit(throughput_msgs="fast"), CELL / "metrics.json", "'throughput_msgs' is \"fast\", not a number"),
    "a latency that is a list": (_metrics_edit(e2e=[1, 2]), CELL / "metrics.json", "'e2e' is [1, 2], not an object"),
    "a percentile that is text": (_metrics_edit(e2e={"p99_ms": "slow"}), CELL / "metrics.json", "'e2e.p99_ms' is \"slow\", not a number"),
    "a count that is a boolean": (_metrics_edit(duplicates=True), CELL / "metrics.json", "'duplicates' is true, not a number"),
    "an infinite throughput": (lambda run: (run / CELL / "metrics.json").write_text('{"status": "ok", "throughput_msgs": 1e999}'),
                               CELL / "metrics.json", "'throughput_msgs' is inf, not a finite number"),
    "a NaN inside the turns": (lambda run: (run / CELL / "metrics.json").write_text('{"status": "ok", "turns": {"records": [1, NaN]}}'),
                               CELL / "metrics.json", "'turns.records.1' is nan, not a finite number"),
    "a key holding a newline": (_metrics_edit(**{"through\nput": "x"}), CELL / "metrics.json", "'through\\nput' is \"x\""),
    "a metrics.json linked to itself": (lambda run: ((run / CELL / "metrics.json").unlink(),
                                                     (run / CELL / "metrics.json").symlink_to("metrics.json")),
                                        CELL / "metrics.json", "is damaged"),
}
VERBS = {"report": lambda run, tmp: ["report", str(run), "--output", str(tmp / "out" / "r.html")],
         "compare": lambda run, tmp: ["compare", str(EXAMPLE), str(run)],
         "lag": lambda run, tmp: ["lag", str(run), "--format", "json"],
         "capacity": lambda run, tmp: ["capacity", str(run), "--rate", "10000"]}


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_run_is_refused_with_one_line_naming_the_file(tmp_path, kind):
    damage, damaged, says = DAMAGE[kind]
    run = tmp_path / "run"
    shutil.copytree(EXAMPLE, run)
    damage(run)
    verbs = list(VERBS) if damaged != CELL / "e2e.hlog" else ["report"]  # only the report reads histograms
    for verb in verbs:
        result = CliRunner().invoke(main, VERBS[verb](run, tmp_path), catch_exceptions=False)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2, (kind, verb, result.output)
        assert len(lines) == 1 and str(run / damaged) in lines[0] and says in lines[0], (kind, verb, lines)
    assert not (tmp_path / "out").exists()


def test_reading_a_damaged_run_touches_nothing_in_it(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(EXAMPLE, run)
    _truncate(run / CELL / "metrics.json")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for verb in VERBS:
        CliRunner().invoke(main, VERBS[verb](run, tmp_path))
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_an_output_path_that_cannot_be_written_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["report", str(EXAMPLE), "--output", str(blocker / "report.html")])
    assert result.exit_code == 2 and result.stderr.strip() == f"eosbench: error: File exists: {blocker}"


def test_what_a_trogdor_cell_and_an_avro_cell_write_is_read_as_it_is(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(EXAMPLE, run)
    written = {"placement": {"consumer": {"agent": "agent-1", "task": "t-1", "host": "h", "cpus": 2}},
               "clock": {"same_host": False, "e2e_uncertainty_us": 1500.0},
               "agents": {"agent-1": {"host": "h", "cpus": 2, "roles": ["consumer"], "generator_bound": False}},
               "e2e_refused": "producers and readers ran on hosts whose clocks are known to +-1,500 us only",
               "schema_versions": [{"version": 1, "at_s": None, "schema_id": 3, "refused": False, "records": 10}],
               "records_by_schema_id": {"3": 10}}
    _metrics_edit(**written)(run)
    cell = RunStore.open(run).cell(run / CELL)
    assert {key: cell["metrics"][key] for key in written} == written
