"""eosbench's Java code (the Maven module in jvm/), built against one Kafka version and cached.

The module's source is committed, never a binary: the first run that needs it compiles it with
Maven against `org.apache.kafka:kafka-clients` of the wanted version from Maven Central, into
`~/.cache/eosbench/jvm/<kafka version>/<source digest>/`, and runs it with that version's own jars
(the resolved Kafka distribution) on the classpath. A change to the source gets a new digest and
so a new build; two versions never share a jar.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.broker.distribution import Distribution
from bench.errors import EnvironmentProblem
from bench.paths import cache_dir

MODULE = Path(__file__).resolve().parent.parent / "jvm"
JAR = "eosbench-jvm.jar"


def classpath(distribution: Distribution) -> str:
    """The module's jar, then the distribution's jars: what `java -cp` needs to run its classes."""
    return f"{jar(distribution.version)}:{distribution.classpath}"


def jar(kafka_version: str) -> Path:
    """The module built against `kafka_version`, built now if it is not cached yet."""
    built = cache_dir() / "jvm" / kafka_version / _digest() / JAR
    if built.exists():
        return built
    mvn = shutil.which("mvn")
    if not mvn:
        raise EnvironmentProblem("no Maven (mvn) on PATH: eosbench builds its Java module (jvm/) with it; install Maven 3.8+")
    built.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=built.parent) as work:
        proc = subprocess.run(
            [mvn, "-B", "-q", "package", f"-Dkafka.version={kafka_version}", f"-Deosbench.build.dir={work}"],
            cwd=MODULE, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            lines = [ln.strip() for ln in output.splitlines() if "ERROR" in ln] or output.strip().splitlines()[-1:] or ["no output"]
            raise EnvironmentProblem(f"Maven could not build eosbench's Java module (jvm/) for Kafka {kafka_version}: {lines[0][:300]}")
        Path(work, JAR).replace(built)  # atomic: a concurrent build's jar is as good as this one
    return built


def _digest() -> str:
    """Of every file the build reads, so an edited source is never run from an old jar."""
    h = hashlib.sha256()
    for path in sorted([MODULE / "pom.xml", *(MODULE / "src").rglob("*")]):
        if path.is_file():
            h.update(str(path.relative_to(MODULE)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]
