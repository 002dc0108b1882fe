"""The workload parameters, each declared once: what it means, what values it takes, its default,
how it reads in a cell id, and which modes it shapes.

Profile validation (`workload` and `sweep` keys), the cell spec (`bench.cell.spec.CellSpec` has one
field per parameter), sweep naming, the summary's parameter columns and the matching of a cell to
its baseline all read this table: a new parameter is one entry here plus the code that uses it.
The order of the table is the order of the summary's columns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from bench import modes
from bench.metrics import PREFIX_SIZE

MAX_MESSAGE_SIZE = 1_048_588 - 1_024  # the broker's default message.max.bytes, less batch and header overhead

# One meaning of a transaction's length, the same for a transactional producer and for the
# processor's commits (in every mode of topology `process`): a transaction (or commit) ends at the
# first bound it reaches, `transaction_size` records or `transaction_ms` since it began; a bound
# left null does not apply. With neither given, both defaults apply: 100 records or 100 ms,
# whichever comes first (Kafka Streams commits every 100 ms under exactly_once_v2).
DEFAULT_TRANSACTION_SIZE = 100
DEFAULT_TRANSACTION_MS = 100.0


def transaction_bounds(size: int | None, ms: float | None) -> tuple[int | None, float | None]:
    """(records, milliseconds) at which a transaction or commit ends; None: that bound does not apply."""
    if size is None and ms is None:
        return DEFAULT_TRANSACTION_SIZE, DEFAULT_TRANSACTION_MS
    return size, ms


# ----------------------------------------------------------------------------- value checks

Check = tuple[Callable[[Any], bool], str]  # (accepts the value?, what it must be, for the error line)


def number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def whole(low: int, high: int) -> Check:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high, f"a whole number from {low:,} to {high:,}")


def between(low: float, high: float, low_open: bool = False) -> Check:
    top = f"{high:,.0f}" if float(high).is_integer() else f"{high:g}"
    return ((lambda v: number(v) and (v > low if low_open else v >= low) and v <= high),
            f"a number {'>' if low_open else '>='} {low:g} and <= {top}")


def optional(check: Check) -> Check:
    return (lambda v: v is None or check[0](v), f"{check[1]}, or null")


def one_of(*values: str) -> Check:
    return (lambda v: isinstance(v, str) and v in values, " or ".join(values) if len(values) == 2 else f"one of {', '.join(values)}")


_RATE_NUMBER = between(1, 10_000_000)
_RATE: Check = (lambda v: v in ("max", "find") or _RATE_NUMBER[0](v), f"'max', 'find' or {_RATE_NUMBER[1]} records/s")


# ----------------------------------------------------------------------------- which modes a parameter shapes

def _always(mode: modes.Mode, topology: str) -> bool:
    return True


def _commits(mode: modes.Mode, topology: str) -> bool:
    """A transactional producer's transactions, and in topology `process` the processor's commits
    in every mode (so its modes are compared at the same commit interval)."""
    return mode.uses_transactions or topology == "process"


def _commits_by_size(mode: modes.Mode, topology: str) -> bool:
    """Kafka Streams commits on time only (commit.interval.ms = transaction_ms)."""
    return _commits(mode, topology) and not mode.streams_guarantee


def _aborts(mode: modes.Mode, topology: str) -> bool:
    return mode.transactional_producer


def _produce(mode: modes.Mode, topology: str) -> bool:
    return topology == "produce"


def _streams(mode: modes.Mode, topology: str) -> bool:
    return mode.streams_guarantee is not None


def _transactions(mode: modes.Mode, topology: str) -> bool:
    return mode.uses_transactions


# ----------------------------------------------------------------------------- which Kafka releases have a value

def kafka_release(version: str) -> tuple[int, ...]:
    """A Kafka version's numbers, (4, 1, 1) for "4.1.1", for ordering releases."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _every_release(value: Any) -> str | None:
    return None


