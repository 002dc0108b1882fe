"""`eosbench run PROFILE`: measure a profile's sweep and store it under results/<run-id>/."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from bench import profile as profiles
from bench.analysis import contrast, model, overhead, summary
from bench.analysis.launchers import trogdor_against_local
from bench.analysis.serialization import avro_against_bytes
from bench.client_properties import is_secret
from bench.errors import Interrupted
from bench.cli.tables import print_answer, print_contrasts, print_launchers, print_run_table, print_schema_layer
from bench.cell.resources import parse_jmx
from bench.placement import parse as parse_placement
from bench.results import DEFAULT_RESULTS_DIR, checked_run_id
from bench.runner import Progress, RunRequest, execute


def resume_command(args: list[str], run_id: str) -> str:
    """The command that finishes an interrupted run: the same arguments (every --set, so the profile
    matches), naming the run, with the values of secret properties left for the user to fill in."""
    kept: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--run-id":
            next(rest, None)
        elif arg != "--resume" and not arg.startswith("--run-id="):
            kept.append(_hide_secret(arg))
    return shlex.join(["eosbench", "run", *kept, "--run-id", run_id, "--resume"])


def _hide_secret(arg: str) -> str:
    """A `--set` value (KEY=VALUE or --set=KEY=VALUE) of a secret client property, as a placeholder."""
    flag, setting = ("--set=", arg[6:]) if arg.startswith("--set=") else ("", arg)
    key, sep, _ = setting.partition("=")
    return f"{flag}{key}=<secret>" if sep and is_secret(key.removeprefix("client.")) else arg


@click.command()
@click.argument("profile_path", metavar="PROFILE", type=click.Path(dir_okay=False))
@click.option("--bootstrap-servers", default=None, help="Use this cluster instead of starting the embedded broker.")
@click.option("--kafka-version", default=None, help="Embedded broker version (overrides kafka.version).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a profile value (dotted keys; bare keys mean workload/sweep).")
@click.option("--repeat", type=int, default=None, help="Repetitions of every cell (overrides repeat).")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_RESULTS_DIR, show_default=True)
@click.option("--run-id", default=None, help="Name of the run directory [default: <time>-<profile>].")
@click.option("--resume", is_flag=True, help="Run only the cells missing from --run-id.")
@click.option("--keep-topics", is_flag=True, help="Leave each cell's topics on the broker for recounting.")
@click.option("--quiet", is_flag=True, help="No progress, only the final table.")
@click.option("--cpus", default=None, metavar="BROKER:CLIENTS",
              help="Run the embedded broker and the client roles on disjoint CPUs, e.g. 0:1 or 0-1:2-3 (recorded in the manifest).")
@click.option("--jmx", default=None, metavar="HOST:PORT[,HOST:PORT...]",
              help="JMX of each broker of --bootstrap-servers: broker CPU and request counts are read from it (the embedded broker's are known).")
@click.option("--schema-registry", default=None, metavar="URL",
              help="A Confluent-compatible schema registry for serialization avro, instead of the embedded Apicurio Registry "
                   "(credentials as client properties schema.registry.*).")
@click.option("--trogdor", default=None, metavar="URL",
              help="A Trogdor coordinator (http://HOST:PORT) whose agents run the roles of cells with launcher trogdor, "
                   "instead of the embedded coordinator and agents.")
def run(profile_path, bootstrap_servers, kafka_version, overrides, repeat, results_dir, run_id, resume, keep_topics, quiet, cpus,
        jmx, schema_registry, trogdor) -> None:
    """Run PROFILE's cells and print what each mode costs.

    Exit 1 when a mode let through what it promises to prevent: duplicates, losses, aborted reads, torn
    transactions, events split across topics, wrong per-key aggregates. Commits Kafka refused
    (KAFKA REFUSED COMMITS, with their rate per 10,000 transactions) are printed, not an exit status.
    """
    placement = parse_placement(cpus, embedded=not bootstrap_servers) if cpus else None
    endpoints = parse_jmx(jmx, embedded=not bootstrap_servers) if jmx else {}
    profile = profiles.load(profile_path, list(overrides), repeat, kafka_version)
    if run_id is not None:
        checked_run_id(run_id)  # before anything starts
    request = RunRequest(profile, bootstrap_servers, results_dir, run_id, resume, keep_topics, placement, endpoints, schema_registry,
                         trogdor)
    try:
        end = execute(request, Progress(quiet))
    except Interrupted as exc:
        click.echo(f"eosbench: interrupted; the finished cells are kept in {exc.run_dir}; finish the run with: "
                   f"{resume_command(sys.argv[sys.argv.index('run') + 1:], exc.run_dir.name)}", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("eosbench: interrupted before the run directory was made: nothing was written", err=True)
        sys.exit(130)
    cells = summary.cells(end.summary)
    print_run_table(cells, overhead.overhead(end.summary, profile.baseline), profile.baseline)
    print_schema_layer(end.summary, avro_against_bytes(end.summary, profile.baseline))
    print_launchers(trogdor_against_local(end.summary))
    print_contrasts(contrast.generic(end.summary))
    print_answer(model.fits(end.summary, profile.baseline))
    click.echo(f"\nresults: {end.store.directory}")
    for line in summary.refused_commits(end.summary):
        click.echo(f"KAFKA REFUSED COMMITS: {line}", err=True)
    for line in end.broken_guarantees:
        click.echo(f"GUARANTEE BROKEN: {line}", err=True)
    if end.failed_cells:
        click.echo(f"eosbench: {len(end.failed_cells)} cell(s) failed: {', '.join(end.failed_cells)} (see their metrics.json status)", err=True)
    if end.broken_guarantees:
        sys.exit(1)
    if end.failed_cells:
        sys.exit(3)
