"""A broker session: the cluster a run (or a calibration) measures, embedded or the user's own,
with what the manifest records about it; an embedded cluster is always stopped at the end.

`run` and `calibrate` share it, so both start, reach, describe and stop clusters the same way.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bench import environment, jvm
from bench.broker import cluster as clusters
from bench.broker import distribution
from bench.cell.resources import ResourceProbe
from bench.cell.spec import Target
from bench.client_properties import for_client
from bench.errors import EnvironmentProblem
from bench.roles import quiet_logger

EXTERNAL_NOTE = "a cluster eosbench did not start: the Kafka protocol reports no release, its request versions are in api_versions"


@contextmanager
def session(client: dict, home: Path, bootstrap_servers: str | None = None, version: str = distribution.DEFAULT_KAFKA_VERSION,
            brokers: int = 1, note: Callable[[str], None] = lambda _: None, broker_cpus: tuple[int, ...] = (),
            jmx: dict[str, str] | None = None, measure_resources: bool = True, java_roles: bool = False,
            storage: str = "disk") -> Iterator[tuple[Target, dict]]:
    """The target every cell of the session uses, and the manifest's record of its broker.

    `jmx`: broker name -> host:port of a cluster eosbench did not start (the embedded brokers'
    are known); `measure_resources`: start the resource probe (bench.cell.resources); `java_roles`:
    cells run roles of eosbench's Java module (the Kafka Streams application), built for `version`
    (a cluster eosbench did not start gets that version's clients); `storage`: where the embedded
    brokers keep their logs (bench.broker.cluster.STORAGES)."""
    cluster = probe = None
    try:
        if bootstrap_servers:
            target = _external(bootstrap_servers, client)
            record = {"external": True, "bootstrap_servers": bootstrap_servers, "version": None, "version_note": EXTERNAL_NOTE}
            managed = clusters.load_state()  # `eosbench broker up`'s cluster: its JMX and processes are known
            if managed and managed.bootstrap_servers == bootstrap_servers and managed.running_nodes() and not jmx:
                probe = _embedded_probe(distribution.resolve(managed.version), target, managed, home) if measure_resources else None
            elif measure_resources:
                probe = _external_probe(target, version, jmx or {}, home, note)
        else:
            note(f"starting embedded Kafka {version} ({brokers} broker(s){', logs in memory' if storage == 'memory' else ''})")
            dist = distribution.resolve(version)
            cluster = clusters.start(dist, brokers, java=distribution.find_java(), home=home, cpus=broker_cpus, storage=storage)
            target = Target(cluster.bootstrap_servers, client, cluster.replication_factor, cluster.min_insync_replicas, cluster=cluster)
            record = {"external": False, **cluster.describe()}
            probe = _embedded_probe(dist, target, cluster, home) if measure_resources else None
        target = replace(target, resources=probe)
        if java_roles:
            target = replace(target, java=(distribution.find_java().executable, "-Xmx1g", "-cp",
                                           jvm.classpath(distribution.resolve(version))))
        record["resources"] = _resources_record(probe)
        if probe is not None:  # transaction.version among them: which transactions protocol clients may speak
            try:
                record["features"] = probe.features()
            except EnvironmentProblem as exc:
                record["features"] = {"error": str(exc)}
        record["reported_config"] = environment.broker_config(target.bootstrap_servers, client)
        record["api_versions"] = environment.broker_api_versions(target.bootstrap_servers, client)
        yield target, record
    finally:
        if probe:
            probe.close()
        if cluster:
            clusters.stop(cluster)


def _embedded_probe(dist: distribution.Distribution, target: Target, cluster: clusters.Cluster, home: Path) -> ResourceProbe:
    """The probe of a cluster eosbench runs: CPU from each node's process, requests from its JMX."""
    return ResourceProbe(dist, target.admin_config, {str(n.node_id): n.jmx_address for n in cluster.nodes if n.jmx_port},
                         {str(n.node_id): (lambda n=n: n.pid if n.is_running() else None) for n in cluster.nodes},
                         home / "resource-probe.log").start()


def _external_probe(target: Target, version: str, jmx: dict[str, str], home: Path, note: Callable[[str], None]
                    ) -> ResourceProbe | None:
    """The probe for a cluster eosbench did not start; without Java or Maven, its log bytes and
    request counts are not measured (said once), unless JMX was asked for: then that is an error.
    A JMX address that does not answer is an error (exit 3), not a silent "not measured"."""
    try:
        probe = ResourceProbe(distribution.resolve(version), target.admin_config, jmx, {}, home / "resource-probe.log").start()
    except EnvironmentProblem as exc:
        if jmx:
            raise
        note(f"broker costs not measured: {exc}")
        return None
    for name, answer in probe.sample([]).jmx.items():
        if "error" in answer:
            probe.close()
            raise EnvironmentProblem(f"JMX at {jmx[name]} (--jmx) does not answer: {answer['error'][:200]}")
    return probe


def _resources_record(probe: ResourceProbe | None) -> dict:
    """What the manifest says about where broker costs come from."""
    if probe is None:
        return {"measured": False}
    return {"measured": True, "cpu": "proc" if probe.pids else ("jmx" if probe.jmx else "not measured"),
            "requests": "jmx" if probe.jmx else "not measured", "log_bytes": "DescribeLogDirs",
            "jmx": sorted(probe.jmx.values())}


def _external(bootstrap: str, client: dict) -> Target:
    admin = AdminClient({**for_client(client, "admin"), "bootstrap.servers": bootstrap}, logger=quiet_logger())
    try:
        count = len(admin.list_topics(timeout=10).brokers)
    except KafkaException as exc:
        raise EnvironmentProblem(f"cannot reach Kafka at {bootstrap}: {exc.args[0].str()}") from None
    rf, isr = clusters.replication(count)
    return Target(bootstrap, client, rf, isr)
