"""The contract between the cell runner and its roles: message kinds, and per role a spec and a result.

A role is anything that speaks this: a Python function in a spawned process, or a child process
in any language through newline-delimited JSON (`bench.roles.launcher`): eosbench's Java roles
(jvm/: the Kafka Streams application, and the `java` driver's producer and verifying consumer,
which take the same specs and return the same results as their Python twins), a generator on
another host. The conversation, on the runner's side:

    start role with its spec  ->  READY          (its clients work; transactional ones initialised)
    GO timeline               ->  PROGRESS n ... (records sent so far, producers only)
                              ->  ROWS [...] ... (lag samples, the lag sampler only)
    [PAUSE seconds]           (verifying consumer, a fault)
    DRAIN DrainOrder          (readers, once the producers are done)  | STOP (lag sampler)
                              ->  RESULT the role's result   or   ERROR RoleError

Times are `time.monotonic_ns()`, system-wide on Linux, so roles on one host share one clock.
Every field of a spec is read by its role and every field of a result by the runner: nothing is
sent that nobody reads.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from bench.roles.threads import ThreadDemand


REPLACEMENT_STRIDE = 100  # a replacement producer's index: its victim's plus a multiple of this, so its record ids are its own


class Kind(str, Enum):
    READY = "ready"        # role -> runner
    PROGRESS = "progress"  # role -> runner: int, records sent so far (producers), or counted in the window so far (processors)
    ROWS = "rows"          # role -> runner: lag samples (lists of LAG_COLUMNS values)
    TXN = "txn"            # producer -> runner: [first, end) of a transaction about to commit (cells with producer faults)
    RESULT = "result"      # role -> runner: the role's result type
    ERROR = "error"        # role -> runner: RoleError
    GO = "go"              # runner -> role: Timeline
    PAUSE = "pause"        # runner -> consumer: seconds to stop reading and committing
    DRAIN = "drain"        # runner -> readers: DrainOrder
    STOP = "stop"          # runner -> lag sampler


@dataclass(frozen=True)
class Timeline:
    """The phases of a cell on the shared monotonic clock."""

    start_ns: int          # warm-up begins
    measure_start_ns: int  # figures from here on count
    measure_end_ns: int    # producers stop here; drain follows
    epoch_offset_s: float  # add to monotonic seconds to get wall-clock seconds

    @property
    def duration_s(self) -> float:
        return (self.measure_end_ns - self.measure_start_ns) / 1e9

    @classmethod
    def starting_in(cls, delay_s: float, warmup_s: float, duration_s: float) -> "Timeline":
        start = time.monotonic_ns() + int(delay_s * 1e9)
        measure = start + int(warmup_s * 1e9)
        return cls(start, measure, measure + int(duration_s * 1e9), time.time() - time.monotonic())


@dataclass(frozen=True)
class DrainOrder:
    expected: int     # acknowledged records the readers should see
    quiet_s: float    # silence after which a reader that reached the end of the log stops
    timeout_s: float  # hard cap: a reader still reading then is cut off, and says so


@dataclass(frozen=True)
class RoleError:
    message: str
    traceback: str | None = None  # kept as <role>.traceback in the cell's directory


# ----------------------------------------------------------------------------- specs

@dataclass(frozen=True)
class ProducerSpec:
    role: str
    config: dict
    topic: str
    producer_index: int
    cell_ordinal: int
    message_size: int
    rate: float | None              # records/s of this producer; None: closed loop
    transaction_size: int | None    # effective bounds (parameters.transaction_bounds); transactional only
    transaction_ms: float | None
    abort_ratio: float
    max_records: int = 0            # calibration: stop after this many records, like ProducerPerformance
    keys: int = 0                   # > 0: each record keyed by its sequence number modulo keys (bench.metrics.record_key)
    fan_out_topics: tuple = ()      # topics every record is also written to, in the same transaction (an event = one record per topic)
    announce_transactions: bool = False  # say each transaction's range before committing it (TXN), for a fault that kills the producer
    registry: dict | None = None    # serialization avro: the schema registry client's configuration (url, credentials); None: bytes
    schema_changes: tuple = ()      # (seconds into the window, schema version): schema_change faults (bench.schemas)
    turns: tuple = ()               # order alternating: (start, end) seconds from the timeline's start in which it may send (bench.cell.turns)


@dataclass(frozen=True)
class ProcessorSpec:
    role: str
    consumer_config: dict
    producer_config: dict
    input_topic: str
    output_topic: str
    transaction_size: int | None    # effective commit bounds (parameters.transaction_bounds)
    transaction_ms: float | None
    registry: dict | None = None    # serialization avro: decode every input record, encode every output record


@dataclass(frozen=True)
class StreamsSpec:
    """The Kafka Streams application (jvm/, `eosbench.StreamsProcessor`); its result is a ProcessorResult."""

    role: str
    config: dict                    # the application's Java properties, every one the guarantee depends on explicit
    input_topic: str
    output_topic: str
    stateful: bool                  # a count per key in a state store, every update forwarded


@dataclass(frozen=True)
class ConsumerSpec:
    role: str
    config: dict
    topic: str
    commit_offsets_before_processing: bool
    aggregate_keys: int = 0         # > 0: values end with the count of their key (a stateful processor's output)
    fan_out_topics: tuple = ()      # read too; ids come back per (topic, producer) stream (bench.metrics.stream)
    registry: dict | None = None    # serialization avro: decode every record with the registry's schema for its id
    after_window: bool = False      # order alternating: read only once the measured window has ended (bench.roles.reading.ReaderHold)


@dataclass(frozen=True)
class LagTarget:
    group: str
    topic: str


@dataclass(frozen=True)
class LagSpec:
    role: str
    config: dict
    partitions: int
    groups: list[LagTarget]


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class ClientLogResult:
    lines: list[str]
    counts: dict[str, int]   # "LEVEL/facility" -> lines, every line counted
    dropped: int             # lines beyond what was kept


@dataclass(frozen=True)
class SchemaUse:
    """A schema version a producer tried (serialization avro): registered, or refused by the registry."""

    version: int             # bench.schemas.SCHEMAS
    at_s: float | None       # seconds into the window it was tried; None: from the start
    schema_id: int | None    # the registry's id for it; None: refused
    refused: str | None      # the registry's answer when it refused
    first: int               # the sequence number of the first record it was tried on
    records: int             # records sent with it, or refused with it (never sent)


@dataclass(frozen=True)
class ProducerResult:
    producer_index: int
    states: bytes             # per sequence number: PENDING, ACKED, FAILED or ABORTED (bench.metrics)
    sent: int
    elapsed_s: float          # from the timeline's start to the last delivery report (calibration's rate)
    window_acked: int
    acked_during_window: int  # acknowledged between the window's edges, by acknowledgement time: what the brokers appended then
    backlog: int              # open loop: scheduled in the window, never sent
    transactions: int
    aborts: int
    aborts_on_purpose: int
    cpu_window_s: float
    cpu_total_s: float
    throttle_ms: float
    histograms: dict          # kind -> IntervalRecorder.encoded()
    client_log: ClientLogResult
    committed: np.ndarray | None = None  # transactional: [first, end) of every committed transaction, flattened
    committed_partitions: np.ndarray | None = None  # distinct partitions each committed transaction wrote to (one topic only)
    refused: np.ndarray | None = None  # [first, end) of every transaction whose commit Kafka refused (its records IN_DOUBT), flattened
    refusal: str | None = None         # the first refused commit's error
    fenced: bool = False      # stopped by a newer instance with its transactional.id (a zombie fenced off)
    reconstructed: bool = False  # the runner's account of a producer killed by a fault (bench.cell.derive.reconstructed)
    schemas: list[SchemaUse] = dataclasses.field(default_factory=list)  # serialization avro: every version tried, in order
    serialize_errors: int = 0    # records that could not be serialized for another reason than a refusal (FAILED, never sent)
    # the producer's thread that most wanted a CPU in the window (bench.roles.threads); None where the kernel keeps no schedstat
    busiest_thread: ThreadDemand | None = None
    turn_edges: tuple = ()    # order alternating: [first, end) sequence numbers of each measured turn, flattened
    turn_seconds: tuple = ()  # order alternating: each measured turn's length, first send to last acknowledgement (commit)


@dataclass(frozen=True)
class ProcessorResult:
    processed: int
    cut_off: bool
    window_committed: int | None    # None: the processor cannot tell (Kafka Streams commits on its own schedule)
    transactions: int
    aborts: int
    rewinds: int
    cpu_total_s: float
    histograms: dict
    client_log: ClientLogResult
    window_processed: int | None = None  # Kafka Streams: records processed in the window (committed ones are unseen)
    first_commit_ns: int | None = None   # when its first commit (output and input offsets) succeeded, on the cell's clock


@dataclass(frozen=True)
class ConsumerResult:
    ids: dict[int, np.ndarray]  # stream (bench.metrics.stream: topic, producer) -> every sequence number received, duplicates included
    received: int
    cut_off: bool
    window_received: int
    cpu_total_s: float
    histograms: dict
    client_log: ClientLogResult
    aggregates: np.ndarray | None = None  # with aggregate_keys: per key, the highest count read
    schema_ids: dict[int, int] | None = None  # serialization avro: records read per writer schema id (from each value's header)
    undecodable: int = 0                  # serialization avro: records the registry's schemas could not decode


@dataclass(frozen=True)
class LagResult:
    cpu_total_s: float
    client_log: ClientLogResult


@dataclass(frozen=True)
class Role:
    """A kind of role and its types: played by a Python module's `run(spec, channel) -> result`, or
    by a Java class of eosbench's module (bench/jvm/) speaking JSON lines."""

    name: str
    module: str | None
    spec: type
    result: type
    java_class: str | None = None


