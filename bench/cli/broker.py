"""`eosbench broker up | status | down | logs`: the embedded Apache Kafka cluster."""

from __future__ import annotations

import subprocess
import sys
import time

import click

from bench.broker import cluster as clusters
from bench.broker import distribution
from bench.errors import EnvironmentProblem


@click.group()
def broker() -> None:
    """Run a real Apache Kafka cluster (KRaft) on 127.0.0.1."""


@broker.command()
@click.option("--kafka-version", default=None, help=f"Kafka release from Maven Central, {'.'.join(map(str, distribution.OLDEST_KAFKA))} or later [default: {distribution.DEFAULT_KAFKA_VERSION}].")
@click.option("--brokers", type=int, default=1, show_default=True, help="1, or 3 (replication factor 3, min.insync.replicas=2).")
@click.option("--kafka-home", type=click.Path(), envvar="KAFKA_HOME", default=None, help="Use this Kafka distribution instead of Maven.")
@click.option("--timeout", "timeout_s", type=float, default=clusters.READY_TIMEOUT_S, show_default=True, help="Seconds to wait until usable.")
@click.option("--storage", type=click.Choice(clusters.STORAGES), default="disk", show_default=True,
              help="Where the brokers keep their logs: disk, or memory (a tmpfs at /dev/shm; the logs are RAM).")
def up(kafka_version: str | None, brokers: int, kafka_home: str | None, timeout_s: float, storage: str) -> None:
    """Start the cluster; prints its bootstrap servers once a transactional producer works."""
    running = clusters.load_state()
    if running and running.running_nodes():
        click.echo(f"already running: Kafka {running.version}, {running.size} broker(s)", err=True)
        click.echo(running.bootstrap_servers)
        return
    if running:  # stale state from a crash: clear it before starting afresh
        clusters.stop(running)
    if brokers not in clusters.SUPPORTED_SIZES:
        raise click.BadParameter(f"must be 1 or 3, not {brokers}", param_hint="--brokers")
    t0 = time.monotonic()
    java = distribution.find_java()
    dist = distribution.resolve(kafka_version, kafka_home)
    resolved = time.monotonic()
    cluster = clusters.start(dist, brokers, timeout_s, java, storage=storage)
    click.echo(
        f"Kafka {cluster.version} ({dist.source}), {cluster.size} broker(s) ready in "
        f"{time.monotonic() - t0:.1f}s (jars {resolved - t0:.1f}s)", err=True,
    )
    click.echo(cluster.bootstrap_servers)


@broker.command()
def status() -> None:
    """Report the cluster: version, brokers, ports, data directory."""
    cluster = clusters.load_state()
    if not cluster:
        click.echo("no embedded broker is running")
        return
    alive = cluster.running_nodes()
    click.echo(f"Kafka {cluster.version} ({cluster.source}), {len(alive)}/{cluster.size} broker(s) running, up {time.time() - cluster.started_at:.0f}s")
    click.echo(f"bootstrap servers: {cluster.bootstrap_servers}")
    for node in cluster.nodes:
        state = "running" if node.is_running() else "stopped"
        click.echo(f"  node {node.node_id}: pid {node.pid} port {node.port} controller {node.controller_port} {state} {node.directory}"
                   + (f" (logs in memory: {node.data_dir})" if cluster.storage == "memory" else ""))


@broker.command()
@click.option("--keep-data", is_flag=True, help="Keep the data directory (topics, logs) for inspection.")
def down(keep_data: bool) -> None:
    """Stop the cluster gracefully and remove its data (also brokers left by a killed run)."""
    found = [c for c in [clusters.load_state(), *map(clusters.load_state, clusters.run_homes())] if c]
    if not found:
        click.echo("no embedded broker is running")
        return
    for cluster in found:
        clusters.stop(cluster, keep_data=keep_data)
        click.echo(f"stopped Kafka {cluster.version} ({cluster.size} broker(s))" + (f"; data kept in {cluster.directory}" if keep_data else ""))


@broker.command()
@click.option("-n", "--lines", type=int, default=40, show_default=True)
@click.option("--node", "node_id", type=int, default=None, help="Only this node (default: all).")
def logs(lines: int, node_id: int | None) -> None:
    """Show the tail of the broker log."""
    cluster = clusters.load_state()
    if not cluster:
        click.echo("no embedded broker is running")
        return
    for node in [cluster.node(node_id)] if node_id else cluster.nodes:
        click.echo(f"==> node {node.node_id}: {node.log_file} <==")
        if node.log_file.exists():
            click.echo("\n".join(node.log_file.read_text(errors="replace").splitlines()[-lines:]))


@broker.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name", type=click.Choice(sorted(clusters.TOOLS)))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def tool(name: str, args: tuple[str, ...]) -> None:
    """Run one of Kafka's own tools against the embedded cluster; --bootstrap-server is filled in.
    Exits with the tool's own status.

    \b
    Throttle one mode's producers (a planted slowdown for `compare`):
      eosbench broker tool kafka-configs --alter --entity-type clients \\
        --entity-name eosbench-transactional-producer --add-config producer_byte_rate=8388608
    See open transactions:  eosbench broker tool kafka-transactions list
    """
    cluster = clusters.load_state()
    if not cluster or not cluster.running_nodes():
        raise EnvironmentProblem("no embedded broker is running: start one with `eosbench broker up`")
    sys.exit(subprocess.call(clusters.tool_command(cluster, name, args)))
