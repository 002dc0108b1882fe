"""`eosbench calibrate`: eosbench's producer against kafka-producer-perf-test, side by side."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from bench import calibration, environment
from bench.broker import distribution
from bench.broker.session import session
from bench.cli.tables import render
from bench.paths import state_dir
from bench.results import DEFAULT_RESULTS_DIR, RunStore


@click.command()
@click.option("--bootstrap-servers", default=None, help="Use this cluster instead of starting the embedded broker.")
@click.option("--kafka-version", default=distribution.DEFAULT_KAFKA_VERSION, show_default=True, help="Broker and perf-test version.")
@click.option("--mode", type=click.Choice(calibration.CALIBRATED_MODES), default="at_least_once", show_default=True)
@click.option("--message-size", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--records", type=click.IntRange(min=1000), default=1_000_000, show_default=True, help="Records per measurement, for both tools.")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True, help="Pairs of measurements (A B, B A, ...).")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
@click.option("--run-id", default=None)
def calibrate(bootstrap_servers, kafka_version, mode, message_size, records, repeat, results_dir, run_id) -> None:
    """Measure eosbench's producer against Kafka's own ProducerPerformance on one broker.

    Prints both throughputs and latency percentiles as each tool reports them, and the ratio
    eosbench / perf-test with a 95% interval; stores the measurements as a run.
    """
    java = distribution.find_java()
    dist = distribution.resolve(kafka_version)
    run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-calibrate-{mode}-{message_size}"
    store = RunStore.create(results_dir, run_id, {
        "kind": "calibration", "status": "running", "started": time.time(), "ended": None, "plan": [],
        "profile": {"description": f"calibration of {mode} at {message_size} B", "mode": mode, "message_size": message_size,
                    "records": records, "repeat": repeat, "baseline": None, "kafka": {"version": kafka_version}},
        "environment": environment.capture(),
    })
    status = "failed"
    try:
        with session({}, state_dir() / "runs" / run_id, bootstrap_servers, kafka_version, note=lambda text: click.echo(text, err=True)) as (target, broker):
            store.update_manifest(broker=broker)
            result = calibration.run(target.bootstrap_servers, dist, java, mode, message_size, records, repeat,
                                     on_measurement=lambda m: click.echo(f"  r{m.repetition} {m.tool:9s} {m.throughput_msgs:>12,.0f} msg/s", err=True))
        status = "complete"
    finally:
        store.update_manifest(status=status, ended=time.time())
    frame = pd.DataFrame(calibration.as_rows(result))
    store.write_table("calibration", frame)
    rows = [[str(m.repetition), m.tool, f"{m.throughput_msgs:,.0f}", f"{m.throughput_mb:,.1f}", f"{m.p50_ms:g}", f"{m.p99_ms:g}", f"{m.p999_ms:g}"]
            for m in result.measurements]
    click.echo(f"mode {mode}, {message_size} B records, {records:,} records per measurement, Kafka {dist.version}")
    click.echo(render(["rep", "tool", "msg/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms"], rows, right={2, 3, 4, 5, 6}))
    ratio, low, high = result.ratio()
    interval = f" [{low:.2f}, {high:.2f}]" if low == low else ""
    click.echo(f"throughput ratio eosbench / perf-test: {ratio:.2f}{interval} (geometric mean of paired ratios, 95% paired t interval)")
    click.echo("latencies as each tool reports them: perf-test from send() to its callback in whole ms; eosbench librdkafka's produce-to-ack time")
    click.echo(f"results: {store.directory}")
