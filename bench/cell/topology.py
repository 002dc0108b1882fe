"""Which roles a cell runs, what each is called, and every client's effective configuration.

topology `produce`: producers -> `<prefix>.records` -> verifying consumer;
topology `process`: producers -> `<prefix>.input` -> processor -> `<prefix>.output` -> verifying consumer;
a lag sampler watches the verified group (and the processor's) in both.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import modes
from bench.cell.spec import CellSpec, Target
from bench.client_properties import for_client
from bench.roles.protocol import ConsumerSpec, LagSpec, LagTarget, ProcessorSpec, ProducerSpec


@dataclass(frozen=True)
class Names:
    prefix: str
    topics: list[str]  # first: where producers write; last: what the verifying consumer reads
    groups: list[str]  # last: the verifying consumer's; first, in topology process: the processor's

    @classmethod
    def of(cls, run_tag: str, ordinal: int, topology: str) -> "Names":
        prefix = f"eosbench.{run_tag}.{ordinal}"
        if topology == "process":
            return cls(prefix, [f"{prefix}.input", f"{prefix}.output"], [f"{prefix}.processor", f"{prefix}.verifier"])
        return cls(prefix, [f"{prefix}.records"], [f"{prefix}.verifier"])


@dataclass(frozen=True)
class Roles:
    """The specs of every role of one cell."""

    consumer: ConsumerSpec
    processor: ProcessorSpec | None
    producers: list[ProducerSpec]
    lag: LagSpec


def client_configs(spec: CellSpec, mode: modes.Mode, target: Target, names: Names) -> dict[str, dict]:
    """Every client's effective properties; what a mode depends on is set explicitly."""
    base = {**target.client, "bootstrap.servers": target.bootstrap_servers}
    producing = {**for_client(base, "producer"), "max.in.flight.requests.per.connection": str(spec.max_in_flight)}
    reading = for_client(base, "consumer")
    configs = {
        # statistics once a second: the load generator reads the brokers' quota throttle time from them
        "producer": {"statistics.interval.ms": "1000", **mode.producer_config(producing),
                     "queue.buffering.max.kbytes": str(spec.max_outstanding_kb)},
        "consumer": {**mode.consumer_config(reading), "group.id": names.groups[-1]},
    }
    if spec.topology == "process":
        configs["processor_consumer"] = {
            **mode.consumer_config(reading), "group.id": names.groups[0],
            "group.instance.id": f"{names.prefix}.processor",  # a restarted processor takes over at once
            "session.timeout.ms": "10000",
        }
        configs["processor_producer"] = mode.producer_config(producing)
        if mode.transactional_processor:
            configs["processor_producer"]["transactional.id"] = f"{names.prefix}.processor"
    for role, config in configs.items():
        # Broker quotas, request logs and metrics are keyed by client.id: one per mode and role lets an
        # operator throttle or watch exactly one of them (a profile's own client.id wins).
        config.setdefault("client.id", f"eosbench-{mode.name}-{role.replace('_', '-')}")
    return configs


def roles(spec: CellSpec, mode: modes.Mode, target: Target, names: Names, configs: dict[str, dict], ordinal: int) -> Roles:
    size, ms = spec.transaction_bounds()
    processor = None
    if spec.topology == "process":
        processor = ProcessorSpec("processor", configs["processor_consumer"], configs["processor_producer"],
                                  names.topics[0], names.topics[1], size, ms)
    producers = [
        ProducerSpec(
            f"producer-{i}",
            {**configs["producer"], "transactional.id": f"{names.prefix}.producer-{i}"} if mode.transactional_producer else configs["producer"],
            names.topics[0], i, ordinal, spec.message_size, spec.rate / spec.producers if spec.rate else None,
            size if mode.transactional_producer else None, ms if mode.transactional_producer else None, spec.abort_ratio,
        )
        for i in range(spec.producers)
    ]
    watched = [LagTarget(names.groups[-1], names.topics[-1])]
    if spec.topology == "process":
        watched.append(LagTarget(names.groups[0], names.topics[0]))
    return Roles(
        consumer=ConsumerSpec("consumer", configs["consumer"], names.topics[-1], mode.commit_offsets_before_processing),
        processor=processor, producers=producers,
        lag=LagSpec("lag-sampler", target.admin_config, spec.partitions, watched),
    )
