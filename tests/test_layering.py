"""Results and analysis never need what talks to Kafka: `report`, `compare` and `lag` work on a
machine without confluent-kafka (here: made unimportable), so a run can be read anywhere."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

RUN = str(REPO / "results" / "gate-A1")
WITHOUT_KAFKA_CLIENT = """
import sys
sys.modules["confluent_kafka"] = None  # every import of it fails, as if it were not installed
from bench.cli import main
main(sys.argv[1:])
"""


def without_kafka_client(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_KAFKA_CLIENT, *args], capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.mark.parametrize("args, exit_code", [
    (["report", RUN, "--output", "{tmp}/report.html"], 0),
    (["compare", RUN, str(REPO / "results" / "gate-quota"), "--format", "json"], 1),  # gate-quota is a planted regression
    (["lag", RUN, "--format", "json"], 0),
    (["capacity", str(REPO / "results" / "example-costs"), "--rate", "10000"], 0),
    (["--help"], 0),
], ids=["report", "compare", "lag", "capacity", "help"])
def test_reading_commands_run_without_a_kafka_client(tmp_path, args, exit_code):
    result = without_kafka_client(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == exit_code, result.stderr
    assert "ModuleNotFoundError" not in result.stderr and "ImportError" not in result.stderr


def test_the_blocked_client_really_is_blocked():
    """Negative control: what does talk to Kafka fails to import under the same block."""
    result = without_kafka_client("validate", str(REPO / "bench" / "profiles" / "quick.yaml"))
    assert result.returncode != 0 and "confluent_kafka" in result.stderr


READING_SIDE = ["bench.results", "bench.parameters", "bench.modes", "bench.cell.spec", "bench.roles.protocol",
                *sorted(f"bench.analysis.{p.stem}" for p in (REPO / "bench" / "analysis").glob("[!_]*.py")),
                *sorted(f"bench.report.{p.stem}" for p in (REPO / "bench" / "report").glob("[!_]*.py"))]
IMPORT_ALL = """
import importlib, sys
sys.modules["confluent_kafka"] = None
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def test_every_module_of_results_analysis_and_report_imports_without_a_kafka_client():
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL, *READING_SIDE], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_module_that_runs_a_cell_does_need_the_client():
    """Negative control for the test above: the same import loop fails on the executing side."""
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL, "bench.cell.phases"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode != 0 and "confluent_kafka" in result.stderr
