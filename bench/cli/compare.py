"""`eosbench compare BASE NEW`: per-cell changes between two runs; exit 1 on a regression."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from bench.analysis import summary
from bench.analysis.compare import METHOD, Change, Comparison, compare as compare_runs, environment_check
from bench.cli.tables import render
from bench.errors import BadInput
from bench.report.comparison import build_html as comparison_page
from bench.results import DEFAULT_RESULTS_DIR, RunStore, write_atomically

_SYMBOL = {"regression": "REGRESSION", "improvement": "improvement", "~": "~", "within": "", "?": "? (1 repetition)"}


@click.command()
@click.argument("base")
@click.argument("new", required=False)
@click.option("--by", "by", type=click.Choice(["kafka.version"]), default=None,
              help="Compare the versions measured side by side inside the one run BASE.")
@click.option("--max-regression", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Smallest change in percent that counts, if it is also significant.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --format html: the page [default: reports/compare-<base>-<new>.html].")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def compare(base: str, new: str | None, by: str | None, max_regression: float, fmt: str, output: Path | None, results_dir: Path) -> None:
    """Compare run NEW against run BASE (run ids or directories), cell by cell; or, with
    --by kafka.version, the first and second Kafka version of the one run BASE.

    A change is a regression only when it is statistically significant and larger than
    --max-regression. Exit 1 when anything regressed.
    """
    if by:
        if new:
            raise click.UsageError("--by compares inside one run: give only RUN")
        result = _within_run(RunStore.open(base, results_dir), max_regression)
    else:
        if not new:
            raise click.UsageError("give BASE and NEW runs, or one run with --by kafka.version")
        stores = [RunStore.open(run, results_dir) for run in (base, new)]
        manifests = [s.manifest() for s in stores]
        result = compare_runs(summary.summary(stores[0]), summary.summary(stores[1]), max_regression,
                              manifests[0]["run_id"], manifests[1]["run_id"])
        environment_check(manifests[0], manifests[1], result)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, default=_json_number))
    elif fmt == "html":
        page = output or Path("reports") / f"compare-{_slug(result.base_label)}-{_slug(result.new_label)}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(page, comparison_page(result, _rows(result), _HEADERS))
        click.echo("\n".join(_closing(result)[-1:] + [str(page)]))
    else:
        click.echo(format_markdown(result) if fmt == "markdown" else format_text(result))
    if result.regressions:
        sys.exit(1)


def _within_run(store: RunStore, max_regression: float) -> Comparison:
    """Base: the profile's first Kafka version; new: its second."""
    manifest = store.manifest()
    versions = manifest["profile"]["kafka"]["version"]
    if not isinstance(versions, list) or len(versions) != 2:
        raise BadInput(f"run {manifest['run_id']} measured Kafka {versions}: --by kafka.version needs exactly two versions")
    frame = summary.summary(store)
    sides = [frame[frame["kafka_version"] == v] for v in versions]
    result = compare_runs(*sides, max_regression, f"{manifest['run_id']} @ Kafka {versions[0]}", f"{manifest['run_id']} @ Kafka {versions[1]}")
    result.versions["broker"] = tuple(versions)
    return result


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in label)


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def _pct(c: Change) -> str:
    if math.isnan(c.ci_low_pct):
        return f"{c.change_pct:+.1f}%"
    return f"{c.change_pct:+.1f}% [{c.ci_low_pct:+.1f}, {c.ci_high_pct:+.1f}]"


def _p(c: Change) -> str:
    return "-" if math.isnan(c.p_value) else f"{c.p_value:.3f}"


def _rows(result: Comparison) -> list[list[str]]:
    rows = []
    for c in result.cells:
        t, e = c.throughput, c.e2e_p99
        rows.append([
            c.cell_id, f"{t.base:,.0f}", f"{t.new:,.0f}", _pct(t), _p(t), _SYMBOL[t.verdict],
            f"{e.base:,.1f}" if e else "-", f"{e.new:,.1f}" if e else "-", _pct(e) if e else "-", _SYMBOL[e.verdict] if e else "",
        ])
    g = result.geometric_mean_ratio()
    rows.append(["geometric mean", "", "", f"{100 * (g - 1):+.1f}%" if not math.isnan(g) else "-", "", "", "", "", "", ""])
    return rows


_HEADERS = ["cell", "msg/s base", "msg/s new", "change [95% CI]", "p", "", "e2e p99 ms base", "e2e p99 ms new", "change [95% CI]", ""]


def _preamble(result: Comparison) -> list[str]:
    lines = [f"comparing {result.base_label} (base) -> {result.new_label} (new)"]
    lines += [f"  {label}: {a} -> {b}" for label, (a, b) in result.versions.items()] or ["  same broker, client and eosbench versions"]
    lines += [f"warning: {w}" for w in result.warnings]
    return lines


def _closing(result: Comparison) -> list[str]:
    lines = [f"method: {METHOD}; a change counts when p < 0.05 and it exceeds {result.max_regression_pct:g}%; '~' not significant"]
    lines += [f"only in {result.base_label}: {', '.join(result.only_in_base)}"] if result.only_in_base else []
    lines += [f"only in {result.new_label}: {', '.join(result.only_in_new)}"] if result.only_in_new else []
    lines.append(f"{len(result.regressions)} regression(s)" + (": " + "; ".join(result.regressions) if result.regressions else ""))
    return lines


def format_text(result: Comparison) -> str:
    return "\n".join(_preamble(result) + ["", render(_HEADERS, _rows(result), right={1, 2, 3, 4, 6, 7, 8}), ""] + _closing(result))


def format_markdown(result: Comparison) -> str:
    table = ["| " + " | ".join(h or " " for h in _HEADERS) + " |", "|---|" + "---:|" * 4 + "---|---:|---:|---:|---|"]
    table += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in _rows(result)]
    return "\n".join(_preamble(result) + [""] + table + [""] + _closing(result))
