"""eosbench's Java code (the Maven module in bench/jvm/), built against one Kafka version and cached.

The module's source is committed, never a binary: the first run that needs it compiles it with
Maven against `org.apache.kafka:kafka-clients` and `kafka-streams` of the wanted version from Maven
Central, into `~/.cache/eosbench/jvm/<kafka version>/<source digest>/` (the jar, and in `lib/` what
the broker's distribution lacks: Kafka Streams and RocksDB), and runs it with that version's own
jars (the resolved Kafka distribution) on the classpath. A change to the source gets a new digest
and so a new build; two versions never share a jar. Once built, nothing is fetched again.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from bench.errors import BadInput, EnvironmentProblem
from bench.parameters import kafka_release
from bench.paths import cache_dir

MODULE = Path(__file__).resolve().parent / "jvm"  # package data: installs with eosbench
JAR = "eosbench-jvm.jar"
LIB = "lib"
# org.apache.kafka:trogdor's newest release on Maven Central: Kafka 4.3.2 and 4.4.0 published none
# (Trogdor's API moved with them: it builds against no newer kafka-clients). For a newer Kafka the
# module is built without eosbench.TrogdorNode; no other role loads a Trogdor class.
TROGDOR_NEWEST = "4.3.1"


class KafkaJars(Protocol):
    """What the module runs against: a Kafka release's version and its jars (a resolved
    bench.broker.distribution.Distribution is one; the module needs no more of it)."""

    version: str
    classpath: str


def classpath(distribution: KafkaJars) -> str:
    """The module's jar, its own dependencies, then the distribution's jars: what `java -cp` needs."""
    built = jar(distribution.version)
    return f"{built}:{built.parent / LIB}/*:{distribution.classpath}"


def jar(kafka_version: str) -> Path:
    """The module built against `kafka_version`, built now if it is not cached yet."""
    built = cache_dir() / "jvm" / kafka_version / _digest() / JAR
    if built.exists():
        return built
    mvn = shutil.which("mvn")
    if not mvn:
        raise EnvironmentProblem("no Maven (mvn) on PATH: eosbench builds its Java module (bench/jvm/) with it; install Maven 3.8+")
    built.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=built.parent) as work:
        proc = subprocess.run(
            [mvn, "-B", "-q", "package", "dependency:copy-dependencies", f"-Dkafka.version={kafka_version}",
             *([] if has_trogdor(kafka_version) else ["-Dno.trogdor"]),
             f"-Deosbench.build.dir={work}", "-DincludeScope=runtime", f"-DoutputDirectory={Path(work, LIB)}"],
            cwd=MODULE, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            _raise_build_failure(kafka_version, proc.stdout + proc.stderr)
        lib = built.parent / LIB
        if not lib.exists():
            Path(work, LIB).rename(lib)
        Path(work, JAR).replace(built)  # the jar last, atomically: its presence says the build is whole
    return built


def has_trogdor(kafka_version: str) -> bool:
    """Whether Kafka `kafka_version` has a Trogdor release to run and build against."""
    return kafka_release(kafka_version) <= kafka_release(TROGDOR_NEWEST)


def _raise_build_failure(kafka_version: str, output: str) -> None:
    missing = re.search(r"(?:Could not find artifact|Failure to find) (org\.apache\.kafka:kafka-[a-z]+):jar:" + re.escape(kafka_version), output)
    if missing:
        raise BadInput(f"{missing.group(1)}:{kafka_version} is not on Maven Central: eosbench's Java roles need a released Kafka version")
    lines = [ln.strip() for ln in output.splitlines() if "ERROR" in ln] or output.strip().splitlines()[-1:] or ["no output"]
    raise EnvironmentProblem(f"Maven could not build eosbench's Java module (bench/jvm/) for Kafka {kafka_version}: {lines[0][:300]}")


def _digest() -> str:
    """Of every file the build reads, so an edited source is never run from an old jar."""
    h = hashlib.sha256()
    for path in sorted([MODULE / "pom.xml", *(MODULE / "src").rglob("*")]):
        if path.is_file():
            h.update(str(path.relative_to(MODULE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]