def _consumer_protocol(value: Any) -> str | None:
    """KIP-848's protocol is generally available from Kafka 4.0 (early access before, off by default)."""
    return "4.0" if value == "consumer" else None


def _transaction_feature(value: Any) -> str | None:
    """The transaction.version feature exists from Kafka 4.0 (KIP-890); null leaves the cluster as it is."""
    return "4.0" if value is not None else None


DRIVERS = ("librdkafka", "java")  # the client stacks a cell's producers and verifying consumer run on
GROUP_PROTOCOLS = ("classic", "consumer")  # group.protocol of librdkafka and of Kafka's Java consumer
TRANSACTION_VERSION = "transaction.version"  # the cluster feature of KIP-890 that parameter transaction_version sets


def transactions_protocol(driver: str, cluster_level: int | None) -> int | None:
    """Which transactions protocol a cell's producers spoke: 2 (KIP-890) only for Kafka's Java client
    on a cluster with transaction.version 2 finalized; librdkafka speaks 1 at any level (it does not
    implement KIP-890). None: the cluster's level is unknown."""
    if driver != "java":
        return 1
    return None if cluster_level is None else min(int(cluster_level), 2)


# ----------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class Parameter:
    name: str
    type: type
    check: Check
    default: Any                  # as a profile states it
    abbreviation: str | None      # prefix of its value in cell ids ("" for the value alone; None: not in ids)
    doc: str
    shapes: Callable[[modes.Mode, str], bool] = _always  # whether it means anything for (mode, topology)
    # what every run made before the parameter existed had (they did not record it), so that such a
    # run still matches a new one in compare; None: unknown, and it matches only another such run
    before: Any = None
    oldest_kafka: Callable[[Any], str | None] = _every_release  # the oldest release (major.minor) that has a value; None: all

    def to_cell(self, value: Any) -> Any:
        """The profile's value as the cell spec holds it (`rate: max` is closed loop, None)."""
        return None if self.name == "rate" and value == "max" else value

    def to_profile(self, value: Any) -> Any:
        return "max" if self.name == "rate" and value is None else value

    def accepts(self, value: Any) -> bool:
        return self.check[0](value)

    def id_part(self, value: Any) -> str:
        """How a swept value reads in a cell id (a null reads 'max', as eosbench has always written it)."""
        return f"{self.abbreviation}{'max' if value is None else value}"


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("mode", str, one_of(*modes.MODES), "at_least_once", None, "the delivery mode (bench.modes)"),
    Parameter("topology", str, one_of("produce", "process"), "produce", "",
              "produce: producers -> topic -> verifying consumer; process: a consume-transform-produce stage between"),
    Parameter("driver", str, one_of(*DRIVERS), "librdkafka", "",
              "the client stack of the producers and the verifying consumer: librdkafka (confluent-kafka) or Kafka's own "
              "Java clients (jvm/, the only ones that speak transactions v2, KIP-890)", _produce),
    Parameter("group_protocol", str, one_of(*GROUP_PROTOCOLS), "classic", "",
              "the consumer group protocol of every reader that joins a group (verifying consumer, processor, on either "
              "client stack): classic, or consumer (KIP-848: assignment by the group coordinator, heartbeats with a "
              "member epoch, session timeout in the group's config); the Kafka Streams application keeps classic",
              before="classic", oldest_kafka=_consumer_protocol),
    Parameter("partitions", int, whole(1, 4_096), 1, "p", "partitions of each of the cell's topics"),
    Parameter("fan_out", int, whole(1, 100), 1, "fan",
              "topics each event writes one record to (an order, its inventory update and its audit entry), "
              "in one transaction for a transactional producer", _produce),
    Parameter("transaction_size", int, optional(whole(1, 1_000_000)), None, "ts",
              "events per transaction or commit, an event being one record in each of the cell's topics "
              "(see transaction_bounds)", _commits_by_size),
    Parameter("transaction_ms", float, optional(between(0, 3_600_000, low_open=True)), None, "tms",
              "milliseconds a transaction or commit stays open at most (see transaction_bounds); "
              "for Kafka Streams its commit.interval.ms", _commits),
    Parameter("transaction_version", int, optional(whole(1, 2)), None, "tv",
              "the embedded cluster's transaction.version feature level during the cell: 1, or 2 (KIP-890: no "
              "AddPartitionsToTxn, an epoch bump per commit, for clients that speak it); null: left as the cluster has it",
              _transactions, oldest_kafka=_transaction_feature),
    Parameter("state", str, one_of("stateless", "stateful"), "stateless", "",
              "the Kafka Streams topology: records passed through, or a count per key in a state store with "
              "a changelog, every update forwarded", _streams),
    Parameter("stream_threads", int, whole(1, 64), 1, "st", "num.stream.threads of the Kafka Streams application", _streams),
    Parameter("message_size", int, whole(PREFIX_SIZE, MAX_MESSAGE_SIZE), 1024, "m",
              "value bytes per record, its 24-byte id and send time included (bench.metrics.RECORD_PREFIX)"),
    Parameter("serialization", str, one_of("bytes", "avro"), "bytes", "",
              "record values: random bytes, or Avro order events (bench.schemas) with their schema in a registry whose "
              "subject compatibility is FULL, serialized by the producers, decoded by every reader", before="bytes"),
    Parameter("rate", int, _RATE, "max", "r",
              "records/s of the whole cell; max is closed loop; find searches the highest rate sustained within slo_p99_ms (bench.capacity)"),
    Parameter("producers", int, whole(1, 64), 1, "n", "producer processes, the rate split between them"),
    Parameter("launcher", str, one_of("local", "trogdor"), "local", "",
              "where the cell's roles run: processes of this run (local), or Trogdor ExternalCommand tasks on the agents "
              "of the profile's `trogdor` section (bench.trogdor)", before="local"),
    Parameter("abort_ratio", float, (lambda v: number(v) and 0 <= v < 1, "a number in [0, 1)"), 0.0, "ab",
              "share of the producer's transactions aborted on purpose", _aborts),
    Parameter("replication_factor", int, optional(whole(1, 16)), None, "rf", "of the cell's topics; null: the cluster's default"),
    Parameter("max_in_flight", int, whole(1, 1_000_000), 5, "mif", "max.in.flight.requests.per.connection of every producer"),
    # Closed loop fills whatever queue the client has: librdkafka's default (1 GiB, 100,000 records)
    # made closed-loop latency mostly time in that queue, and so did 32 MiB (the Java producer's
    # buffer.memory, the previous default): at_least_once 1 KB end-to-end p50 79-741 ms and a
    # throughput cv of 13-15% as the verifying consumer fell behind and caught up. 2 MiB kept the
    # throughput (259k against 230k msg/s; 1 MiB lost a fifth) with p50 9-10 ms (docs/load-generator.md).
    Parameter("max_outstanding_kb", int, whole(64, 2_097_151), 2_048, "okb",
              "KiB a producer holds sent but not yet acknowledged (librdkafka's queue.buffering.max.kbytes)"),
    Parameter("slo_p99_ms", float, between(0.1, 3_600_000), 100.0, "slo",
              "with rate: find, the end-to-end p99 a sustained rate must stay within"),
    Parameter("warmup_s", float, between(0, 3_600), 5, "w", "seconds run before the measured window"),
    Parameter("duration_s", float, between(0, 86_400, low_open=True), 20, "d", "seconds of the measured window"),
)
BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
NAMES: list[str] = [p.name for p in PARAMETERS]  # also the summary's parameter columns, in this order


def shapes(name: str, mode: modes.Mode, topology: str) -> bool:
    """Whether parameter `name` means anything for `mode` in `topology`, so that it may multiply
    the mode's cells and must match between a cell and its baseline."""
    return BY_NAME[name].shapes(mode, topology)
