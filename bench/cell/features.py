"""The cluster's settings a cell depends on, set before it runs: `transaction_version` (KIP-890), and
the processor group's session timeout under the consumer group protocol (KIP-848).

Transactions v2 is a cluster feature (`transaction.version`, finalized at 2 by a Kafka 4 cluster
formatted at its latest release), and a client speaks it only when the cluster has it finalized:
so the level is a property of the cluster during the cell, set through the run's resource probe
(Kafka's Admin API, as FeatureCommand does) and only on a cluster eosbench started. A cluster the
user pointed eosbench at is never changed: its levels are read and recorded in the manifest.
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from bench.cell.spec import Target
from bench.errors import CellFailed, EnvironmentProblem
from bench.parameters import TRANSACTION_VERSION


def set_transaction_version(target: Target, level: int) -> None:
    """Finalize `transaction.version` at `level` (a no-op when it already is)."""
    if target.cluster is None:
        raise CellFailed("transaction_version is set on the embedded broker only; a cluster eosbench did not start keeps its own")
    if target.resources is None:
        raise CellFailed("transaction_version needs the resource probe (bench/jvm/), which this run did not start")
    try:
        finalized = target.resources.features(TRANSACTION_VERSION, level)
    except EnvironmentProblem as exc:
        raise CellFailed(str(exc)) from None
    if finalized.get(TRANSACTION_VERSION, 0) != level:
        raise CellFailed(f"the cluster kept {TRANSACTION_VERSION}={finalized.get(TRANSACTION_VERSION, 0)}, asked for {level}")


def set_group_session_timeout(admin: AdminClient, group: str, ms: int) -> None:
    """The consumer protocol's session timeout is the group's (`consumer.session.timeout.ms`), not the
    member's: set it, as classic members set theirs, before the group's first member joins. A
    cluster whose floor (group.consumer.min.session.timeout.ms, 45 s by default) is above `ms`
    refuses, and the cell fails saying so rather than measure another timeout."""
    entry = ConfigEntry("consumer.session.timeout.ms", str(ms), incremental_operation=AlterConfigOpType.SET)
    try:
        for future in admin.incremental_alter_configs([ConfigResource(ResourceType.GROUP, group, incremental_configs=[entry])]).values():
            future.result(timeout=30)
    except KafkaException as exc:
        raise CellFailed(f"the cluster refused consumer.session.timeout.ms={ms} for group {group} "
                         f"(lower the brokers' group.consumer.min.session.timeout.ms): {exc.args[0].str()}") from None
