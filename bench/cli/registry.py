"""`eosbench registry up | status | down`: the embedded schema registry, for manual use.

A run starts and stops its own registry; this one runs until `down`, and its URL can be given to
`eosbench run --schema-registry` or to any Confluent-compatible client.
"""

from __future__ import annotations

import time

import click

from bench.paths import state_dir
from bench.registry import embedded


@click.group()
def registry() -> None:
    """Run the embedded schema registry (Apicurio Registry) on 127.0.0.1."""


@registry.command()
@click.option("--timeout", "timeout_s", type=float, default=embedded.READY_TIMEOUT_S, show_default=True,
              help="Seconds to wait until its API answers.")
def up(timeout_s: float) -> None:
    """Start the registry; prints its Confluent-compatible URL once it answers."""
    running = embedded.load()
    if running and running.is_running():
        click.echo(f"already running: Apicurio Registry {running.version}", err=True)
        click.echo(running.url)
        return
    if running:  # stale state from a crash
        embedded.stop(running)
    started = embedded.start(state_dir(), timeout_s)
    fetched = f" (fetched and unpacked in {started.fetched_s:.1f}s)" if started.fetched_s >= 1 else ""
    click.echo(f"Apicurio Registry {started.version} (Java: {started.java}), in-memory storage, ready in {started.start_s:.1f}s"
               f"{fetched}", err=True)
    click.echo(started.url)


@registry.command()
def status() -> None:
    """Report the registry: version, URL, pid, uptime."""
    running = embedded.load()
    if not running or not running.is_running():
        click.echo("no embedded schema registry is running")
        return
    click.echo(f"Apicurio Registry {running.version}, pid {running.pid}, up {time.time() - running.started_at:.0f}s "
               f"(started in {running.start_s:.1f}s)")
    click.echo(f"url: {running.url}")
    click.echo(f"log: {running.log_file}")


@registry.command()
def down() -> None:
    """Stop the registry (also registries left by a killed run); its schemas go with it."""
    found = [r for r in [embedded.load(), *map(embedded.load, embedded.run_homes())] if r]
    if not found:
        click.echo("no embedded schema registry is running")
        return
    for running in found:
        embedded.stop(running)
        click.echo(f"stopped Apicurio Registry {running.version} (pid {running.pid})")
