"""The `eosbench` command: one module per verb, one place that turns errors into exit codes."""

from __future__ import annotations

import sys

import click

from bench import __version__
from bench.errors import EosbenchError


class _Group(click.Group):
    """Every failure ends as one line and SPEC's exit code; tracebacks only with --debug."""

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
        sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"eosbench: error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="eosbench")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Measure what Apache Kafka's exactly-once semantics cost, and prove what they guarantee."""
    ctx.obj = {"debug": debug}


def _register() -> None:
    from bench.cli import broker, calibrate, compare, lag, report, run, validate

    main.add_command(broker.broker)
    main.add_command(run.run)
    main.add_command(validate.validate)
    main.add_command(report.report)
    main.add_command(compare.compare)
    main.add_command(lag.lag)
    main.add_command(calibrate.calibrate)


_register()
