"""`--cpus BROKER:CLIENTS` puts the embedded broker and the client roles on disjoint CPUs."""

from __future__ import annotations

import os

import pytest

from bench.errors import BadInput
from bench.placement import Placement, parse

CPUS = sorted(os.sched_getaffinity(0))


@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")
def test_broker_and_clients_get_the_cpus_named():
    first, second = CPUS[0], CPUS[1]
    assert parse(f"{first}:{second}", embedded=True) == Placement((first,), (second,))
    assert parse(f":{second}", embedded=False) == Placement((), (second,))


@pytest.mark.parametrize("text, embedded, problem", [
    ("0", True, "takes BROKER:CLIENTS"),
    ("0:0", True, "must not overlap"),
    ("0:", True, "name the clients' CPUs"),
    (":0", True, "name the embedded broker's CPUs"),
    ("0:1", False, "cannot place a broker it did not start"),
    ("0:x", True, "'x' is not a CPU list"),
    ("0:4096", True, "CPU 4096 is not available"),
])
def test_an_impossible_placement_is_refused_in_one_line(text, embedded, problem):
    with pytest.raises(BadInput, match=problem):
        parse(text, embedded)


@pytest.mark.broker
@pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")
def test_the_embedded_brokers_jvm_runs_on_its_cpus_only(tmp_path, monkeypatch):
    from bench.broker import cluster as clusters
    from bench.broker import distribution

    monkeypatch.setenv("EOSBENCH_STATE_DIR", str(tmp_path))
    cluster = clusters.start(distribution.resolve(), cpus=(CPUS[0],))
    try:
        assert os.sched_getaffinity(cluster.nodes[0].pid) == {CPUS[0]}
        threads = os.listdir(f"/proc/{cluster.nodes[0].pid}/task")
        assert all(os.sched_getaffinity(int(t)) == {CPUS[0]} for t in threads), "every JVM thread, not only the first"
    finally:
        clusters.stop(cluster)
