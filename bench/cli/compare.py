"""`eosbench compare BASE NEW`: per-cell changes between two runs; exit 1 on a regression."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from bench.analysis import summary
from bench.analysis.columns import COMPARED
from bench.analysis.compare import DRIFT_PCT, NOT_GATED, TURN_DRIFT_PCT, Change, Comparison, check_runs, compare as compare_runs, method
from bench.cli.tables import render
from bench.errors import BadInput
from bench.formatting import change_text, signed
from bench.report import github, junit
from bench.report.comparison import build_html as comparison_page
from bench.results import DEFAULT_RESULTS_DIR, RunStore, write_atomically

_SYMBOL = {"regression": "REGRESSION", "improvement": "improvement", "~": "~", "within": "", "?": "? (no test)",
           "not gated": "(not gated)"}


@click.command()
@click.argument("base")
@click.argument("new", required=False)
@click.option("--by", "by", type=click.Choice(["kafka.version"]), default=None,
              help="Compare the versions measured side by side inside the one run BASE.")
@click.option("--max-regression", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Smallest change in percent that counts, if it is also significant.")
@click.option("--run-drift", type=click.FloatRange(min=0, max=1000), default=None,
              help="Run-to-run drift (percent, one standard deviation) to allow for when a side has one run; "
                   "gates absolute throughput and latency too [default: EOS cost "
                   f"{DRIFT_PCT['cost']:g}% ({TURN_DRIFT_PCT['cost']:g}% for cells that took turns), absolute figures not gated].")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html", "junit"]), default="text", show_default=True,
              help="junit: JUnit XML for CI test reports, a case per compared figure. Under GitHub Actions every "
                   "format but json also prints annotations, and the Markdown summary goes to the step summary.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --format html or junit: the file [default: reports/compare-<base>-<new>.html or .xml].")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def compare(base: str, new: str | None, by: str | None, max_regression: float, run_drift: float | None, fmt: str,
            output: Path | None, results_dir: Path) -> None:
    """Compare run NEW against run BASE (run ids or directories; several runs per side as
    A1,A2,A3), cell by cell; or, with --by kafka.version, the two Kafka versions measured side by
    side in the one run BASE.

    Per cell: throughput, end-to-end p99, broker CPU per record and the EOS cost (throughput
    relative to the baseline mode in the same repetition, or round of turns). A change is a
    regression only when it is statistically significant (Holm-adjusted over all tests) and larger
    than --max-regression. With one run per side only the EOS cost is gated (absolute figures move
    with run-to-run drift); where the cells took turns (order alternating, as in the gate
    profile) one repetition is enough, each run's figure being the centre of its turns; with
    several runs per side, or versions side by side in one run, every figure is. Exit 1 when anything
    regressed, or when a NEW cell failed, is missing, delivered nothing, broke a guarantee its mode
    promises (duplicates, losses, aborted reads, torn transactions, wrong aggregates), or has too few
    repetitions for a gated test; exit 2 for a damaged run file.
    """
    if by:
        if new:
            raise click.UsageError("--by compares inside one run: give only RUN")
        result = _within_run(RunStore.open(base, results_dir), max_regression, run_drift)
    else:
        if not new:
            raise click.UsageError("give BASE and NEW runs, or one run with --by kafka.version")
        sides = [[RunStore.open(run, results_dir) for run in _run_list(side)] for side in (base, new)]
        manifests = [[store.manifest() for store in side] for side in sides]
        for store, manifest in zip(sides[0], manifests[0]):
            if not any(c["metrics"]["status"] == "ok" for c in store.cells()):
                raise BadInput(f"base run {manifest['run_id']} has no cell that finished: there is nothing to compare against")
        baselines = {m["profile"].get("baseline") for side in manifests for m in side}
        result = compare_runs([summary.summary(s) for s in sides[0]], [summary.summary(s) for s in sides[1]], max_regression,
                              _label(manifests[0]), _label(manifests[1]), baselines.pop() if len(baselines) == 1 else None, run_drift)
        check_runs(*manifests, result)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, allow_nan=False, default=str))
    elif fmt in ("html", "junit"):
        page = output or Path("reports") / f"compare-{_slug(result.base_label)}-{_slug(result.new_label)}.{'xml' if fmt == 'junit' else 'html'}"
        page.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(page, junit.build_xml(result) if fmt == "junit" else comparison_page(result, tables(result)))
        click.echo("\n".join(_closing(result)[-1:] + [str(page)]))
    else:
        click.echo(format_markdown(result) if fmt == "markdown" else format_text(result))
    if github.active():
        if fmt != "json":  # annotations on standard output would break the JSON a step reads
            for line in github.annotations(result):
                click.echo(line)
        github.append_summary(format_markdown(result))
    if result.failed:
        sys.exit(1)


def _run_list(side: str) -> list[str]:
    runs = [run.strip() for run in side.split(",")]
    if not all(runs) or len(set(runs)) != len(runs):
        raise BadInput(f"'{side}': give a run, or several distinct runs separated by commas")
    return runs


def _label(manifests: list[dict]) -> str:
    return ",".join(m["run_id"] for m in manifests)


def _within_run(store: RunStore, max_regression: float, run_drift: float | None) -> Comparison:
    """Base: the profile's first Kafka version; new: its second; paired by repetition."""
    manifest = store.manifest()
    versions = (manifest["profile"].get("kafka") or {}).get("version")
    if not isinstance(versions, list) or len(versions) != 2:
        raise BadInput(f"run {manifest['run_id']} measured Kafka {versions}: --by kafka.version needs exactly two versions")
    frame = summary.summary(store)
    sides = [frame[frame["kafka_version"] == v] for v in versions]
    result = compare_runs(*sides, max_regression, f"{manifest['run_id']} @ Kafka {versions[0]}",
                          f"{manifest['run_id']} @ Kafka {versions[1]}", manifest["profile"].get("baseline"), run_drift, paired=True)
    result.versions["broker"] = tuple(versions)
    if manifest.get("status") != "complete":
        result.failures.insert(0, f"run {manifest['run_id']} is {manifest.get('status')}, not complete")
    return result


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in label)


