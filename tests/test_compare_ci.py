"""compare's CI outputs: JUnit XML (read back by a JUnit parser), and under GitHub Actions the
annotations and the step summary, on the committed gate runs."""

from __future__ import annotations

import json

import junitparser

from bench.report.github import _command
from tests.conftest import eosbench
from tests.test_compare import A1, A2, QUOTA, THROTTLED

GITHUB = {"GITHUB_ACTIONS": "true"}


def cases(path) -> dict[str, junitparser.TestCase]:
    return {case.name: case for suite in junitparser.JUnitXml.fromfile(str(path)) for case in suite}


def test_junit_fails_exactly_the_regressed_figures_with_the_figure_its_interval_and_the_threshold(tmp_path):
    out = eosbench("compare", A1, QUOTA, "--run-drift", "3", "--format", "junit", "--output", str(tmp_path / "gate.xml"))
    assert out.returncode == 1 and str(tmp_path / "gate.xml") in out.stdout
    failed = {name: case.result[0] for name, case in cases(tmp_path / "gate.xml").items()
              if case.result and isinstance(case.result[0], junitparser.Failure)}
    assert sorted(failed) == [f"{THROTTLED} e2e p99", f"{THROTTLED} throughput", f"{THROTTLED} throughput relative to at_least_once"]
    message = failed[f"{THROTTLED} throughput"].message
    assert "-60.8% [" in message and "(95% interval)" in message and "beyond 5%" in message and "p " in message


def test_junit_of_two_runs_of_one_profile_passes_and_skips_what_one_run_per_side_cannot_gate(tmp_path):
    out = eosbench("compare", A1, A2, "--format", "junit", "--output", str(tmp_path / "gate.xml"))
    assert out.returncode == 0
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "gate.xml"))
    assert (xml.failures, xml.errors) == (0, 0) and xml.tests == 9
    skipped = [name for name, case in cases(tmp_path / "gate.xml").items() if case.is_skipped]
    assert sorted(skipped) == sorted(f"{cell} {figure}" for cell in ("at_least_once", "idempotent", THROTTLED)
                                     for figure in ("throughput", "e2e p99"))


def test_under_github_actions_each_regression_is_an_error_annotation_and_the_summary_is_appended(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = eosbench("compare", A1, QUOTA, env={**GITHUB, "GITHUB_STEP_SUMMARY": str(summary)})
    assert out.returncode == 1
    errors = [line for line in out.stdout.splitlines() if line.startswith("::error title=eosbench regression::")]
    assert len(errors) == 1 and f"{THROTTLED}: throughput relative to at_least_once" in errors[0]
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "### EOS cost" in text and "REGRESSION" in text


def test_under_github_actions_json_stays_json(tmp_path):
    out = eosbench("compare", A1, QUOTA, "--format", "json", env={**GITHUB, "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")})
    assert json.loads(out.stdout)["gate"] == "fail" and (tmp_path / "s.md").exists()


def test_outside_github_actions_there_is_no_annotation():
    assert "::error" not in eosbench("compare", A1, QUOTA).stdout


def test_an_annotation_cannot_be_ended_early_by_its_message():
    assert _command("error", "a: b, c", "50% up\nnext") == "::error title=a%3A b%2C c::50%25 up%0Anext"
