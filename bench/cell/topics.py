"""A cell's topics: created (leaders awaited) before its roles start, deleted after."""

from __future__ import annotations

import time

from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from bench.cell.spec import CellSpec, Target
from bench.roles.launcher import CellFailed


def create(admin: AdminClient, spec: CellSpec, target: Target, topics: list[str]) -> None:
    rf = spec.replication_factor or target.replication_factor
    # The cluster's own min.insync.replicas applies (it is what a deployment runs with); only a
    # replication factor below it, asked for by the cell, needs a topic-level setting to be writable.
    config = {"min.insync.replicas": str(rf)} if spec.replication_factor and rf < target.min_insync_replicas else {}
    futures = admin.create_topics([NewTopic(t, spec.partitions, rf, config=config) for t in topics])
    try:
        for f in futures.values():
            f.result(30)
    except Exception as exc:
        raise CellFailed(f"could not create topics: {exc}") from exc
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = admin.describe_topics(TopicCollection(topics))
        try:
            if all(p.leader is not None for f in described.values() for p in f.result(10).partitions):
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise CellFailed("topic partitions had no leader within 30s")


def delete(admin: AdminClient, topics: list[str]) -> None:
    try:
        for f in admin.delete_topics(topics).values():
            f.result(30)
    except Exception:
        pass  # topics that were never created, or a broker gone: nothing to clean
