"""A comparison as JUnit XML, the test report every CI system reads (Jenkins, GitLab, GitHub
through a JUnit action, Buildkite, Azure Pipelines).

Two suites. "gate" holds what fails a gate whatever the statistics (a broken guarantee, a failed,
missing or empty cell), one failing case each, or a single passing case when there is none.
"figures" holds one case per figure compared, named `<cell> <figure>`: a regression fails with the
figure, its interval, its p and the threshold; a gated figure without a test fails too (a gate
cannot pass what it could not test); a figure not gated (one run per side) is skipped, saying why;
a figure without a test that the gate does not hold against NEW is skipped too; every other one
passes, its figure in the case's output.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from bench.analysis.columns import COMPARED
from bench.analysis.compare import NOT_GATED, UNTESTED, Change, Comparison, method
from bench.formatting import change_text

_PASSED = {"~": "not significant", "within": "significant, within the threshold", "improvement": "improvement"}


def build_xml(result: Comparison) -> str:
    """The JUnit XML document of `result` (UTF-8, with its declaration)."""
    root = ET.Element("testsuites", name=f"eosbench compare {result.base_label} -> {result.new_label}")
    gate = _suite(root, "gate", result)
    run_level = [f for f in result.failures if not f.endswith(UNTESTED)]  # an untested figure fails as its own case
    for failure in run_level:
        case = ET.SubElement(gate, "testcase", classname="eosbench.gate", name=failure[:200])
        ET.SubElement(case, "failure", message=failure, type="gate")
    if not run_level:
        ET.SubElement(gate, "testcase", classname="eosbench.gate", name=f"{result.new_label} is complete and keeps every guarantee")
    figures = _suite(root, "figures", result)
    for cell in result.cells:
        for metric in COMPARED:
            change = cell.by_metric.get(metric.name)
            if change is not None:
                label = result.label(metric.name)
                untested = next((f for f in result.failures if f.startswith(f"{cell.cell_id}: {label} ") and f.endswith(UNTESTED)), None)
                _figure(figures, cell.cell_id, label, metric.show, change, result.max_regression_pct, untested)
    for suite in (gate, figures):
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
        suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
        suite.set("errors", "0")
    for key in ("tests", "failures", "skipped", "errors"):
        root.set(key, str(sum(int(s.get(key)) for s in (gate, figures))))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(root: ET.Element, name: str, result: Comparison) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=f"eosbench.{name}")
    properties = ET.SubElement(suite, "properties")
    for key, value in (("base", result.base_label), ("new", result.new_label), ("method", method(result.design)),
                       ("max_regression_pct", f"{result.max_regression_pct:g}"), ("baseline", result.baseline or "")):
        ET.SubElement(properties, "property", name=key, value=value)
    return suite


def _figure(suite: ET.Element, cell_id: str, label: str, show, change: Change, threshold: float, untested: str | None) -> None:
    """One figure's case; `untested`: the gate's failure line when the figure is gated but has no test."""
    case = ET.SubElement(suite, "testcase", classname=f"eosbench.figures.{cell_id}", name=f"{cell_id} {label}")
    p = "no p" if math.isnan(change.p_adjusted) else f"p {change.p_adjusted:.3g} (Holm)"
    interval = " (95% interval)" if not math.isnan(change.ci_low_pct) else ""
    figure = (f"{label}: {show(change.base)} -> {show(change.new)}, change "
              f"{change_text(change.change_pct, change.ci_low_pct, change.ci_high_pct)}{interval}, {p}")
    rule = f"a regression is significant (p < 0.05) and beyond {threshold:g}%"
    if change.verdict == "regression":
        ET.SubElement(case, "failure", message=f"{figure}: {rule}", type="regression").text = f"{figure}\n{rule}"
    elif untested:
        ET.SubElement(case, "failure", message=untested, type="untested").text = figure
    elif change.verdict == "not gated":
        ET.SubElement(case, "skipped", message=f"{figure}: {NOT_GATED}")
    elif change.verdict == "?":
        ET.SubElement(case, "skipped", message=f"{figure}: {change.note or 'no test'}")
    else:
        ET.SubElement(case, "system-out").text = f"{figure}; {_PASSED[change.verdict]}; {rule}"
