"""A comparison as GitHub Actions reads it: workflow commands that annotate the run (an error per
regression and per gate failure, a warning per comparability warning), and a Markdown step summary
appended to the file GitHub names in $GITHUB_STEP_SUMMARY.

Workflow commands are lines on standard output starting with `::`; their text escapes `%`, CR and
LF, and a property (the title) also escapes `:` and `,`, so a message never ends a command early.
"""

from __future__ import annotations

import os

from bench.analysis.compare import Comparison


def active() -> bool:
    """Whether eosbench runs as a GitHub Actions step (the runner sets GITHUB_ACTIONS=true)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def annotations(result: Comparison) -> list[str]:
    """The workflow commands for `result`: errors for what fails the gate, warnings for what makes it doubtful."""
    lines = [_command("error", "eosbench gate", failure) for failure in result.failures]
    lines += [_command("error", "eosbench regression", f"{result.new_label} against {result.base_label}: {regression}")
              for regression in result.regressions]
    lines += [_command("warning", "eosbench compare", warning) for warning in result.warnings]
    return lines


def append_summary(markdown: str) -> None:
    """Append `markdown` to the step summary file, when GitHub gives one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n\n")


def _command(kind: str, title: str, message: str) -> str:
    return f"::{kind} title={_escape(title, property=True)}::{_escape(message)}"


def _escape(text: str, property: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property else text
