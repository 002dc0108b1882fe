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
from bench.formatting import change_text, percent, signed
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

    Per cell: throughput, end-to-end p99 and the EOS cost (throughput relative to the baseline
    mode in the same repetition, immune to the machine's drift). A change is a regression only
    when it is statistically significant (Holm-adjusted over all tests) and larger than
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
        baseline = manifests[1]["profile"].get("baseline")
        result = compare_runs(summary.summary(stores[0]), summary.summary(stores[1]), max_regression,
                              manifests[0]["run_id"], manifests[1]["run_id"],
                              baseline if baseline == manifests[0]["profile"].get("baseline") else None)
        environment_check(manifests[0], manifests[1], result)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, default=_json_number))
    elif fmt == "html":
        page = output or Path("reports") / f"compare-{_slug(result.base_label)}-{_slug(result.new_label)}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(page, comparison_page(result, tables(result)))
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
    result = compare_runs(*sides, max_regression, f"{manifest['run_id']} @ Kafka {versions[0]}",
                          f"{manifest['run_id']} @ Kafka {versions[1]}", manifest["profile"].get("baseline"))
    result.versions["broker"] = tuple(versions)
    return result


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in label)


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def _p(c: Change) -> str:
    return "-" if math.isnan(c.p_adjusted) else f"{c.p_adjusted:.3f}"


# how a metric's value reads
_VALUE = {
    "throughput": lambda v: f"{v:,.0f}",
    "cost": lambda v: percent(100 * (1 - v)),  # shown as the overhead, 100 x (1 - ratio)
    "e2e_p99": lambda v: f"{v:,.1f}",
}


def tables(result: Comparison) -> list[tuple[str, list[str], list[list[str]]]]:
    """One table per metric (title, headers, rows); a metric no cell has is left out."""
    titles = {
        "throughput": ("Throughput", "msg/s"),
        "cost": (f"EOS cost: throughput relative to {result.baseline} in the same repetition", "overhead"),
        "e2e_p99": ("End-to-end p99 latency", "ms"),
    }
    out = []
    for name, (title, unit) in titles.items():
        rows = [[c.cell_id, _VALUE[name](ch.base), _VALUE[name](ch.new), change_text(ch.change_pct, ch.ci_low_pct, ch.ci_high_pct),
                 _p(ch), _SYMBOL[ch.verdict]]
                for c in result.cells if (ch := c.changes().get(name))]
        if not rows:
            continue
        if name == "throughput":
            g = result.geometric_mean_ratio()
            rows.append(["geometric mean", "", "", f"{signed(100 * (g - 1))}%" if not math.isnan(g) else "-", "", ""])
        out.append((title, ["cell", f"{unit} base", f"{unit} new", "change [95% CI]", "p (Holm)", ""], rows))
    return out


def _preamble(result: Comparison) -> list[str]:
    lines = [f"comparing {result.base_label} (base) -> {result.new_label} (new)"]
    lines += [f"  {label}: {a} -> {b}" for label, (a, b) in result.versions.items()] or ["  same broker, client and eosbench versions"]
    lines += [f"warning: {w}" for w in result.warnings]
    return lines


def _closing(result: Comparison) -> list[str]:
    lines = [f"method: {METHOD} ({result.tests} tests); a change counts when p < 0.05 and it exceeds "
             f"{result.max_regression_pct:g}%; '~' not significant"]
    lines += [f"only in {result.base_label}: {', '.join(result.only_in_base)}"] if result.only_in_base else []
    lines += [f"only in {result.new_label}: {', '.join(result.only_in_new)}"] if result.only_in_new else []
    lines.append(f"{len(result.regressions)} regression(s)" + (": " + "; ".join(result.regressions) if result.regressions else ""))
    return lines


def format_text(result: Comparison) -> str:
    body = []
    for title, headers, rows in tables(result):
        body += ["", title, render(headers, rows, right={1, 2, 3, 4})]
    return "\n".join(_preamble(result) + body + [""] + _closing(result))


def format_markdown(result: Comparison) -> str:
    body = []
    for title, headers, rows in tables(result):
        body += ["", f"### {title}", "", "| " + " | ".join(h or " " for h in headers) + " |", "|---|---:|---:|---:|---:|---|"]
        body += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(_preamble(result) + body + [""] + _closing(result))
