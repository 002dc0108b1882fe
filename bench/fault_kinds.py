"""Every kind of fault a profile can inject, declared once: its fields, what it needs, what it acts on.

The profile's checks (bench.profile), the sweep (which cells get it), the run's checks against a
cluster or registry eosbench did not start (bench.runner), the cell spec (which launcher can carry
it) and the producers' transaction announcements (bench.cell.topology) all read these
declarations. Only the injection itself lives elsewhere, beside the mechanism it drives:
bench.broker.faults for the brokers, bench.cell.faults for the cell's own roles, registry and
Trogdor (whose schedule checks that every kind declared here has its injection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from bench.parameters import whole

Subject = Callable[[dict, int], "tuple | None"]


@dataclass(frozen=True)
class Field:
    """A field of a fault besides `kind`, `at_s` and `duration_s` (which every kind checks the same way)."""

    name: str
    accepts: Callable[[Any], bool]
    must: str              # the profile error: "'faults[i].<name>' <must>"
    default: Any = None    # its value when absent, which `accepts` judges too (a required field refuses None)
    show_value: bool = False  # the error quotes the value given


@dataclass(frozen=True)
class FaultKind:
    name: str
    fields: tuple[Field, ...] = ()
    timed: bool = True          # takes a duration_s (an instant fault has none)
    lasts: bool = False         # duration_s must be > 0: the fault is a state held that long
    topology: str | None = None  # a cell of this topology must exist (the roles it acts on)
    only_that_topology: bool = False  # the sweep gives it to cells of `topology` only
    avro: bool = False          # acts on the schema layer: serialization avro must be swept
    embedded_cluster: bool = False   # acts on brokers eosbench started (not --bootstrap-servers)
    embedded_registry: bool = False  # acts on the registry eosbench started (not --schema-registry)
    trogdor: bool = False       # runs through Trogdor: cells with launcher trogdor must exist
    local_only: bool = False    # freezes a process of this run: launcher trogdor cannot carry it
    announces_transactions: bool = False  # kills or fences a producer: it says each transaction's range before committing it
    own_processor: bool = False  # acts on eosbench's consume-transform-produce processor: no Kafka Streams mode may be swept
    replaces_processor: bool = False  # a new processor takes over: its recovery (kill to first commit) is timed
    group_protocols: tuple[str, ...] = ("classic", "consumer")  # the workload.group_protocol values it can run under
    why_not_protocol: str = ""  # why another group protocol is refused, for the one line validation gives
    subject: Subject = lambda fault, brokers: None  # what it acts on: two at once on one subject would measure neither

    @property
    def allowed(self) -> tuple[str, ...]:
        return ("at_s", *(("duration_s",) if self.timed else ()), *(f.name for f in self.fields))

    def check(self, fault: dict, label: str, fail: Callable[[str], Exception]) -> None:
        """The kind's own fields; `fail` makes the profile error."""
        if self.lasts and not fault.get("duration_s"):
            raise fail(f"'{label}.duration_s' must say how long the {self.name} lasts (seconds > 0)")
        for f in self.fields:
            value = fault.get(f.name, f.default)
            if not f.accepts(value):
                raise fail(f"'{label}.{f.name}' {f.must}" + (f", not {value!r}" if f.show_value else ""))


def _broker(fault: dict, brokers: int) -> tuple:
    return ("broker", 1 if brokers == 1 else fault.get("target", "leader"))


def _role(name: str) -> Subject:
    return lambda fault, brokers: (name,)


TARGET = Field("target", lambda v: v == "leader" or whole(1, 3)[0](v), "must be 'leader' or a broker id", "leader", show_value=True)

KINDS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind("processor_kill", topology="process", only_that_topology=True, replaces_processor=True, subject=_role("processor")),
    # The processor frozen while a new one with an identity of its own (transactional.id, group
    # member) takes its partitions when its session ends, then woken: only the group's generation or
    # member epoch can fence its open transaction (KIP-447), not its transactional.id.
    FaultKind("processor_zombie", lasts=True, topology="process", only_that_topology=True, local_only=True,
              own_processor=True, replaces_processor=True, subject=_role("processor"), group_protocols=("classic",),
              why_not_protocol="under consumer (KIP-848) the woken zombie rejoined, took its partitions back and librdkafka "
                               "2.16 fetched nothing from them: the cell stalled until the drain timeout"),
    FaultKind("consumer_pause", lasts=True, subject=_role("consumer")),
    FaultKind("producer_kill", topology="produce", announces_transactions=True, subject=_role("producer")),
    FaultKind("zombie", lasts=True, topology="produce", local_only=True, announces_transactions=True, subject=_role("producer")),
    FaultKind("pause", (TARGET,), lasts=True, embedded_cluster=True, subject=_broker),
    FaultKind("kill", (TARGET,), embedded_cluster=True, subject=_broker),
    FaultKind("restart", (TARGET,), embedded_cluster=True, subject=_broker),
    FaultKind("command", (Field("command", lambda v: isinstance(v, str), "must be the shell command to run"),
                          Field("end_command", lambda v: v is None or isinstance(v, str), "must be a shell command")),),
    FaultKind("schema_change", (Field("compatible", lambda v: isinstance(v, bool),
                                      "must be true (a FULL-compatible change) or false (an incompatible one)", True),),
              timed=False, topology="produce", avro=True),
    FaultKind("registry_pause", lasts=True, avro=True, embedded_registry=True, subject=_role("registry")),
    FaultKind("trogdor_process_stop", (
        Field("agents", lambda v: isinstance(v, list) and bool(v) and all(isinstance(a, str) and a for a in v),
              "must list the Trogdor agents on the hosts of the processes to stop"),
        Field("process", lambda v: isinstance(v, str) and bool(v),
              "must be a part of the Java processes' jcmd line (default kafka.Kafka: the brokers)", "kafka.Kafka")),
        lasts=True, trogdor=True,
        subject=lambda fault, brokers: ("agents", fault.get("process", "kafka.Kafka"), *sorted(fault["agents"]))),
)}


def of(fault: dict) -> FaultKind:
    """The declaration of a checked fault."""
    return KINDS[fault["kind"]]


def any_with(faults, flag: str) -> bool:
    """Whether any of `faults` is of a kind declaring `flag` (for example 'embedded_cluster')."""
    return any(getattr(of(f), flag) for f in faults)
