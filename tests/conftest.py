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
    """Run the real command line, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )
