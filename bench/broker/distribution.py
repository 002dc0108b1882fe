"""Where the Kafka jars come from: an existing distribution, or Maven Central.

A benchmark that compares broker versions needs any version on demand, so the default is to
resolve the official `org.apache.kafka:kafka_2.13` artifacts with Maven into a per-version cache;
a user who already has a distribution points at it with --kafka-home / KAFKA_HOME instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.errors import BadInput, EnvironmentProblem
from bench.parameters import kafka_release
from bench.paths import cache_dir

DEFAULT_KAFKA_VERSION = "4.1.1"
# The oldest release the embedded broker runs: 3.9 is the first whose StorageTool formats a
# single-node KRaft quorum with --standalone (KIP-853), and the last 3.x line.
OLDEST_KAFKA = (3, 9)

# The Maven artifacts leave the logging binding out; Kafka logs through log4j2 (3.9's own reload4j
# binding, an slf4j 1.7 one, is ignored by slf4j 2). Maven's nearest-wins would also pick a
# transitive slf4j-api 1.7, which cannot see an slf4j2 binding, so the API is pinned to the 2.x
# line that Kafka's own distribution ships.
LOG4J2_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.17"
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[.-][0-9A-Za-z.-]+)?$")
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eosbench</groupId><artifactId>kafka-distribution</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>{log4j}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class Java:
    """The JVM that runs the broker."""

    executable: str
    major: int


@dataclass(frozen=True)
class Distribution:
    """A set of Kafka jars of one version, and where they came from (maven or a KAFKA_HOME)."""

    version: str
    libs: Path
    source: str

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


# Where JDKs are installed beside the default one (Debian's and most distributions' system JVM
# folder, then the usual manual places); EOSBENCH_JVM_DIRS (colon-separated) replaces the list.
JVM_DIRS = ("/usr/lib/jvm", "/usr/java", "/opt/java", "/opt/jdk")


def find_java(minimum: int = 17, purpose: str = "Kafka") -> Java:
    """The java on JAVA_HOME or PATH, refused unless it is at least `minimum` (Kafka 4 needs 17)."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not candidate:
        raise EnvironmentProblem(f"no java found on PATH or JAVA_HOME: install Java {minimum}+ (e.g. apt-get install openjdk-17-jre-headless)")
    major = java_major(candidate)
    if major is None:
        raise EnvironmentProblem(f"could not read the Java version from '{candidate} -version'")
    if major < minimum:
        raise EnvironmentProblem(f"{candidate} is Java {major}; {purpose} needs Java {minimum}+: set JAVA_HOME to a newer JDK")
    return Java(candidate, major)


def find_jdk(minimum: int, purpose: str) -> Java:
    """A Java of at least `minimum`: JAVA_HOME's or PATH's when new enough, else the newest JDK
    installed in a JVM folder (JVM_DIRS), which need not be on PATH: a machine keeps Java 17 as
    its default for Kafka and a newer JDK beside it for software that needs one."""
    try:
        return find_java(minimum, purpose)
    except EnvironmentProblem:
        pass
    dirs = os.environ.get("EOSBENCH_JVM_DIRS")
    found = []
    for folder in (dirs.split(":") if dirs is not None else JVM_DIRS):
        for java in sorted(Path(folder).glob("*/bin/java")) if folder else []:
            major = java_major(str(java))
            if major is not None and major >= minimum:
                found.append(Java(str(java), major))
    if not found:
        where = ", ".join(d for d in (dirs.split(":") if dirs is not None else JVM_DIRS) if d) or "no folder"
        raise EnvironmentProblem(f"{purpose} needs Java {minimum}+ and none was found (JAVA_HOME, PATH, {where}): "
                                 f"install one (e.g. apt-get install openjdk-{minimum}-jre-headless) or set JAVA_HOME to it")
    return max(found, key=lambda j: j.major)


