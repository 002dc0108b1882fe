"""What a result was measured on: host, software versions, broker, eosbench itself.

A figure without its environment cannot be compared or trusted later (an OpenMessaging
Benchmark fault we do not repeat); `compare` reads these to refuse or warn about runs whose
environments differ in what was not meant to differ.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

import confluent_kafka

import bench
from bench.client_properties import for_client
from bench.roles import ClientLog, quiet_logger


# eosbench's dependencies, as installed (a figure can move with any of them: pandas' quantiles, scipy's t).
LIBRARIES = ("confluent-kafka", "click", "pandas", "numpy", "pyarrow", "hdrhistogram", "plotly", "pyyaml", "scipy")


def capture() -> dict:
    return {
        "host": _host(),
        "python": platform.python_version(),
        "confluent_kafka": metadata.version("confluent-kafka"),  # the installed distribution's full version
        "librdkafka": confluent_kafka.libversion()[0],
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
        "eosbench": {"version": bench.__version__, **_git()},
    }


def _host() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "name": platform.node(), "cpu_model": cpu, "cores": os.cpu_count(),
        "memory_gb": round(memory / 2**30, 1), "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
    }


def _git() -> dict:
    root = Path(bench.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None}
    if commit.returncode != 0:
        return {"git_commit": None}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(dirty.stdout.strip())}


def broker_config(bootstrap_servers: str, client: dict) -> dict:
    """The non-default configuration of the first broker, as the broker reports it."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({**for_client(client, "admin"), "bootstrap.servers": bootstrap_servers}, logger=quiet_logger())
    try:
        brokers = admin.list_topics(timeout=10).brokers
        resource = ConfigResource(ConfigResource.Type.BROKER, str(min(brokers)))
        entries = admin.describe_configs([resource])[resource].result(10)
    except Exception as exc:  # an external cluster may deny DescribeConfigs: record why
        return {"error": str(exc)}
    return {k: e.value for k, e in sorted(entries.items()) if not e.is_default and not e.is_sensitive}


_API_LINE = re.compile(r"ApiKey (\w+) \(\d+\) Versions (\d+\.\.\d+)")


def broker_api_versions(bootstrap_servers: str, client: dict) -> dict[str, str]:
    """The request versions the bootstrap broker supports (its ApiVersions answer, as librdkafka
    logs it): the Kafka protocol carries no release number, but these ranges change with every
    release, so two runs whose ranges differ ran against different broker versions."""
    from confluent_kafka.admin import AdminClient

    lines = ClientLog("api-versions")
    admin = AdminClient({**for_client(client, "admin"), "bootstrap.servers": bootstrap_servers, "debug": "feature"},
                        logger=lines.logger)
    try:
        admin.list_topics(timeout=10)
    except Exception:  # unreachable: the run says so itself
        return {}
    versions: dict[str, str] = {}
    deadline = time.monotonic() + 3
    while not versions.get("Produce") and time.monotonic() < deadline:
        admin.poll(0.1)  # log lines are served by poll
        for line in lines.lines:
            if match := _API_LINE.search(line):
                versions.setdefault(match.group(1), match.group(2))
    return versions
