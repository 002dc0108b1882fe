"""`eosbench trogdor up [--agents N] | status | down`: the embedded Trogdor, for manual use.

A run whose cells have launcher trogdor and no --trogdor starts and stops its own; this one runs
until `down`, and its URL can be given to `eosbench run --trogdor` (or to Trogdor's own client).
`up` on a running one starts again the agents that died (for `--resume` after an agent was lost).
"""

from __future__ import annotations

import time

import click

from bench.broker.distribution import DEFAULT_KAFKA_VERSION
from bench.paths import state_dir
from bench.trogdor import embedded


@click.group()
def trogdor() -> None:
    """Run an embedded Trogdor coordinator and agents on 127.0.0.1."""


@trogdor.command()
@click.option("--agents", type=int, default=embedded.DEFAULT_AGENTS, show_default=True, help="Agents to start (1 to 16).")
@click.option("--kafka-version", default=DEFAULT_KAFKA_VERSION, show_default=True, help="Whose Trogdor jars to run.")
@click.option("--timeout", "timeout_s", type=float, default=embedded.READY_TIMEOUT_S, show_default=True,
              help="Seconds to wait until the coordinator and every agent answer.")
def up(agents: int, kafka_version: str, timeout_s: float) -> None:
    """Start a coordinator and N agents; prints the coordinator's URL once all answer."""
    running = embedded.load()
    if running and running.is_running():
        revived = embedded.restart_dead_agents(running)
        click.echo(f"already running with agents {', '.join(running.agent_names())}"
                   + (f"; started again: {', '.join(revived)}" if revived else ""), err=True)
        if agents != len(running.agents):
            click.echo(f"(it has {len(running.agents)} agents, not {agents}: 'eosbench trogdor down' first to change that)", err=True)
        click.echo(running.url)
        return
    if running:  # stale state from a crash
        embedded.stop(running)
    started = embedded.start(state_dir(), agents, kafka_version, timeout_s)
    click.echo(f"Trogdor {started.version}: a coordinator and {len(started.agents)} agents ({', '.join(started.agent_names())}) "
               f"on 127.0.0.1, ready in {started.start_s:.1f}s", err=True)
    click.echo(started.url)


@trogdor.command()
def status() -> None:
    """Report the coordinator and each agent: port, pid, alive."""
    running = embedded.load()
    if not running or not running.is_running():
        click.echo("no embedded Trogdor is running")
        return
    click.echo(f"Trogdor {running.version}, coordinator {running.url} (pid {running.coordinator.pid}), "
               f"up {time.time() - running.started_at:.0f}s")
    for agent in running.agents:
        problem = running.agent_problem(agent.name)
        click.echo(f"  {agent.name}: 127.0.0.1:{agent.port}, pid {agent.pid}, {problem or 'answering'}")
    click.echo(f"logs: {running.home}/trogdor-*.log")


@trogdor.command()
def down() -> None:
    """Stop the coordinator and agents (also those left by a killed run); their tasks' processes go with them."""
    found = [t for t in [embedded.load(), *map(embedded.load, embedded.run_homes())] if t]
    if not found:
        click.echo("no embedded Trogdor is running")
        return
    for running in found:
        embedded.stop(running)
        click.echo(f"stopped Trogdor {running.version} (coordinator pid {running.coordinator.pid}, {len(running.agents)} agents)")
