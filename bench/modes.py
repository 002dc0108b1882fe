"""Delivery modes: each one an explicit, inspectable set of librdkafka properties.

librdkafka's defaults differ from Java's (idempotence off, isolation.level read_committed), so a
mode sets every property its guarantee depends on, and those properties cannot be overridden by a
profile's `client` section: a run labelled `at_least_once` must really have idempotence off.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from bench.client_properties import canonical, same_value
from bench.errors import BadInput

_RETRIES_FOREVER = "2147483647"


@dataclass(frozen=True)
class Mode:
    """What a delivery mode means for each client of a cell."""

    name: str
    topologies: tuple[str, ...]
    producer: Mapping[str, str]
    consumer: Mapping[str, str]
    commit_offsets_before_processing: bool = False
    transactional_producer: bool = False
    transactional_processor: bool = False
    streams_guarantee: str | None = None  # the processor is the Kafka Streams application (bench/jvm/) with this processing.guarantee
    description: str = ""
    promises_no_duplicates: bool = False
    promises_no_loss: bool = False

    @property
    def uses_transactions(self) -> bool:
        return self.transactional_producer or self.transactional_processor

    def check_client(self, client: Mapping[str, str]) -> None:
        """Refuse client properties that would change what this mode means, under any alias.

        Called when a profile is validated, so a run never starts with a guarantee overridden.
        """
        for role, fixed in (("producer", self.producer), ("consumer", self.consumer)):
            by_name = {canonical(k): (k, v) for k, v in fixed.items()}
            for key, value in client.items():
                name = canonical(key)
                if name in by_name and same_value(name, value) != same_value(name, by_name[name][1]):
                    own, want = by_name[name]
                    alias = f" (an alias of {own})" if key != own else ""
                    raise BadInput(f"client property '{key}'{alias} would change what mode {self.name} means for its {role} "
                                   f"({own}={want}); drop it or pick another mode")

    def producer_config(self, client: Mapping[str, str]) -> dict[str, str]:
        return _merge(client, self.producer)

    def consumer_config(self, client: Mapping[str, str]) -> dict[str, str]:
        return _merge(client, self.consumer)


def _merge(client: Mapping[str, str], fixed: Mapping[str, str]) -> dict[str, str]:
    """The client's properties with the mode's on top; an alias of a fixed property (same value,
    `check_client` saw to that) gives way to the mode's own name."""
    fixed_names = {canonical(k) for k in fixed}
    return {**{k: str(v) for k, v in client.items() if canonical(k) not in fixed_names}, **fixed}


def _frozen(**props: str) -> Mapping[str, str]:
    return MappingProxyType({k.replace("_", "."): v for k, v in props.items()})


_READ_UNCOMMITTED = _frozen(isolation_level="read_uncommitted", enable_auto_commit="false", auto_offset_reset="earliest")
_READ_COMMITTED = _frozen(isolation_level="read_committed", enable_auto_commit="false", auto_offset_reset="earliest")
_ACKS_ALL_NO_IDEMPOTENCE = _frozen(acks="all", retries=_RETRIES_FOREVER, enable_idempotence="false")
_IDEMPOTENT = _frozen(acks="all", retries=_RETRIES_FOREVER, enable_idempotence="true")

MODES: dict[str, Mode] = {
    m.name: m
    for m in [
        Mode(
            "at_most_once", ("produce",),
            producer=_frozen(acks="1", retries="0", enable_idempotence="false"),
            consumer=_READ_UNCOMMITTED, commit_offsets_before_processing=True,
            description="acks=1, no retries; offsets committed before processing",
            promises_no_duplicates=True,
        ),
        Mode(
            "at_least_once", ("produce", "process"),
            producer=_ACKS_ALL_NO_IDEMPOTENCE, consumer=_READ_UNCOMMITTED,
            description="acks=all, retries on, idempotence off; offsets committed after processing",
            promises_no_loss=True,
        ),
        Mode(
            "idempotent", ("produce",),
            producer=_IDEMPOTENT, consumer=_READ_UNCOMMITTED,
            description="enable.idempotence=true; offsets committed after processing",
            promises_no_duplicates=True, promises_no_loss=True,
        ),
        Mode(
            "transactional", ("produce",),
            producer=_IDEMPOTENT, consumer=_READ_COMMITTED, transactional_producer=True,
            description="transactional producer; read_committed consumer",
            promises_no_duplicates=True, promises_no_loss=True,
        ),
        Mode(
            "exactly_once_v2", ("process",),
            producer=_IDEMPOTENT, consumer=_READ_COMMITTED, transactional_processor=True,
            description="consume-transform-produce in transactions, offsets via send_offsets_to_transaction (KIP-447)",
            promises_no_duplicates=True, promises_no_loss=True,
        ),
        # Kafka Streams as the processor. Producers and the verifying consumer are the same as for
        # the Python processor's modes of the same guarantee, so the two processors face the same input.
        Mode(
            "streams_at_least_once", ("process",),
            producer=_ACKS_ALL_NO_IDEMPOTENCE, consumer=_READ_UNCOMMITTED, streams_guarantee="at_least_once",
            description="a Kafka Streams application, processing.guarantee=at_least_once",
            promises_no_loss=True,
        ),
        Mode(
            "streams_exactly_once_v2", ("process",),
            producer=_IDEMPOTENT, consumer=_READ_COMMITTED, transactional_processor=True, streams_guarantee="exactly_once_v2",
            description="a Kafka Streams application, processing.guarantee=exactly_once_v2",
            promises_no_duplicates=True, promises_no_loss=True,
        ),
    ]
}


def get(name: str) -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise BadInput(f"unknown mode '{name}' (choose from {', '.join(MODES)})") from None
