"""The brokers a run (or a calibration) measures, as services of the site (bench.site): the cluster,
embedded or the user's own, its resource probe, and eosbench's Java module for its Kafka version.

`run` and `calibrate` share them, so both check, start, describe and stop clusters the same way;
`session` is the three on a site of their own, for a caller that measures one cluster.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bench import environment, jvm, site
from bench.broker import cluster as clusters
from bench.broker import distribution
from bench.cell.resources import ResourceProbe
from bench.cell.spec import Target
from bench.client_properties import for_client
from bench.errors import EnvironmentProblem
from bench.roles import quiet_logger

EXTERNAL_NOTE = "a cluster eosbench did not start: the Kafka protocol reports no release, its request versions are in api_versions"


@dataclass
class EmbeddedCluster:
    """Brokers eosbench formats and starts on loopback for the run, and stops after it."""

    version: str
    client: dict
    brokers: int = 1
    cpus: tuple[int, ...] = ()   # --cpus: the CPUs the brokers are pinned to
    storage: str = "disk"        # where they keep their logs (bench.broker.cluster.STORAGES)
    name = "broker"
    cluster: clusters.Cluster | None = None
    _distribution: distribution.Distribution | None = None

    def check(self) -> None:
        """A storage this machine cannot give, a release Maven does not serve, no Java: refused now."""
        clusters.check_storage(self.storage)
        self._distribution = distribution.resolve(self.version)
        distribution.find_java()

    def start(self, home: Path, note: site.Note) -> None:
        note(f"starting embedded Kafka {self.version} ({self.brokers} broker(s){', logs in memory' if self.storage == 'memory' else ''})")
        self.cluster = clusters.start(self._distribution or distribution.resolve(self.version), self.brokers,
                                      java=distribution.find_java(), home=home, cpus=self.cpus, storage=self.storage)

    def target(self) -> Target:
        c = self.cluster
        return Target(c.bootstrap_servers, self.client, c.replication_factor, c.min_insync_replicas, cluster=c)

    def describe(self) -> dict:
        return {"external": False, **self.cluster.describe()}

    def stop(self) -> None:
        if self.cluster is not None:  # clusters.start stops what it started before it raises
            clusters.stop(self.cluster)


@dataclass
class ExternalCluster:
    """A cluster the user runs (--bootstrap-servers): reached at check, never started or stopped."""

    bootstrap_servers: str
    client: dict
    name = "broker"
    _target: Target | None = None

    def check(self) -> None:
        admin = AdminClient({**for_client(self.client, "admin"), "bootstrap.servers": self.bootstrap_servers}, logger=quiet_logger())
        try:
            count = len(admin.list_topics(timeout=10).brokers)
        except KafkaException as exc:
            raise EnvironmentProblem(f"cannot reach Kafka at {self.bootstrap_servers}: {exc.args[0].str()}") from None
        rf, isr = clusters.replication(count)
        self._target = Target(self.bootstrap_servers, self.client, rf, isr)

    def start(self, home: Path, note: site.Note) -> None:
        if self._target is None:
            self.check()

    def target(self) -> Target:
        return self._target

    def describe(self) -> dict:
        return {"external": True, "bootstrap_servers": self.bootstrap_servers, "version": None, "version_note": EXTERNAL_NOTE}

    def stop(self) -> None:
        pass  # the user's


Cluster = EmbeddedCluster | ExternalCluster


@dataclass
class Probe:
    """The brokers' counters (bench.cell.resources): CPU from the processes of a cluster eosbench
    runs (its own, or `eosbench broker up`'s), requests and JMX figures from the JMX it knows or is
    given. For a cluster it did not start, without Java or Maven, broker costs are not measured
    (said once), unless JMX was asked for: then that is an error, as a JMX address that does not
    answer is (exit 3), not a silent "not measured"."""

    cluster: Cluster
    version: str
    jmx: dict[str, str]  # --jmx: broker -> host:port of a cluster eosbench did not start
    name = "resources"
    probe: ResourceProbe | None = None

    def check(self) -> None:
        pass  # its Java and module are the broker's and the Java module's checks

    def start(self, home: Path, note: site.Note) -> None:
        target, log = self.cluster.target(), home / "resource-probe.log"
        managed = self._managed()
        if managed is not None:
            self.probe = ResourceProbe(distribution.resolve(managed.version), target.admin_config,
                                       {str(n.node_id): n.jmx_address for n in managed.nodes if n.jmx_port},
                                       {str(n.node_id): (lambda n=n: n.pid if n.is_running() else None) for n in managed.nodes},
                                       log).start()
            return
        try:
            self.probe = ResourceProbe(distribution.resolve(self.version), target.admin_config, self.jmx, {}, log).start()
        except EnvironmentProblem as exc:
            if self.jmx:
                raise
            note(f"broker costs not measured: {exc}")
            return
        for name, answer in self.probe.sample([]).jmx.items():
            if "error" in answer:
                raise EnvironmentProblem(f"JMX at {self.jmx[name]} (--jmx) does not answer: {answer['error'][:200]}")

    def _managed(self) -> clusters.Cluster | None:
        """The cluster whose processes and JMX eosbench knows: its own, or `eosbench broker up`'s
        when --bootstrap-servers names that one (and no --jmx overrides it)."""
        if isinstance(self.cluster, EmbeddedCluster):
            return self.cluster.cluster
        managed = clusters.load_state()
        if managed and managed.bootstrap_servers == self.cluster.bootstrap_servers and managed.running_nodes() and not self.jmx:
            return managed
        return None

    def describe(self) -> dict:
        """Where broker costs come from."""
        if self.probe is None:
            return {"measured": False}
        return {"measured": True, "cpu": "proc" if self.probe.pids else ("jmx" if self.probe.jmx else "not measured"),
                "requests": "jmx" if self.probe.jmx else "not measured", "log_bytes": "DescribeLogDirs",
                "jmx": sorted(self.probe.jmx.values())}

    def features(self) -> dict:
        """The cluster's finalized features (transaction.version among them: which transactions
        protocol clients may speak); an error in place of them when the probe cannot read them."""
        try:
            return self.probe.features()
        except EnvironmentProblem as exc:
            return {"error": str(exc)}

    def stop(self) -> None:
        if self.probe is not None:
            self.probe.close()


@dataclass
class JavaModule:
    """eosbench's Java module (bench/jvm/) built for a Kafka version, for the roles it plays (Kafka
    Streams, the Java clients); a cluster eosbench did not start gets that version's clients."""

    version: str
    name = "java_module"
    _classpath: str = ""

    def check(self) -> None:
        """Built, or found cached, before anything is written: a version Maven lacks is one line."""
        self._classpath = jvm.classpath(distribution.resolve(self.version))

    def start(self, home: Path, note: site.Note) -> None:
        if not self._classpath:
            self.check()

    def command(self) -> tuple[str, ...]:
        """`java ... -cp CLASSPATH`, what a Java role's command line begins with."""
        return distribution.find_java().executable, "-Xmx1g", "-cp", self._classpath

    def describe(self) -> dict:
        return {"kafka_version": self.version, "jar": self._classpath.split(":", 1)[0]}

    def stop(self) -> None:
        pass  # nothing runs until a cell starts a role


