"""The front door says what the project does: README's test command is the one CI runs, its
profile table lists every shipped profile, every eosbench command it shows runs (or, for those that
start a broker or measure, parses and loads its profile), and every page and file it links to exists."""

import re
import shlex

import click
from click.testing import CliRunner
import pytest

from bench import profile as profiles
from bench.errors import BadInput
from bench.cli import EXIT_CODES, VERBS, main as cli
from tests.conftest import REPO, eosbench

README = (REPO / "README.md").read_text()


def test_ci_runs_exactly_the_readmes_test_command():
    ci = [ln for ln in (REPO / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith(("#", "set ", "cd "))]
    assert len(ci) == 1
    assert f"```bash\n{ci[0]}\n```" in README


def test_the_first_command_installs_and_runs_the_quick_profile():
    first = re.search(r"```bash\n(.+)\n```", README).group(1)
    assert "pip install" in first and first.endswith("eosbench run quick")


def test_the_profile_table_lists_every_shipped_profile_and_no_other():
    section = README.split("## Shipped profiles", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.M)
    assert sorted(listed) == sorted(p.stem for p in (REPO / "bench" / "profiles").glob("*.yaml"))


def test_every_link_points_at_a_file_in_the_repository():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        assert (REPO / target).exists(), target


def readme_commands(text: str) -> list[list[str]]:
    """Every `eosbench ...` command README shows: in bash blocks (also after `&&`) and in code spans."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for part in re.split(r"&&|\n", block):
            words = shlex.split(part)
            if words and (words[0] == "eosbench" or words[0].endswith("/bin/eosbench")):
                found.append(words[1:])
    found += [shlex.split(span)[1:] for span in re.findall(r"`(eosbench [^`]+)`", text)]
    examples = [args for args in found if not any(re.fullmatch(r"[A-Z]{2,}|\.\.\.", word) for word in args)]  # not a template (`run PROFILE`)
    return [list(args) for args in dict.fromkeys(map(tuple, examples))]


# Commands that read committed runs only: README's example is run as it stands, with its exit code
# (compare's example shows a regression). The others start a broker or measure, or (report) are run
# on the same committed run by test_unchanged_outputs: they are parsed by the real command line (an
# unknown verb, option or value is refused there) and their profile loaded.
RUNS_OFFLINE = {"model": 0, "compare": 1, "lag": 0, "capacity": 0, "validate": 0, "profiles": 0}


def parse(command: click.Command, args: list[str], parent: click.Context | None = None, name: str = "eosbench") -> click.Context:
    """What click makes of `args`, down to the verb, without running it."""
    ctx = command.make_context(name, list(args), parent=parent)
    if isinstance(command, click.Group):
        sub_name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        return parse(sub, rest, ctx, sub_name)
    return ctx


def check(args: list[str]) -> None:
    if args and args[0] in RUNS_OFFLINE:
        result = eosbench(*args)
        assert result.returncode == RUNS_OFFLINE[args[0]], f"eosbench {shlex.join(args)}: {result.stderr}"
        return
    ctx = parse(cli, args)
    if "profile_path" in ctx.params:
        profiles.load(ctx.params["profile_path"], list(ctx.params["overrides"]), ctx.params.get("repeat"))


@pytest.mark.parametrize("args", readme_commands(README), ids=shlex.join)
def test_every_command_readme_shows_works_as_shown(args):
    check(args)


@pytest.mark.parametrize("wrong", [["run", "quik"], ["run", "quick", "--repat", "3"], ["validate", "standard", "--set", "sweep.partitons=[4]"],
                                   ["broker", "upp"], ["lag", "example-standard", "--format", "grafana"]])
def test_a_command_readme_might_show_wrongly_fails_that_check(wrong):
    """The negative control: an unknown profile, option, key or choice does not pass."""
    with pytest.raises((click.UsageError, BadInput, AssertionError)):
        check(wrong)


def test_readme_shows_a_command_of_every_verb():
    assert {args[0] for args in readme_commands(README)} == set(VERBS)


def test_readmes_exit_codes_are_the_ones_every_help_gives():
    table = dict(re.findall(r"^\| (\d+) \| (.+) \|$", README.split("## Exit codes", 1)[1], flags=re.M))
    assert {int(code): meaning for code, meaning in table.items()} == EXIT_CODES


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verbs_help_ends_with_an_example_that_works_and_the_exit_codes(verb):
    shown = CliRunner().invoke(cli, [verb, "--help"]).output
    example = VERBS[verb][2]
    assert re.search(rf"Example:\n +{re.escape(example)}\n", shown), shown
    assert all(re.search(rf"\n +{code} +{re.escape(meaning)}\n", shown) for code, meaning in EXIT_CODES.items()), shown
    args = shlex.split(example)[1:]
    if args not in readme_commands(README):  # README's are checked above
        check(args)
