"""`eosbench model RUN`: the cost curve fitted across a run's sweep, its crossings, and predictions."""

from __future__ import annotations

import json
import math
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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
def model(run: str, at: str | None, fmt: str, results_dir: Path) -> None:
    """Fit what exactly-once costs across RUN's transaction sizes and partitions.

    Prints the fitted parameters with bootstrap intervals, the residual of every measured point, the
    lack-of-fit verdict and where the overhead falls to 30% and 10%.

    \b
    Examples:
      eosbench model results/example-standard
      eosbench model example-standard --at transaction_size=5000,partitions=16
      eosbench model example-standard --format json
    """
    wanted = _parse_at(at) if at else None
    store = RunStore.open(run, results_dir)
    manifest = store.manifest()
    fitted = models.fits(summary.summary(store), manifest["profile"].get("baseline"))
    curves = [f for f in fitted if isinstance(f, models.Fit)]
    if wanted is not None:
        _predict(curves, fitted, wanted, fmt)
        return
    if fmt == "json":
        click.echo(json.dumps({"run_id": manifest["run_id"], **models.record(fitted)}, indent=2, default=str))
        return
    if not fitted:
        raise BadInput(f"run {manifest['run_id']} has no transactional or idempotent cells of topology produce in closed loop "
                       "measured against a baseline: there is no curve to fit")
    for f in fitted:
        if not isinstance(f, models.Fit):
            family, why = f
            click.echo(f"{_family(family)}: no curve: {why}")
            continue
        print_fit(f)


def print_fit(f: models.Fit) -> None:
    click.echo(f"{_family(f.family)}: {f.form}  (n records per transaction, q partitions each touched)")
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
             "-" if c.n is None else models.interval_text(c),
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


def _family(family: dict) -> str:
    shown = [f"Kafka {family['kafka_version']}" if family.get("kafka_version") else "",
             f"{family['message_size']:,} B records" if family.get("message_size") else ""]
    return ", ".join(filter(None, shown)) or "curve"


def _value(name: str, value: float) -> str:
    return f"{value:.3f}" if name == "c" else f"{value:,.1f}"