def java_major(executable: str) -> int | None:
    """The major version `executable -version` reports (8 for "1.8.0"); None when it says none."""
    try:
        out = subprocess.run([executable, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def resolve(version: str | None = None, kafka_home: str | Path | None = None) -> Distribution:
    """The distribution to run: --kafka-home / KAFKA_HOME if given, else the cached Maven download."""
    kafka_home = kafka_home or os.environ.get("KAFKA_HOME")
    if kafka_home:
        return _from_kafka_home(Path(kafka_home), version)
    return _from_maven(version or DEFAULT_KAFKA_VERSION)


def check_supported(version: str) -> None:
    """Refuse a release older than the embedded broker runs, with the line that says which it runs."""
    if kafka_release(version)[:2] < OLDEST_KAFKA:
        oldest = ".".join(map(str, OLDEST_KAFKA))
        raise BadInput(f"Kafka {version} is not supported: the embedded broker runs Kafka {oldest} or later (KRaft with a "
                       f"--standalone quorum, KIP-853); run older clusters yourself and give --bootstrap-servers")


def _from_kafka_home(home: Path, wanted: str | None) -> Distribution:
    jars = sorted((home / "libs").glob("kafka_2.1[23]-*.jar"))
    jars = [j for j in jars if not re.search(r"-(test|sources|javadoc)\.jar$", j.name)]
    if not jars:
        raise BadInput(f"KAFKA_HOME {home} is not a Kafka distribution: no libs/kafka_2.13-*.jar in it")
    version = re.sub(r"^kafka_2\.1[23]-|\.jar$", "", jars[0].name)
    if wanted and wanted != version:
        raise BadInput(f"KAFKA_HOME {home} holds Kafka {version}, not the requested {wanted}: drop --kafka-version or point elsewhere")
    return Distribution(version, home / "libs", str(home))


def _from_maven(version: str) -> Distribution:
    if not _VERSION_RE.match(version):
        raise BadInput(f"'{version}' is not a Kafka version (expected e.g. {DEFAULT_KAFKA_VERSION})")
    check_supported(version)
    libs = cache_dir() / "kafka" / version / "libs"
    if not (libs / ".complete").exists():
        copy_dependencies(_POM.format(v=version, log4j=LOG4J2_VERSION, slf4j=SLF4J_VERSION), libs,
                          "no Maven (mvn) on PATH and no KAFKA_HOME: install Maven or point --kafka-home at a Kafka distribution",
                          lambda output: _raise_maven_failure(version, output))
        return Distribution(version, libs, "maven")
    return Distribution(version, libs, "maven (cached)")


def copy_dependencies(pom: str, libs: Path, no_maven: str, failed: Callable[[str], None]) -> None:
    """Resolve `pom`'s runtime dependencies with Maven into `libs`, atomically (a `.complete`
    marker last); `failed(output)` raises when Maven fails, `no_maven` is the line without Maven."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise EnvironmentProblem(no_maven)
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=libs.parent) as work:
        (Path(work) / "pom.xml").write_text(pom)
        out_dir = Path(work) / "libs"
        proc = subprocess.run(
            [mvn, "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out_dir}"],
            cwd=work, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            failed(proc.stdout + proc.stderr)
        (out_dir / ".complete").write_text("\n")
        if not (libs / ".complete").exists():  # another process may have finished first; theirs is as good as ours
            shutil.rmtree(libs, ignore_errors=True)
            out_dir.rename(libs)


def _raise_maven_failure(version: str, output: str) -> None:
    artifact = rf"org\.apache\.kafka:kafka_2\.13:jar:{re.escape(version)}"
    if re.search(rf"(Could not find artifact|Failure to find) {artifact}|{artifact} was not found", output):
        raise BadInput(f"Kafka {version} does not exist on Maven Central (org.apache.kafka:kafka_2.13:{version}): pick a released version")
    lines = [ln.strip() for ln in output.splitlines() if "ERROR" in ln] or output.strip().splitlines()[-1:] or ["no output"]
    raise EnvironmentProblem(f"Maven could not resolve Kafka {version}: {lines[0][:300]}")
