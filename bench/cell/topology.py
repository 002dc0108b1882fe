"""Which roles a cell runs, what each is called, and every client's effective configuration.

topology `produce`: producers -> `<prefix>.records` -> verifying consumer;
topology `process`: producers -> `<prefix>.input` -> processor -> `<prefix>.output` -> verifying consumer;
a lag sampler watches the verified group (and the processor's) in both. The processor is eosbench's
Python consume-transform-produce loop, or for the `streams_*` modes a Kafka Streams application.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench import fault_kinds, modes, parameters
from bench.cell.spec import CellSpec, Target
from bench.client_properties import for_client, java_connection_properties, to_java
from bench.errors import CellFailed
from bench.metrics import STATEFUL_KEYS
from bench.paths import state_dir
from bench.registry.target import COMPATIBILITY
from bench.schemas import COMPATIBLE, INCOMPATIBLE
from bench.roles.protocol import ROLES, ConsumerSpec, LagSpec, LagTarget, ProcessorSpec, ProducerSpec, Role, StreamsSpec

# The Java clients' defaults for what a cell's figures depend on, stated so the cell records them
# (they differ from librdkafka's: batch.size 16 KB, not 1 MB); a profile's `client` section overrides
# them for both drivers. delivery.timeout.ms takes librdkafka's message.timeout.ms (300 s, Java's own
# is 120 s), so the two drivers keep retrying a record for as long as each other under a fault.
JAVA_PRODUCER = {"linger.ms": "5", "batch.size": "16384", "compression.type": "none", "delivery.timeout.ms": "300000"}
JAVA_CONSUMER = {"max.poll.records": "500", "fetch.min.bytes": "1", "fetch.max.wait.ms": "500"}
STREAMS_STORE = "counts"  # the stateful topology's store (jvm/ StreamsProcessor.STORE); its changelog is a topic of the cell


@dataclass(frozen=True)
class Names:
    prefix: str
    topics: list[str]  # first: where producers write; last: what the verifying consumer reads
    groups: list[str]  # last: the verifying consumer's; first, in topology process: the processor's

    @classmethod
    def of(cls, run_tag: str, ordinal: int, topology: str, fan_out: int = 1) -> "Names":
        prefix = f"eosbench.{run_tag}.{ordinal}"
        if topology == "process":
            return cls(prefix, [f"{prefix}.input", f"{prefix}.output"], [f"{prefix}.processor", f"{prefix}.verifier"])
        if fan_out > 1:  # every topic is both written and read
            return cls(prefix, [f"{prefix}.records.{i}" for i in range(fan_out)], [f"{prefix}.verifier"])
        return cls(prefix, [f"{prefix}.records"], [f"{prefix}.verifier"])

    def written(self, topology: str) -> list[str]:
        """The topics the producers write (each event to all of them)."""
        return self.topics[:1] if topology == "process" else self.topics

    def read(self, topology: str) -> list[str]:
        """The topics the verifying consumer reads."""
        return self.topics[-1:] if topology == "process" else self.topics


    @property
    def streams_application(self) -> str:
        """The Kafka Streams application.id (also its consumer group)."""
        return f"{self.prefix}.streams"

    @property
    def streams_state_dir(self) -> Path:
        """Where the Kafka Streams application keeps its stores; removed with the cell."""
        return state_dir() / "streams" / self.prefix


@dataclass(frozen=True)
class Roles:
    """The specs of every role of one cell."""

    consumer: ConsumerSpec
    processor: ProcessorSpec | StreamsSpec | None
    producers: list[ProducerSpec]
    lag: LagSpec
    processor_role: Role | None
    producer_role: Role  # the producers' (all of one driver)
    consumer_role: Role
    internal_topics: list[str]  # created by the processor itself (a Streams changelog): measured and deleted with the cell's


def stateful(spec: CellSpec, mode: modes.Mode) -> bool:
    return bool(mode.streams_guarantee) and spec.state == "stateful"


def client_configs(spec: CellSpec, mode: modes.Mode, target: Target, names: Names) -> dict[str, dict]:
    """Every client's effective properties; what a mode depends on is set explicitly."""
    base = {**target.client, "bootstrap.servers": target.bootstrap_servers}
    producing = {**for_client(base, "producer"), "max.in.flight.requests.per.connection": str(spec.max_in_flight)}
    reading = for_client(base, "consumer")
    configs = {
        # statistics once a second: the load generator reads the brokers' quota throttle time from them
        "producer": {"statistics.interval.ms": "1000", **mode.producer_config(producing),
                     "queue.buffering.max.kbytes": str(spec.max_outstanding_kb)},
        "consumer": {**mode.consumer_config(reading), "group.id": names.groups[-1], "group.protocol": spec.group_protocol},
    }
    if mode.streams_guarantee:
        configs["streams"] = streams_config(spec, mode, target, names)
    elif spec.topology == "process":
        configs["processor_consumer"] = {
            **mode.consumer_config(reading), "group.id": names.groups[0], "group.protocol": spec.group_protocol,
            **processor_membership(spec.group_protocol, names),
        }
        configs["processor_producer"] = mode.producer_config(producing)
        if mode.transactional_processor:
            configs["processor_producer"]["transactional.id"] = f"{names.prefix}.processor"
    if spec.driver == "java":
        configs["producer"] = {**JAVA_PRODUCER, **to_java(configs["producer"], "producer")}
        configs["consumer"] = {**JAVA_CONSUMER, **to_java(configs["consumer"], "consumer")}
    for role, config in configs.items():
        # Broker quotas, request logs and metrics are keyed by client.id: one per mode and role lets an
        # operator throttle or watch exactly one of them (a profile's own client.id wins).
        config.setdefault("client.id", f"eosbench-{mode.name}-{role.replace('_', '-')}")
    if spec.serialization == "avro" and target.registry is not None:  # recorded; the roles get target.registry.config
        configs["schema_registry"] = {**target.registry.describe(), "subject.name.strategy": "TopicNameStrategy",
                                      "auto.register.schemas": "true", "compatibility": COMPATIBILITY}
    return configs


