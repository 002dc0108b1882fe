"""`eosbench calibrate`: eosbench's producer against kafka-producer-perf-test, side by side."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import click
import pandas as pd

from bench import calibration, environment, jvm, parameters
from bench.broker import distribution
from bench.brokers import session
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
              help="eosbench's producer role on librdkafka (confluent-kafka) or on Kafka's Java client (bench/jvm/).")
@click.option("--batch-size", type=click.IntRange(min=1, max=1 << 20), default=calibration.DEFAULT_BATCH_SIZE, show_default=True,
              help="batch.size of both producers, in bytes (Java's default; librdkafka's own is 1 MiB).")
@click.option("--records", type=click.IntRange(min=1000), default=1_000_000, show_default=True, help="Records per measurement, for both tools.")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True, help="Pairs of measurements (A B, B A, ...).")
@click.option("--kip98", is_flag=True, help="Instead of one mode: Confluent's KIP-98 comparison (a transaction every 100 ms "
              "against acks=all with 1 request in flight and acks=1 with 5), every setup by both tools.")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
@click.option("--run-id", default=None)
@click.pass_context
def calibrate(ctx, bootstrap_servers, kafka_version, mode, sizes, driver, batch_size, records, repeat, kip98, results_dir, run_id) -> None:
    """Measure eosbench's producer against Kafka's own ProducerPerformance on one broker.

    Both get the same acks, idempotence, linger.ms, batch.size, compression, in-flight requests,
    buffer, record size, record count and transaction length (printed side by side); each size
    starts with one discarded run of each tool. Prints both throughputs and latency percentiles as
    each tool reports them, and the ratio eosbench / perf-test with a 95% interval; stores the
    measurements as a run.
    """
    if kip98 and ctx.get_parameter_source("mode") is not click.core.ParameterSource.DEFAULT:
        raise click.BadParameter("--kip98 measures its own three setups: drop --mode", param_hint="--mode")
    if kip98 and len(sizes) > 1:
        raise click.BadParameter("--kip98 takes one record size", param_hint="--message-size")
    java = distribution.find_java()
    dist = distribution.resolve(kafka_version)
    if kip98:
        return _kip98(bootstrap_servers, kafka_version, dist, java, sizes[0], driver, batch_size, records, repeat, results_dir, run_id)
    label = ",".join(map(str, sizes))
    run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-calibrate-{mode}-{driver}-{label.replace(',', '_')}"
    if driver == "java":
        jvm.classpath(dist)  # built (or found cached) before anything is written
    results = []

    def measure(target, store: RunStore) -> None:
        rig = calibration.Rig(target.bootstrap_servers, dist, java, driver, batch_size)
        for size in sizes:
            results.append(calibration.run(rig, mode, size, records, repeat, on_measurement=lambda setup, m, size=size: _echo(size, m)))
            store.write_table("calibration", pd.DataFrame([row for r in results for row in calibration.as_rows(r)]))

    store = _stored(results_dir, run_id, bootstrap_servers, kafka_version, measure, {
        "description": f"calibration of {mode} ({driver}) at {label} B", "mode": mode, "driver": driver, "message_size": sizes,
        "records": records, "repeat": repeat, "baseline": None, "kafka": {"version": kafka_version},
        "settings": {k: {"perf-test": a, "eosbench": b} for k, (a, b) in calibration.settings(mode, driver, batch_size=batch_size).items()}})
    _print_calibration(mode, driver, batch_size, records, dist.version, results)
    click.echo(f"results: {store.directory}")


def _stored(results_dir: Path, run_id: str, bootstrap_servers, kafka_version: str, measure, profile: dict) -> RunStore:
    """A calibration as a run: its store, one broker session in which `measure(target, store)`
    runs, and the manifest's status and end written whatever happens."""
    store = RunStore.create(results_dir, run_id, {
        "kind": "calibration", "status": "running", "started": time.time(), "ended": None, "plan": [],
        "profile": profile, "environment": environment.capture(),
    })
    status = "failed"
    try:
        with session({}, state_dir() / "runs" / run_id, bootstrap_servers, kafka_version, note=lambda text: click.echo(text, err=True),
                     measure_resources=False) as (target, broker):
            store.update_manifest(broker=broker)
            measure(target, store)
        status = "complete"
    finally:
        store.update_manifest(status=status, ended=time.time())
    return store


def _print_calibration(mode: str, driver: str, batch_size, records: int, version: str, results: list) -> None:
    click.echo(f"mode {mode}, {records:,} records per measurement, Kafka {version}; settings of both producers:")
    click.echo(render(["property", "perf-test (Java)", f"eosbench ({driver})"],
                      [[k, a, b] for k, (a, b) in calibration.settings(mode, driver, batch_size=batch_size).items()]))
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


