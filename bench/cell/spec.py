"""What a cell is and where it runs: CellSpec (one field per workload parameter), Target, CellOutcome.

Nothing here talks to Kafka: the results store and the sweep read these types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, make_dataclass
from typing import TYPE_CHECKING, Any

from bench import fault_kinds, modes, parameters, schemas
from bench.client_properties import for_client, recorded_fault
from bench.errors import BadInput
from bench.metrics import LatencySeries

if TYPE_CHECKING:  # types only: the results store and the sweep read this module without them
    from bench.broker.cluster import Cluster
    from bench.cell.resources import ResourceProbe
    from bench.registry.target import RegistryTarget
    from bench.trogdor.target import TrogdorTarget


class _CellSpecRules:
    """The rules between parameters; each parameter's own range is checked from its declaration."""

    def check(self) -> None:
        """Refuse impossible cells before anything runs."""
        mode = modes.get(self.mode)
        for p in parameters.PARAMETERS:
            value = p.to_profile(getattr(self, p.name))
            if not p.accepts(value):
                raise BadInput(f"{p.name} must be {p.check[1]}, not {value!r}")
        if self.topology not in mode.topologies:
            raise BadInput(f"mode {self.mode} does not support topology {self.topology} (it supports {', '.join(mode.topologies)})")
        if self.fan_out > 1 and self.topology != "produce":
            raise BadInput(f"fan_out (topics per event) applies to topology produce, not {self.topology}")
        if self.driver != "librdkafka" and self.topology != "produce":
            raise BadInput(f"driver {self.driver} applies to topology produce (its producers and verifying consumer), not {self.topology}")
        if self.serialization == "avro":
            if mode.streams_guarantee or self.driver != "librdkafka":
                raise BadInput(f"serialization avro is eosbench's Python roles' (confluent-kafka's Avro serializer), not "
                               f"{'Kafka Streams' if mode.streams_guarantee else 'driver ' + self.driver}: use serialization bytes there")
            if self.message_size < schemas.minimum_size():
                raise BadInput(f"message_size must be at least {schemas.minimum_size()} with serialization avro (an order "
                               f"event's fields), not {self.message_size}")
        if self.launcher == "trogdor":
            if mode.streams_guarantee or self.driver != "librdkafka":
                raise BadInput(f"launcher trogdor runs eosbench's Python roles, not "
                               f"{'Kafka Streams' if mode.streams_guarantee else 'driver ' + self.driver}: use launcher local there")
            for fault in self.faults:
                if fault_kinds.of(fault).local_only:
                    raise BadInput(f"a {fault['kind']} fault freezes a producer process of this run: use launcher local for it")
        if self.max_in_flight > 5 and mode.producer.get("enable.idempotence") == "true":
            raise BadInput(f"max_in_flight must be 1..5 with idempotence (mode {self.mode}), not {self.max_in_flight}")

    def transaction_bounds(self) -> tuple[int | None, float | None]:
        """(records, ms) at which a transaction or commit ends: one meaning in both topologies."""
        return parameters.transaction_bounds(self.transaction_size, self.transaction_ms)

    def params(self) -> dict[str, Any]:
        """What params.json records of the cell."""
        return {**asdict(self), "faults": [recorded_fault(f) for f in self.faults]}


def _field(p: parameters.Parameter):
    default = p.to_cell(p.default)
    return p.name, p.type | None if default is None else p.type, field(default=default)


CellSpec = make_dataclass(
    "CellSpec",
    [("mode", str)] + [_field(p) for p in parameters.PARAMETERS if p.name != "mode"] + [("faults", tuple, field(default=()))],
    bases=(_CellSpecRules,), frozen=True,
)
CellSpec.__doc__ = ("The parameters of a cell: everything that decides what is measured. One field per workload parameter "
                    "(bench.parameters, rate None for closed loop), plus the faults applied during the window.")
CellSpec.__module__ = __name__


@dataclass(frozen=True)
class Target:
    """Where a cell runs: the cluster and what every client gets."""

    bootstrap_servers: str
    client: dict = field(default_factory=dict)
    replication_factor: int = 1
    min_insync_replicas: int = 1
    cluster: Cluster | None = None  # the embedded cluster, for broker faults; None for a cluster we did not start
    resources: ResourceProbe | None = None  # the brokers' counters; None: broker costs not measured
    java: tuple[str, ...] = ()  # `java ... -cp CLASSPATH` for roles played by eosbench's Java module (bench/jvm/); () when none may run
    registry: RegistryTarget | None = None  # the run's schema registry; None: no cell serializes with Avro
    trogdor: TrogdorTarget | None = None  # the run's Trogdor; None: no cell has launcher trogdor

    @property
    def admin_config(self) -> dict:
        """What an admin client (or the lag sampler) takes: the properties common to every client."""
        return {**for_client(self.client, "admin"), "bootstrap.servers": self.bootstrap_servers}


@dataclass
class CellOutcome:
    """What one cell produced: metrics, histograms, lag samples, and its status."""

    spec: CellSpec
    ordinal: int
    status: str
    metrics: dict[str, Any]
    latencies: dict[str, LatencySeries]
    lag_columns: tuple
    lag_rows: list[tuple]
    client_configs: dict[str, dict]
    topics: list[str]
    measure_start_epoch_s: float
    faults: list[dict]
    client_logs: dict[str, Any] = field(default_factory=dict)  # role -> ClientLogResult
    tracebacks: dict[str, str] = field(default_factory=dict)   # role -> the traceback of its failure
