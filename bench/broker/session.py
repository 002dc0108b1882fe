"""A broker session: the cluster a run (or a calibration) measures, embedded or the user's own,
with what the manifest records about it; an embedded cluster is always stopped at the end.

`run` and `calibrate` share it, so both start, reach, describe and stop clusters the same way.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bench import environment
from bench.broker import cluster as clusters
from bench.broker import distribution
from bench.cell.spec import Target
from bench.client_properties import for_client
from bench.errors import EnvironmentProblem
from bench.roles import quiet_logger

EXTERNAL_NOTE = "a cluster eosbench did not start: the Kafka protocol reports no release, its request versions are in api_versions"


@contextmanager
def session(client: dict, home: Path, bootstrap_servers: str | None = None, version: str = distribution.DEFAULT_KAFKA_VERSION,
            brokers: int = 1, note: Callable[[str], None] = lambda _: None, broker_cpus: tuple[int, ...] = ()
            ) -> Iterator[tuple[Target, dict]]:
    """The target every cell of the session uses, and the manifest's record of its broker."""
    cluster = None
    if bootstrap_servers:
        target = _external(bootstrap_servers, client)
        record = {"external": True, "bootstrap_servers": bootstrap_servers, "version": None, "version_note": EXTERNAL_NOTE}
    else:
        note(f"starting embedded Kafka {version} ({brokers} broker(s))")
        cluster = clusters.start(distribution.resolve(version), brokers, java=distribution.find_java(), home=home, cpus=broker_cpus)
        target = Target(cluster.bootstrap_servers, client, cluster.replication_factor, cluster.min_insync_replicas, cluster=cluster)
        record = {"external": False, **cluster.describe()}
    try:
        record["reported_config"] = environment.broker_config(target.bootstrap_servers, client)
        record["api_versions"] = environment.broker_api_versions(target.bootstrap_servers, client)
        yield target, record
    finally:
        if cluster:
            clusters.stop(cluster)


def _external(bootstrap: str, client: dict) -> Target:
    admin = AdminClient({**for_client(client, "admin"), "bootstrap.servers": bootstrap}, logger=quiet_logger())
    try:
        count = len(admin.list_topics(timeout=10).brokers)
    except KafkaException as exc:
        raise EnvironmentProblem(f"cannot reach Kafka at {bootstrap}: {exc.args[0].str()}") from None
    rf, isr = clusters.replication(count)
    return Target(bootstrap, client, rf, isr)