ROLES: dict[str, Role] = {r.name: r for r in (
    Role("producer", "bench.roles.producer", ProducerSpec, ProducerResult),
    Role("processor", "bench.roles.processor", ProcessorSpec, ProcessorResult),
    Role("streams", None, StreamsSpec, ProcessorResult, java_class="eosbench.StreamsProcessor"),
    Role("consumer", "bench.roles.consumer", ConsumerSpec, ConsumerResult),
    # the `java` driver: the same specs and results, played by Kafka's own Java clients
    Role("java_producer", None, ProducerSpec, ProducerResult, java_class="eosbench.ProducerRole"),
    Role("java_consumer", None, ConsumerSpec, ConsumerResult, java_class="eosbench.ConsumerRole"),
    Role("lag", "bench.roles.lag", LagSpec, LagResult),
)}
_PAYLOADS = {Kind.GO: Timeline, Kind.DRAIN: DrainOrder, Kind.ERROR: RoleError}


# ----------------------------------------------------------------------------- JSON lines

def to_json_line(kind: Kind, payload: Any) -> bytes:
    """One message as a line of JSON: {"kind": ..., "payload": ...}. Bytes travel as base64,
    numpy arrays as base64 of little-endian int64, dataclasses as objects."""
    return json.dumps({"kind": kind.value, "payload": _plain(payload)}, separators=(",", ":")).encode() + b"\n"