def _p(c: Change) -> str:
    return "-" if math.isnan(c.p_adjusted) else f"{c.p_adjusted:.3f}"


def tables(result: Comparison) -> list[tuple[str, list[str], list[list[str]]]]:
    """One table per compared metric (title, headers, rows); a metric no cell has is left out."""
    out = []
    for metric in sorted(COMPARED, key=lambda c: c.table_rank):
        rows = [[c.cell_id, metric.show(ch.base), metric.show(ch.new), change_text(ch.change_pct, ch.ci_low_pct, ch.ci_high_pct),
                 _p(ch), _SYMBOL[ch.verdict]]
                for c in result.cells if (ch := c.changes().get(metric.name))]
        if not rows:
            continue
        if metric.name == "throughput":
            g = result.geometric_mean_ratio()
            rows.append(["geometric mean", "", "", f"{signed(100 * (g - 1))}%" if not math.isnan(g) else "-", "", ""])
        out.append((metric.title.format(baseline=result.baseline),
                    ["cell", f"{metric.unit} base", f"{metric.unit} new", "change [95% CI]", "p (Holm)", ""], rows))
    return out


def _preamble(result: Comparison) -> list[str]:
    lines = [f"GATE FAILED: {failure}" for failure in result.failures]
    lines.append(f"comparing {result.base_label} (base) -> {result.new_label} (new)")
    lines += [f"  {label}: {a} -> {b}" for label, (a, b) in result.versions.items()]
    if not result.versions:
        unknown_broker = any(w.startswith("broker version not recorded") for w in result.warnings)
        lines.append("  same client and eosbench versions" if unknown_broker else "  same broker, client and eosbench versions")
    lines += [f"warning: {w}" for w in result.warnings]
    return lines


def _closing(result: Comparison) -> list[str]:
    lines = [f"method: {method(result.design)} ({result.tests} tests); a change counts when p < 0.05 and it exceeds "
             f"{result.max_regression_pct:g}%; '~' not significant, '?' no test (see notes)"]
    notes = sorted({f"{c.cell_id} {name}: {ch.note}" for c in result.cells for name, ch in c.changes().items() if ch.note})
    lines += [f"note: {n}" for n in notes]
    if any(ch.verdict == "not gated" for c in result.cells for ch in c.changes().values()):
        lines.append(f"(not gated): {NOT_GATED}")
    lines += [f"only in {result.base_label}: {', '.join(result.only_in_base)}"] if result.only_in_base else []
    lines += [f"only in {result.new_label}: {', '.join(result.only_in_new)}"] if result.only_in_new else []
    lines.append(f"{len(result.regressions)} regression(s)" + (": " + "; ".join(result.regressions) if result.regressions else ""))
    if result.failures:
        lines.append(f"gate: FAIL ({len(result.failures)} problem(s) with {result.new_label}, listed at the top)")
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
