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
    "broker": ("bench.cli.broker", "Run a real Apache Kafka cluster (KRaft) on 127.0.0.1."),
    "registry": ("bench.cli.registry", "Run the embedded schema registry (Apicurio Registry) on 127.0.0.1."),
    "run": ("bench.cli.run", "Run PROFILE's cells and print what each mode costs."),
    "trogdor": ("bench.cli.trogdor", "Run an embedded Trogdor coordinator and agents on 127.0.0.1."),
    "profiles": ("bench.cli.profiles", "List the shipped profiles: what each asks, and how long it measures."),
    "validate": ("bench.cli.validate", "Validate PROFILE and list its cells, running nothing."),
    "report": ("bench.cli.report", "Build the offline HTML report of a run."),
    "compare": ("bench.cli.compare", "Compare runs cell by cell; exit 1 when the gate fails."),
    "capacity": ("bench.cli.capacity", "What a target load would cost the cluster per mode, from a run's costs."),
    "lag": ("bench.cli.lag", "Recommend consumer-lag alert thresholds from a run."),
    "model": ("bench.cli.model", "Fit what exactly-once costs across a run's sweep: the curve, its 30% and 10% crossings."),
    "calibrate": ("bench.cli.calibrate", "Measure eosbench's producer against Kafka's ProducerPerformance."),
}


class _Group(click.Group):
    """Every failure ends as one line and the exit code the README lists; tracebacks only with --debug.
    Verbs load on demand (VERBS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS:
            return None
        return getattr(importlib.import_module(VERBS[name][0]), name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, VERBS[name][1]) for name in self.list_commands(ctx)])

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="eosbench")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Measure what Apache Kafka's exactly-once semantics cost, and prove what they guarantee."""
    ctx.obj = {"debug": debug}

