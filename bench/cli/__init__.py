"""The `eosbench` command: one module per verb, one place that turns errors into exit codes."""

from __future__ import annotations

import importlib
import sys

import click

from bench import __version__
from bench.errors import EosbenchError

# verb -> (module, one line for `eosbench --help`). Verbs are imported when they run, so
# `eosbench --help`, and every role process (spawned roles re-import this entry point), load only
# click: not confluent-kafka, pandas, scipy or plotly.
VERBS = {
    "broker": ("bench.cli.broker", "Run a real Apache Kafka cluster (KRaft) on 127.0.0.1.",
               "eosbench broker up --kafka-version 4.1.1"),
    "registry": ("bench.cli.registry", "Run the embedded schema registry (Apicurio Registry) on 127.0.0.1.",
                 "eosbench registry up"),
    "run": ("bench.cli.run", "Run PROFILE's cells and print what each mode costs.",
            "eosbench run quick --set client.linger.ms=5 --repeat 2"),
    "trogdor": ("bench.cli.trogdor", "Run an embedded Trogdor coordinator and agents on 127.0.0.1.",
                "eosbench trogdor up --agents 3"),
    "profiles": ("bench.cli.profiles", "List the shipped profiles: what each asks, and how long it measures.",
                 "eosbench profiles"),
    "validate": ("bench.cli.validate", "Validate PROFILE and list its cells, running nothing.",
                 "eosbench validate standard --set sweep.partitions=[4]"),
    "report": ("bench.cli.report", "Build the offline HTML report of a run.",
               "eosbench report example-standard --output /tmp/example-standard.html"),
    "compare": ("bench.cli.compare", "Compare runs cell by cell; exit 1 when the gate fails.",
                "eosbench compare gate-A1 gate-quota --max-regression 5"),
    "capacity": ("bench.cli.capacity", "What a target load would cost the cluster per mode, from a run's costs.",
                 "eosbench capacity example-costs --rate 50000"),
    "lag": ("bench.cli.lag", "Recommend consumer-lag alert thresholds from a run.",
            "eosbench lag example-streams --cell streams_exactly_once_v2-tms1000-stateless --exporter kminion --group orders --topic orders.out --format prometheus"),
    "model": ("bench.cli.model", "Fit what exactly-once costs across a run's sweep: the curve, its 30% and 10% crossings.",
              "eosbench model example-standard --at transaction_size=5000,partitions=16"),
    "calibrate": ("bench.cli.calibrate", "Measure eosbench's producer against Kafka's ProducerPerformance.",
                  "eosbench calibrate --mode transactional --message-size 1024"),
}

# What each exit status means, for every verb (README's table says the same).
EXIT_CODES = {
    0: "success",
    1: "the run or comparison found what it exists to find: a guarantee broken, a regression",
    2: "bad input: usage, profile, a missing or damaged run (one line naming what to fix)",
    3: "environment: no Java or Maven, a broker, registry or Trogdor unreachable or crashed",
    130: "interrupted; finished cells are kept",
}


def _epilog(example: str | None) -> str:
    """`--help`'s last lines: an example, then the exit codes (\b keeps click from rewrapping them)."""
    codes = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
    shown = f"\b\nExample:\n  {example}\n\n" if example else ""
    return f"{shown}\b\nExit codes:\n{codes}"


class _Group(click.Group):
    """Every failure ends as one line and the exit code the README lists; tracebacks only with --debug.
    Verbs load on demand (VERBS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS:
            return None
        module, _, example = VERBS[name]
        command = getattr(importlib.import_module(module), name)
        command.epilog = _epilog(example)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, VERBS[name][1]) for name in self.list_commands(ctx)])
        formatter.write_paragraph()
        formatter.write_text("'eosbench COMMAND --help' gives an example of each.")

    def main(self, args=None, prog_name=None, **extra):
        args = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            _fail(exc.format_message().replace("\n", " ") + hint, 2)
        except click.Abort:
            _fail("interrupted", 130)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except EosbenchError as exc:
            if "--debug" in args:
                raise
            _fail(str(exc), exc.exit_code)
        except OSError as exc:  # a path that cannot be written or read: the user's to fix (2), else the machine's (3)
            if "--debug" in args:
                raise
            path_problem = isinstance(exc, (FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError))
            _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), 2 if path_problem else 3)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    """One line, whatever the message quotes (a key or a path holding a newline is shown escaped)."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    click.echo(f"eosbench: error: {shown}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_epilog(None))
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="eosbench")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Measure what Apache Kafka's exactly-once semantics cost, and prove what they guarantee."""
    ctx.obj = {"debug": debug}

