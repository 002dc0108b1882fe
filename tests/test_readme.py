"""The front door says what the project does: README's test command is the one CI runs, its
profile table lists every shipped profile, and every page and file it links to exists."""

import re

from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_ci_runs_exactly_the_readmes_test_command():
    ci = [ln for ln in (REPO / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith(("#", "set ", "cd "))]
    assert len(ci) == 1
    assert f"```bash\n{ci[0]}\n```" in README


def test_the_first_command_installs_and_runs_the_quick_profile():
    first = re.search(r"```bash\n(.+)\n```", README).group(1)
    assert "pip install" in first and first.endswith("eosbench run profiles/quick.yaml")


def test_the_profile_table_lists_every_shipped_profile_and_no_other():
    section = README.split("## Shipped profiles", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.M)
    assert sorted(listed) == sorted(p.stem for p in (REPO / "profiles").glob("*.yaml"))


def test_every_link_points_at_a_file_in_the_repository():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        assert (REPO / target).exists(), target
