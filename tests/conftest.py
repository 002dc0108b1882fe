"""Shared fixtures: one real Kafka broker for the whole test session.

Integration tests talk to a real Apache Kafka broker that the project starts itself (never a
mock). It runs under a private state directory so a developer's own `eosbench broker up` is left
alone; set EOSBENCH_BOOTSTRAP_SERVERS to test against a cluster you already run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.broker import cluster as clusters
from bench.broker import distribution

REPO = Path(__file__).resolve().parents[1]


# What a fixture starts -> the marker every test using it (directly or through another fixture)
# carries, so the markers cannot drift from what a test starts: `-m "not broker and not trogdor"`
# runs the tests that start nothing. A test that starts a service itself is marked by hand.
_STARTS = {"bootstrap_servers": "broker", "three_brokers": "broker", "trogdor": "trogdor"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in _STARTS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> str:
    external = os.environ.get("EOSBENCH_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    os.environ["EOSBENCH_STATE_DIR"] = str(tmp_path_factory.mktemp("broker-state"))
    cluster = clusters.start(distribution.resolve())
    try:
        yield cluster.bootstrap_servers
    finally:
        clusters.stop(cluster)


@pytest.fixture
def topic(bootstrap_servers: str) -> str:
    """A fresh single-partition topic, deleted afterwards."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"test-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


def eosbench(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real command line, as a user would; outside GitHub Actions unless `env` says otherwise
    (under it, compare adds annotations and a step summary that the tests of its output do not expect)."""
    outside = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=REPO,
        env={**outside, **(env or {})}, timeout=timeout,
    )


def listening_addresses(pid: int) -> set[str]:
    """The local addresses of the TCP sockets process `pid` listens on (from /proc)."""
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                found.add(fields[1].split(":")[0])
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