# How long a killed processor's partitions stay with it, under either group protocol: classic reads it
# from the member (session.timeout.ms), the consumer protocol from the group's config, which a cell
# sets (bench.cell.phases) and an embedded broker allows (its floor lowered, bench.broker.cluster).
PROCESSOR_SESSION_TIMEOUT_MS = 10_000


def processor_membership(group_protocol: str, names: Names) -> dict[str, str]:
    """The processor's group membership. Classic: static (group.instance.id), so a restarted
    processor takes its partitions over at once. Consumer protocol: dynamic, because a static member
    restarted before its predecessor's session ends is refused, and librdkafka makes that fatal
    ("ConsumerGroupHeartbeat fatal error: The instance ID is still used by another member",
    librdkafka 2.16.0 against Kafka 4.1.1); the new member gets the partitions when the old
    member's session ends. librdkafka refuses session.timeout.ms under that protocol."""
    if group_protocol == "consumer":
        return {}
    return {"group.instance.id": f"{names.prefix}.processor", "session.timeout.ms": str(PROCESSOR_SESSION_TIMEOUT_MS)}


def successor(processor: ProcessorSpec) -> ProcessorSpec:
    """The processor with an identity of its own (a processor_zombie's successor): another
    transactional.id, so init_transactions fences nothing, and under classic another static member,
    so the frozen one keeps its partitions until its session ends. Only the group can then tell
    the frozen processor's transaction from the successor's."""
    def renamed(config: dict, key: str) -> dict:
        return {**config, key: f"{config[key]}.successor"} if key in config else config
    return replace(processor, consumer_config=renamed(processor.consumer_config, "group.instance.id"),
                   producer_config=renamed(processor.producer_config, "transactional.id"))


def registry_config(spec: CellSpec, target: Target) -> dict | None:
    """The schema registry client's configuration for the roles of an Avro cell; None for bytes."""
    if spec.serialization != "avro":
        return None
    if target.registry is None:
        raise CellFailed("serialization avro needs a schema registry, which this run did not start or reach")
    return target.registry.config


def subjects(topics: list[str]) -> list[str]:
    """The registry subjects of a cell's topics' values (TopicNameStrategy)."""
    return [f"{topic}-value" for topic in topics]