@dataclass
class Brokers:
    """The brokers of one Kafka version, as a run's block of cells (or a calibration) uses them."""

    cluster: Cluster
    probe: Probe | None
    java: JavaModule | None

    @property
    def services(self) -> list[site.Service]:
        return [s for s in (self.cluster, self.probe, self.java) if s is not None]

    def start(self, on: site.Site, client: dict) -> tuple[Target, dict]:
        """Start them on `on`: the target every cell uses, and the manifest's record of the broker."""
        for service in self.services:
            on.start(service)
        target = replace(self.cluster.target(), resources=self.probe.probe if self.probe else None,
                         java=self.java.command() if self.java else ())
        record = self.cluster.describe()
        record["resources"] = self.probe.describe() if self.probe else {"measured": False}
        if self.probe is not None and self.probe.probe is not None:
            record["features"] = self.probe.features()
        if self.java is not None:
            record["java_module"] = self.java.describe()
        record["reported_config"] = environment.broker_config(target.bootstrap_servers, client)
        record["api_versions"] = environment.broker_api_versions(target.bootstrap_servers, client)
        return target, record


def of(client: dict, bootstrap_servers: str | None = None, version: str = distribution.DEFAULT_KAFKA_VERSION,
       brokers: int = 1, broker_cpus: tuple[int, ...] = (), jmx: dict[str, str] | None = None,
       measure_resources: bool = True, java_roles: bool = False, storage: str = "disk") -> Brokers:
    """The services of one cluster: embedded (`version`, `brokers`, pinned to `broker_cpus`, logs on
    `storage`) unless `bootstrap_servers` names the user's; `jmx`: broker name -> host:port of a
    cluster eosbench did not start (the embedded brokers' are known); `measure_resources`: with the
    resource probe; `java_roles`: cells run roles of eosbench's Java module, built for `version`."""
    cluster: Cluster = (ExternalCluster(bootstrap_servers, client) if bootstrap_servers
                        else EmbeddedCluster(version, client, brokers, broker_cpus, storage))
    return Brokers(cluster, Probe(cluster, version, jmx or {}) if measure_resources else None,
                   JavaModule(version) if java_roles else None)


@contextmanager
def session(client: dict, home: Path, bootstrap_servers: str | None = None, version: str = distribution.DEFAULT_KAFKA_VERSION,
            brokers: int = 1, note: Callable[[str], None] = lambda _: None, broker_cpus: tuple[int, ...] = (),
            jmx: dict[str, str] | None = None, measure_resources: bool = True, java_roles: bool = False,
            storage: str = "disk") -> Iterator[tuple[Target, dict]]:
    """One cluster checked, started on a site of its own and always stopped: the target and the
    manifest's record of its broker (the arguments are `of`'s)."""
    services = of(client, bootstrap_servers, version, brokers, broker_cpus, jmx, measure_resources, java_roles, storage)
    site.check(services.services)
    with site.Site(home, note) as on:
        yield services.start(on, client)
