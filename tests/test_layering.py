"""Results and analysis never need what talks to Kafka: `report`, `compare` and `lag` work on a
machine without confluent-kafka (here: made unimportable), so a run can be read anywhere."""

import ast
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


# The layers of bench/, top to bottom: a module imports only from layers below its own (or from
# its own package). Units of one layer do not import each other.
LAYERS = [
    ["bench.__main__"],                                                 # python -m bench
    ["bench.cli"],                                                      # the command line, one module per verb
    ["bench.runner", "bench.calibration"],                              # a run; a calibration
    ["bench.brokers", "bench.estimate", "bench.report"],                 # the broker a run measures; its expected time; reports
    ["bench.analysis", "bench.capacity"],                               # what the results say; a capacity search over cells
    ["bench.results"],                                                  # the run directory: the wire and disk format
    ["bench.sweep"],                                                    # a profile planned into cells
    ["bench.profile", "bench.cell"],                                    # a validated profile; one cell, measured
    ["bench.registry", "bench.trogdor", "bench.environment", "bench.warmup", "bench.placement"],  # what a cell uses
    ["bench.broker", "bench.jvm", "bench.roles"],                       # Kafka itself, the Java module, the client roles
    ["bench.fault_kinds"],                                              # each kind of fault, declared once
    ["bench.parameters"],                                               # each workload parameter, declared once
    ["bench.modes", "bench.schemas"],                                   # the delivery modes; the Avro schemas
    ["bench.metrics", "bench.client_properties", "bench.formatting"],   # record layout and histograms; client settings
    ["bench.errors", "bench.paths", "bench.site", "bench"],             # the errors a command ends with; where state lives; the shape of a service
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    """A module's unit: its top-level module or package under bench."""
    return ".".join(module.split(".")[:2])


def _imports(module: str, source: str) -> set[str]:
    """The bench modules `source` imports, type-only imports included (they are a dependency too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bench" and not node.level:
            found |= {f"bench.{a.name}" for a in node.names} if node.module == "bench" else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "bench"}
    return found


def upward_imports(sources: dict[str, str]) -> list[str]:
    """Every import of one unit from another of the same or a higher layer: 'importer -> imported'."""
    wrong = []
    for module, source in sources.items():
        unit = _unit(module)
        for imported in sorted(_imports(module, source)):
            target = _unit(imported) if _unit(imported) in RANK else "bench"  # `from bench import __version__`
            if target != unit and RANK[target] <= RANK[unit]:
                wrong.append(f"{module} -> {imported}")
    return wrong


def _sources() -> dict[str, str]:
    modules = {}
    for path in sorted((REPO / "bench").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
    return modules


def test_every_unit_of_bench_has_a_layer():
    assert {_unit(module) for module in _sources()} <= set(RANK)


def test_imports_point_down_only():
    assert upward_imports(_sources()) == []


@pytest.mark.parametrize("importer, planted", [
    ("bench.broker.cluster", "from bench.cell.spec import Target"),         # Kafka's cluster reaching up to a cell
    ("bench.cell.phases", "from bench.runner import execute"),              # a cell reaching up to the run
    ("bench.profile", "from bench.cell import spec"),                        # a sibling of its own layer
])
def test_a_planted_upward_import_is_caught(importer, planted):
    """Negative control: the same check fails once one wrong import is added to a real module."""
    sources = _sources()
    sources[importer] = planted + "\n" + sources[importer]
    assert upward_imports(sources) == [f"{importer} -> {planted.split()[1]}"]
