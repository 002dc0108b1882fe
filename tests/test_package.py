"""eosbench is a package that works outside its repository: the wheel carries the shipped profiles
and the Java module's source, installs `bench` and nothing else at top level, and a shipped
profile can be named instead of given by path."""

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from bench import jvm
from bench import profile as profiles
from bench.errors import BadInput
from tests.conftest import REPO, eosbench


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, Path]:
    """The wheel built from this checkout, installed into a fresh virtual environment outside the
    repository. Its dependencies come from the test environment's site-packages (PYTHONPATH does
    not run that environment's .pth files, so its editable `bench` is not seen): the install under
    test is the wheel's."""
    work = tmp_path_factory.mktemp("outside")
    wheels, venv = work / "wheels", work / "venv"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (wheel,) = wheels.glob("eosbench-*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    return work, env, wheel


def outside(installed, *args: str) -> subprocess.CompletedProcess:
    work, env, _ = installed
    return subprocess.run([str(work / "venv" / "bin" / args[0]), *args[1:]], capture_output=True, text=True, cwd=work, env=env, timeout=120)


def test_the_wheel_installs_bench_and_nothing_else_at_top_level(installed):
    names = zipfile.ZipFile(installed[2]).namelist()
    assert {n.split("/")[0] for n in names if not n.startswith("eosbench-")} == {"bench"}
    assert outside(installed, "python", "-c", "import benchmarks").returncode == 1


def test_the_installed_command_runs_a_shipped_profile_by_name_outside_the_repository(installed):
    listed = outside(installed, "eosbench", "profiles")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[:-1]] == [p.stem for p in profiles.shipped()]
    checked = outside(installed, "eosbench", "validate", "quick")
    assert checked.returncode == 0 and str(REPO) not in checked.stdout, checked.stdout + checked.stderr
    assert "5 cells" in checked.stdout


def test_the_installed_java_module_is_the_repositorys_source(installed):
    """The same digest means every file the Maven build reads shipped, so the installed package
    builds the same jar (cached under that digest)."""
    shown = outside(installed, "python", "-c", "from bench import jvm; print(jvm.MODULE, jvm._digest())")
    module, digest = shown.stdout.split()
    assert not module.startswith(str(REPO)) and digest == jvm._digest()


def test_a_profile_given_by_name_is_the_shipped_file():
    assert profiles.load("quick") == profiles.load(profiles.SHIPPED / "quick.yaml")


def test_a_file_of_that_name_in_the_working_directory_wins_over_the_shipped_profile(tmp_path):
    (tmp_path / "quick").write_text("description: mine\nworkload: {mode: idempotent}\n")
    result = subprocess.run([sys.executable, "-m", "bench", "validate", "quick"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "valid. mine" in result.stdout, result.stdout + result.stderr


def test_an_unknown_profile_name_is_refused_naming_the_shipped_ones():
    result = eosbench("validate", "quik")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "profile quik does not exist" in result.stderr and "quick, schema_faults" in result.stderr
    with pytest.raises(BadInput):
        profiles.locate("../bench/profiles/quick")  # a name is a name, never a path


def test_a_runs_environment_names_every_librarys_full_version():
    """A figure can move with any dependency: each is recorded as installed (major.minor.patch),
    confluent-kafka included, beside librdkafka's own version."""
    from bench import environment

    captured = environment.capture()
    assert set(captured["libraries"]) == set(environment.LIBRARIES)
    for version in [captured["confluent_kafka"], captured["librdkafka"], *captured["libraries"].values()]:
        assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version), version
