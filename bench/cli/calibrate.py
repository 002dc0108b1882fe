"""`eosbench calibrate`: eosbench's producer against kafka-producer-perf-test, side by side."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from bench import calibration, environment, jvm, parameters
from bench.broker import distribution
from bench.broker.session import session
from bench.cli.tables import render
from bench.metrics import PREFIX_SIZE
from bench.paths import state_dir
from bench.results import DEFAULT_RESULTS_DIR, RunStore


def _sizes(ctx, param, value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"'{value}': record sizes in bytes, separated by commas") from None
    if not sizes or any(size < PREFIX_SIZE for size in sizes) or len(set(sizes)) != len(sizes):
        raise click.BadParameter(f"'{value}': distinct sizes of at least {PREFIX_SIZE} bytes (eosbench's record prefix)")
    return sizes


@click.command()
@click.option("--bootstrap-servers", default=None, help="Use this cluster instead of starting the embedded broker.")
@click.option("--kafka-version", default=distribution.DEFAULT_KAFKA_VERSION, show_default=True, help="Broker and perf-test version.")
@click.option("--mode", type=click.Choice(calibration.CALIBRATED_MODES), default="at_least_once", show_default=True)
@click.option("--message-size", "sizes", default="1024", show_default=True, callback=_sizes,
              help="Record size in bytes, or several separated by commas (100,1024,10240): a ratio for each.")
@click.option("--driver", type=click.Choice(parameters.DRIVERS), default="librdkafka", show_default=True,
              help="eosbench's producer role on librdkafka (confluent-kafka) or on Kafka's Java client (jvm/).")
@click.option("--records", type=click.IntRange(min=1000), default=1_000_000, show_default=True, help="Records per measurement, for both tools.")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True, help="Pairs of measurements (A B, B A, ...).")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
@click.option("--run-id", default=None)
def calibrate(bootstrap_servers, kafka_version, mode, sizes, driver, records, repeat, results_dir, run_id) -> None:
    """Measure eosbench's producer against Kafka's own ProducerPerformance on one broker.

    Both get the same acks, idempotence, linger.ms, batch.size, compression, in-flight requests,
    buffer, record size, record count and transaction length (printed side by side); each size
    starts with one discarded run of each tool. Prints both throughputs and latency percentiles as
    each tool reports them, and the ratio eosbench / perf-test with a 95% interval; stores the
    measurements as a run.
    """
    java = distribution.find_java()
    dist = distribution.resolve(kafka_version)
    label = ",".join(map(str, sizes))
    run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-calibrate-{mode}-{driver}-{label.replace(',', '_')}"
    if driver == "java":
        jvm.classpath(dist)  # built (or found cached) before anything is written
    store = RunStore.create(results_dir, run_id, {
        "kind": "calibration", "status": "running", "started": time.time(), "ended": None, "plan": [],
        "profile": {"description": f"calibration of {mode} ({driver}) at {label} B", "mode": mode, "driver": driver, "message_size": sizes,
                    "records": records, "repeat": repeat, "baseline": None, "kafka": {"version": kafka_version},
                    "settings": {k: {"perf-test": a, "eosbench": b} for k, (a, b) in calibration.settings(mode, driver).items()}},
        "environment": environment.capture(),
    })
    status = "failed"
    results = []
    try:
        with session({}, state_dir() / "runs" / run_id, bootstrap_servers, kafka_version, note=lambda text: click.echo(text, err=True),
                     measure_resources=False) as (target, broker):
            store.update_manifest(broker=broker)
            for size in sizes:
                results.append(calibration.run(target.bootstrap_servers, dist, java, mode, size, records, repeat,
                                               on_measurement=lambda m, size=size: _echo(size, m), driver=driver))
                store.write_table("calibration", pd.DataFrame([row for r in results for row in calibration.as_rows(r)]))
        status = "complete"
    finally:
        store.update_manifest(status=status, ended=time.time())
    click.echo(f"mode {mode}, {records:,} records per measurement, Kafka {dist.version}; settings of both producers:")
    click.echo(render(["property", "perf-test (Java)", f"eosbench ({driver})"],
                      [[k, a, b] for k, (a, b) in calibration.settings(mode, driver).items()]))
    for result in results:
        rows = [[str(m.repetition), m.tool, f"{m.throughput_msgs:,.0f}", f"{m.throughput_mb:,.1f}", f"{m.p50_ms:g}", f"{m.p99_ms:g}", f"{m.p999_ms:g}"]
                for m in result.measurements]
        click.echo(f"\n{result.message_size} B records:")
        click.echo(render(["rep", "tool", "msg/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms"], rows, right={2, 3, 4, 5, 6}))
        ratio, low, high = result.ratio()
        interval = f" [{low:.2f}, {high:.2f}]" if low == low else " (no interval: too few pairs)"
        click.echo(f"throughput ratio eosbench / perf-test at {result.message_size} B: {ratio:.2f}{interval} "
                   "(geometric mean of paired ratios, 95% paired t interval)")
    click.echo("latencies as each tool reports them: perf-test from send() to its callback in whole ms; eosbench "
               + ("from send() to its callback in microseconds" if driver == "java" else "librdkafka's produce-to-ack time"))
    click.echo(f"results: {store.directory}")


def _echo(size: int, m: calibration.Measurement) -> None:
    what = "warm-up (discarded)" if m.repetition == 0 else f"r{m.repetition}"
    click.echo(f"  {size} B {what} {m.tool:9s} {m.throughput_msgs:>12,.0f} msg/s", err=True)