def streams_config(spec: CellSpec, mode: modes.Mode, target: Target, names: Names) -> dict[str, str]:
    """The Kafka Streams application's Java properties: every one its guarantee depends on set
    explicitly (Streams' own defaults included), so the cell records what ran."""
    _, ms = spec.transaction_bounds()
    return {
        **java_connection_properties(target.admin_config),
        "application.id": names.streams_application,
        "client.id": f"eosbench-{mode.name}-processor",
        "processing.guarantee": mode.streams_guarantee,
        # transaction_ms is the commit interval; with only transaction_size given (which Streams cannot
        # honour: it commits on time alone), the default commit interval applies
        "commit.interval.ms": str(round(ms if ms is not None else parameters.DEFAULT_TRANSACTION_MS)),
        "num.stream.threads": str(spec.stream_threads),
        "replication.factor": str(spec.replication_factor or target.replication_factor),
        "statestore.cache.max.bytes": "0",  # every update of the stateful topology goes downstream
        "state.dir": str(names.streams_state_dir),
        "auto.offset.reset": "earliest",
        # static membership, as for the Python processor: a restarted instance takes over at once
        "consumer.group.instance.id": f"{names.prefix}.processor",
        "consumer.session.timeout.ms": str(PROCESSOR_SESSION_TIMEOUT_MS),
        "producer.acks": "all",
        "producer.max.in.flight.requests.per.connection": str(spec.max_in_flight),
        # exactly_once_v2 forces idempotence (and refuses to be told); at_least_once keeps the producer's default, said here
        **({"producer.enable.idempotence": "true"} if mode.streams_guarantee == "at_least_once" else {}),
    }


def roles(spec: CellSpec, mode: modes.Mode, target: Target, names: Names, configs: dict[str, dict], ordinal: int) -> Roles:
    size, ms = spec.transaction_bounds()
    processor = None
    keyed = stateful(spec, mode)
    registry = registry_config(spec, target)
    if mode.streams_guarantee:
        processor = StreamsSpec("processor", configs["streams"], names.topics[0], names.topics[1], keyed)
    elif spec.topology == "process":
        processor = ProcessorSpec("processor", configs["processor_consumer"], configs["processor_producer"],
                                  names.topics[0], names.topics[1], size, ms, registry=registry)
    producers = [
        ProducerSpec(
            f"producer-{i}",
            {**configs["producer"], "transactional.id": f"{names.prefix}.producer-{i}"} if mode.transactional_producer else configs["producer"],
            names.topics[0], i, ordinal, spec.message_size, spec.rate / spec.producers if spec.rate else None,
            size if mode.transactional_producer else None, ms if mode.transactional_producer else None, spec.abort_ratio,
            keys=STATEFUL_KEYS if keyed else 0, fan_out_topics=tuple(names.written(spec.topology)[1:]),
            announce_transactions=fault_kinds.any_with(spec.faults, "announces_transactions"), registry=registry,
            schema_changes=tuple((f["at_s"], COMPATIBLE if f.get("compatible", True) else INCOMPATIBLE)
                                 for f in spec.faults if f["kind"] == "schema_change"),
        )
        for i in range(spec.producers)
    ]
    read = names.read(spec.topology)
    watched = [LagTarget(names.groups[-1], topic) for topic in read]
    if spec.topology == "process":
        watched.append(LagTarget(names.streams_application if mode.streams_guarantee else names.groups[0], names.topics[0]))
    return Roles(
        consumer=ConsumerSpec("consumer", configs["consumer"], read[0], mode.commit_offsets_before_processing,
                              aggregate_keys=STATEFUL_KEYS if keyed else 0, fan_out_topics=tuple(read[1:]), registry=registry),
        processor=processor, producers=producers,
        lag=LagSpec("lag-sampler", target.admin_config, spec.partitions, watched),
        processor_role=ROLES["streams"] if mode.streams_guarantee else ROLES["processor"] if processor else None,
        producer_role=ROLES["java_producer" if spec.driver == "java" else "producer"],
        consumer_role=ROLES["java_consumer" if spec.driver == "java" else "consumer"],
        internal_topics=[f"{names.streams_application}-{STREAMS_STORE}-changelog"] if keyed else [],
    )
