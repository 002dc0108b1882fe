"""`eosbench model RUN`: the cost curve fitted across a run's sweep, its crossings, and predictions."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import click

from bench.analysis import model as models, summary
from bench.cli.tables import number, render
from bench.errors import BadInput
from bench.formatting import finite
from bench.results import DEFAULT_RESULTS_DIR, RunStore

AT_KEYS = ("transaction_size", "partitions", "message_size")


@click.command()
@click.argument("run")
@click.option("--at", "at", default=None, metavar="transaction_size=N,partitions=P",
              help="Predict the overhead there, with its 95% interval (message_size=M chooses among curves); "
                   "refused outside the measured range.")
@click.option("--latency", "latency_run", default=None, metavar="RUN",
              help="An open-loop run at the same transaction sizes (the shipped profile tradeoff): a read_committed reader's "
                   "p99 beside each one's cost, and the latency paid at each crossing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def model(run: str, at: str | None, latency_run: str | None, fmt: str, results_dir: Path) -> None:
    """Fit what exactly-once costs across RUN's transaction sizes and partitions.

    Prints the fitted parameters with bootstrap intervals, the residual of every measured point, the
    lack-of-fit verdict and where the overhead falls to 30% and 10%.

    \b
    Examples:
      eosbench model results/example-standard
      eosbench model example-standard --at transaction_size=5000,partitions=16
      eosbench model example-standard --format json
      eosbench model example-standard --latency example-tradeoff
    """
    wanted = _parse_at(at) if at else None
    store = RunStore.open(run, results_dir)
    latency = summary.summary(RunStore.open(latency_run, results_dir)) if latency_run else None
    manifest = store.manifest()
    fitted = models.fits(summary.summary(store), manifest["profile"].get("baseline"))
    curves = [f for f in fitted if isinstance(f, models.Fit)]
    if wanted is not None:
        _predict(curves, fitted, wanted, fmt)
        return
    baseline = manifest["profile"].get("baseline")
    if fmt == "json":
        record = models.record(fitted)
        if latency is not None:
            for curve, out in zip(curves, record["curves"]):
                out["tradeoff"] = finite([asdict(r) for r in models.tradeoff(curve, latency, baseline)])
                out["latency_paid"] = models.tradeoff_sentences(curve, models.tradeoff(curve, latency, baseline))
        click.echo(json.dumps({"run_id": manifest["run_id"], **record}, indent=2, default=str))
        return
    if not fitted:
        raise BadInput(f"run {manifest['run_id']} has no transactional or idempotent cells of topology produce in closed loop "
                       "measured against a baseline: there is no curve to fit")
    for f in fitted:
        if not isinstance(f, models.Fit):
            family, why = f
            click.echo(f"{models.family_text(family)}: no curve: {why}")
            continue
        print_fit(f)
        if latency is not None:
            print_tradeoff(f, models.tradeoff(f, latency, baseline))


def print_tradeoff(f: models.Fit, rows: list[models.Tradeoff]) -> None:
    """Each transaction size's throughput cost (the curve's) beside a read_committed reader's latency (open loop)."""
    if not rows:
        click.echo("  the latency run has no open-loop transactional cell at this curve's message size and partition counts")
        return
    click.echo(f"the trade-off: throughput cost (closed loop, the curve) against read_committed latency (open loop at "
               f"{rows[0].rate:,.0f} msg/s)")
    table = [[str(r.partitions), f"{r.n:,.0f}", "-" if r.overhead_pct is None else
              f"{r.overhead_pct.value:.1f}% [{r.overhead_pct.low:.1f}, {r.overhead_pct.high:.1f}]",
              number(r.e2e_p50_ms, 1), number(r.e2e_p99_ms, 1), number(r.baseline_e2e_p99_ms, 1)] for r in rows]
    click.echo(render(["partitions", "records/txn", "throughput cost [95%]", "e2e p50 ms", "e2e p99 ms", "at_least_once p99 ms"],
                      table, right={1, 3, 4, 5}))
    for line in models.tradeoff_sentences(f, rows):
        click.echo(line)


def print_fit(f: models.Fit) -> None:
    click.echo(f"{models.family_text(f.family)}: {f.form}  (n records per transaction, q partitions each touched)")
    click.echo("  " + "; ".join(f"{name} {_value(name, v.value)} [{_value(name, v.low)}, {_value(name, v.high)}]"
                                for name, v in f.parameters.items()) + "  (95% bootstrap over rounds)")
    rows = [[r.cell_id, str(r.partitions), "-" if not math.isfinite(r.n) else f"{r.n:,.0f}",
             f"{r.measured_pct:.1f}% [{r.measured_low_pct:.1f}, {r.measured_high_pct:.1f}]", f"{r.predicted_pct:.1f}%",
             f"{r.residual_pct:+.1f}", f"{r.z:+.2f}"] for r in f.residuals]
    click.echo(render(["cell", "partitions", "records/txn", "measured overhead [95%]", "model", "residual (points)", "z"],
                      rows, right={1, 2, 4, 5, 6}))
    click.echo(f"  lack of fit: {f.verdict}")
    rows = [[str(c.partitions), f"{c.target_pct:g}%", c.status,
             "-" if c.n is None or not math.isfinite(c.n.value) else models.rounded(c.n.value),
             models.interval_text(c) if c.status == "inside" else "-",
             "-" if c.commit_ms is None or not math.isfinite(c.commit_ms.value) else number(c.commit_ms.value, 0, " ms")]
            for c in f.crossings]
    click.echo(render(["partitions", "overhead", "where", "records/txn", "95% interval", "commit interval"], rows, right={3, 5}))
    for line in models.sentences(f):
        click.echo(line)


def _predict(curves: list[models.Fit], fitted: list, wanted: dict[str, int], fmt: str) -> None:
    chosen = [f for f in curves if "message_size" not in wanted or int(f.family.get("message_size") or 0) == wanted["message_size"]]
    if not chosen:
        raise BadInput("no fitted curve" + (f" at message_size {wanted['message_size']}" if "message_size" in wanted else "")
                       + (f" ({'; '.join(why for _, why in (x for x in fitted if isinstance(x, tuple)))})" if fitted else ""))
    if len(chosen) > 1:
        sizes = ", ".join(str(f.family.get("message_size")) for f in chosen)
        raise BadInput(f"--at: the run has {len(chosen)} curves (message sizes {sizes}): add message_size=M")
    f = chosen[0]
    try:
        value = f.predict(wanted["transaction_size"], wanted["partitions"])
    except ValueError as exc:
        raise BadInput(f"--at: {exc}") from None
    if fmt == "json":
        click.echo(json.dumps(finite({"at": wanted, "overhead_pct": value.value, "ci_low_pct": value.low, "ci_high_pct": value.high,
                                      "family": f.family}), default=str))
        return
    click.echo(f"{value.value:.1f}% [{value.low:.1f}, {value.high:.1f}]")


def _parse_at(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in AT_KEYS:
            raise BadInput(f"--at takes transaction_size=N,partitions=P (and message_size=M), not {part!r}")
        if not value.strip().isdigit() or int(value) < 1:
            raise BadInput(f"--at {key} must be a whole number of at least 1, not {value.strip()!r}")
        out[key] = int(value)
    missing = [k for k in AT_KEYS[:2] if k not in out]
    if missing:
        raise BadInput(f"--at needs {' and '.join(missing)}")
    return out


def _value(name: str, value: float) -> str:
    return f"{value:.3f}" if name == "c" else f"{value:,.1f}"