def _kip98(bootstrap_servers, kafka_version, dist, java, size, driver, batch_size, records, repeat, results_dir, run_id) -> None:
    """Every KIP-98 setup by both tools on one broker; each tool's transactional overhead against
    the published figures, and eosbench / perf-test per setup (whether the generator kept up)."""
    if driver == "java":
        jvm.classpath(dist)
    run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-kip98-{driver}-{size}"
    rows: list[dict] = []
    results = []

    def measured(setup: calibration.Setup, m: calibration.Measurement, store: RunStore) -> None:
        _echo(size, m, setup.name)
        if m.repetition:
            rows.append({"setup": setup.name, "mode": setup.mode, "max_in_flight": setup.max_in_flight, "message_size": size, **asdict(m)})
            store.write_table("kip98", pd.DataFrame(rows))  # rewritten after every measurement: a crash loses none

    def measure(target, store: RunStore) -> None:
        results.append(calibration.kip98(calibration.Rig(target.bootstrap_servers, dist, java, driver, batch_size), size, records, repeat,
                                         on_measurement=lambda setup, m: measured(setup, m, store)))

    store = _stored(results_dir, run_id, bootstrap_servers, kafka_version, measure, {
        "description": f"KIP-98 comparison ({driver}) at {size} B", "kip98": True, "driver": driver, "message_size": [size],
        "records": records, "repeat": repeat, "baseline": None, "kafka": {"version": kafka_version},
        "transaction_ms": calibration.KIP98_TRANSACTION_MS,
        "settings": {s.name: {k: {"perf-test": a, "eosbench": b}
                              for k, (a, b) in calibration.settings(s.mode, driver, s.max_in_flight, batch_size).items()}
                     for s in calibration.KIP98_SETUPS}})
    _print_kip98(results[0], size, driver, batch_size, records, repeat, dist.version)
    click.echo(f"results: {store.directory}")


def _print_kip98(result, size: int, driver: str, batch_size, records: int, repeat: int, version: str) -> None:
    setups = calibration.KIP98_SETUPS
    click.echo(f"KIP-98 setups at {size} B, {records:,} records per measurement, {repeat} rounds, Kafka {version}, "
               f"transactions every {calibration.KIP98_TRANSACTION_MS:g} ms; both tools: "
               + ", ".join(f"{k}={a}" for k, (a, _) in calibration.settings("at_least_once", driver, batch_size=batch_size).items()
                           if k in (*calibration.COMMON, "batch.size") and not k.startswith("max.in.flight")))
    click.echo(render(["setup", "acks", "in flight", "perf-test msg/s", f"eosbench ({driver}) msg/s", "eosbench / perf-test [95% CI]",
                       "eosbench CPU share", "eosbench busiest thread"],
                      [[s.name, calibration.settings(s.mode, driver)["acks"][0], str(s.max_in_flight),
                        f"{result.throughput(s.name, 'perf-test'):,.0f}", f"{result.throughput(s.name, 'eosbench'):,.0f}",
                        _interval(*result.ratio(s.name), "{:.2f}"),
                        f"{max(m.generator_cpu_share for m in result.measurements[s.name] if m.tool == 'eosbench'):.2f}",
                        _busiest(result.measurements[s.name])]
                       for s in setups], right={2, 3, 4, 6}))
    click.echo("\ntransactional throughput below each baseline (paired by round, 95% interval):")
    click.echo(render(["baseline", "perf-test", f"eosbench ({driver})", "published (KIP-98, 2017)"],
                      [[name, _interval(*result.overhead(name, "perf-test"), "{:+.1f}%"), _interval(*result.overhead(name, "eosbench"), "{:+.1f}%"),
                        f"{published:g}%"] for name, published in calibration.KIP98_PUBLISHED_PCT.items()]))
    bound = result.generator_bound()
    click.echo("CPU share: eosbench's producer process, all its threads; busiest thread: the one that most wanted a CPU "
               "(on one or waiting for one), as a share of the run")
    click.echo("generator-bound (a thread of eosbench's producer never waited for Kafka): " + (", ".join(bound) if bound else "none"))


def _busiest(measurements: list[calibration.Measurement]) -> str:
    """The most demanding thread over the rounds: name and share of the run it wanted a CPU."""
    ours = [m for m in measurements if m.tool == "eosbench" and m.generator_thread]
    if not ours:
        return "not measured"
    top = max(ours, key=lambda m: m.generator_thread_demand)
    return f"{top.generator_thread} {top.generator_thread_demand:.0%}"


def _interval(value: float, low: float, high: float, fmt: str) -> str:
    return fmt.format(value) + (f" [{fmt.format(low)}, {fmt.format(high)}]" if low == low else " (no interval: too few rounds)")


def _echo(size: int, m: calibration.Measurement, setup: str = "") -> None:
    what = "warm-up (discarded)" if m.repetition == 0 else f"r{m.repetition}"
    click.echo(f"  {size} B {setup + ' ' if setup else ''}{what} {m.tool:9s} {m.throughput_msgs:>12,.0f} msg/s", err=True)
