"""A cell's topics: created (leaders awaited) before its roles start, deleted after."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from bench.cell.spec import CellSpec, Target
from bench.errors import CellFailed


# A cluster whose broker was just restarted can take a while to answer for its controller: seen
# once in CI, "Failed while waiting for controller: Local: Timed out" right after a three-broker
# cluster came back from a killed node. Waited out, within CONTROLLER_WAIT_S, like any client would.
_CONTROLLER_BUSY = (KafkaError._TIMED_OUT, KafkaError.NOT_CONTROLLER, KafkaError.REQUEST_TIMED_OUT)
CONTROLLER_WAIT_S = 60.0


def create(admin: AdminClient, spec: CellSpec, target: Target, topics: list[str]) -> None:
    rf = spec.replication_factor or target.replication_factor
    # The cluster's own min.insync.replicas applies (it is what a deployment runs with); only a
    # replication factor below it, asked for by the cell, needs a topic-level setting to be writable.
    config = {"min.insync.replicas": str(rf)} if spec.replication_factor and rf < target.min_insync_replicas else {}
    pending, timed_out = list(topics), False
    deadline = time.monotonic() + CONTROLLER_WAIT_S
    while pending:
        futures = admin.create_topics([NewTopic(t, spec.partitions, rf, config=config) for t in pending])
        pending = []
        for topic, future in futures.items():
            try:
                future.result(30)
            except KafkaException as exc:
                code = exc.args[0].code()
                if code == KafkaError.TOPIC_ALREADY_EXISTS and timed_out:
                    continue  # created by the attempt whose answer timed out
                if code in _CONTROLLER_BUSY and time.monotonic() < deadline:
                    pending.append(topic)
                    continue
                raise CellFailed(f"could not create topics: {exc}") from exc
            except Exception as exc:
                raise CellFailed(f"could not create topics: {exc}") from exc
        if pending:
            timed_out = True
            time.sleep(1.0)
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
