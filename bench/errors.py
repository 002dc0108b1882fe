"""Errors that end a command with one line and the exit code the README lists.

Everything a user can get wrong or an environment can lack is raised as one of these, so the CLI
can print a single line and exit with the right code; anything else is a bug and keeps its
traceback (shown with --debug). A cell's own failures (CellFailed, AgentLost) are caught by the run,
which records them and goes on or stops: they never reach the user as a traceback either.
"""


class EosbenchError(Exception):
    """A failure the user can act on; the message is the whole story, on one line."""

    exit_code = 1


class BadInput(EosbenchError):
    """Usage, profile, or a run that does not exist (exit 2)."""

    exit_code = 2


class EnvironmentProblem(EosbenchError):
    """No Java or Maven, broker unreachable or crashed (exit 3)."""

    exit_code = 3


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run (exit 130): `run_dir` keeps every finished cell, for --resume."""

    def __init__(self, run_dir) -> None:
        super().__init__(str(run_dir))
        self.run_dir = run_dir


class CellFailed(Exception):
    """A role failed or hung; the message becomes the cell's status, the role's traceback (when it
    sent one) goes to the cell's directory as `<role>.traceback`."""

    def __init__(self, message: str, role: str | None = None, traceback: str | None = None):
        super().__init__(message)
        self.role, self.traceback = role, traceback


class AgentLost(CellFailed):
    """The machine a role ran on went away during a cell (a Trogdor agent, bench.trogdor): no
    figure of the cell's, and no fault of Kafka's. The run stops there and keeps the cells it
    finished; `--resume` measures this one again once the agent is back."""