def from_json_line(line: bytes, result_type: type | None = None) -> tuple[Kind, Any]:
    """A message read from a line; the payload typed by its kind (and, for RESULT, the role's result type)."""
    message = json.loads(line, object_hook=_unplain)
    kind = Kind(message["kind"])
    payload = message.get("payload")
    target = result_type if kind is Kind.RESULT else _PAYLOADS.get(kind)
    return kind, typed(target, payload) if target is not None and payload is not None else payload


def typed(cls: type, data: Any) -> Any:
    """`data` (plain JSON values) as an instance of dataclass `cls`, nested dataclasses included."""
    if not dataclasses.is_dataclass(cls) or not isinstance(data, dict):
        return data
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    values = {}
    for name, value in data.items():
        if name not in hints:
            raise ValueError(f"{cls.__name__} has no field '{name}'")
        values[name] = _field(hints[name], value)
    return cls(**values)


_NESTED = {"ClientLogResult": ClientLogResult, "ThreadDemand | None": ThreadDemand, "list[LagTarget]": LagTarget, "list[SchemaUse]": SchemaUse}


def _field(hint: str, value: Any) -> Any:
    if hint in _NESTED:
        kind = _NESTED[hint]
        return [typed(kind, v) for v in value] if hint.startswith("list[") else typed(kind, value)
    if hint in ("dict[int, np.ndarray]", "dict[int, int] | None") and value is not None:  # JSON keys are strings
        return {int(k): v for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, np.ndarray):
        return {"$int64": base64.b64encode(value.astype("<i8").tobytes()).decode()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _unplain(obj: dict) -> Any:
    if len(obj) == 1 and "$bytes" in obj:
        return base64.b64decode(obj["$bytes"])
    if len(obj) == 1 and "$int64" in obj:
        return np.frombuffer(base64.b64decode(obj["$int64"]), dtype="<i8").astype(np.int64)
    return obj


def spec_line(spec: Any) -> bytes:
    """The first line a child role reads: its spec."""
    return json.dumps(_plain(spec), separators=(",", ":")).encode() + b"\n"


def read_spec(line: bytes, role: Role) -> Any:
    return typed(role.spec, json.loads(line, object_hook=_unplain))
