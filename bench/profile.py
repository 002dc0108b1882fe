"""Profiles: the YAML that says what to measure, validated strictly before anything runs.

A typo in a benchmark profile that is silently ignored produces a wrong figure with a clean
conscience (OpenMessaging Benchmark's lesson), so an unknown key, a wrong type, a duplicate key or
an impossible combination is refused with one line naming the key and the file.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import client_properties, fault_kinds, jvm, modes, parameters, warmup
from bench.broker.cluster import STORAGES
from bench.broker.distribution import DEFAULT_KAFKA_VERSION, check_supported
from bench.errors import BadInput
from bench.parameters import between, whole
from bench.registry.target import check_properties as check_registry_properties, split_properties

ORDERS = ("interleaved", "sequential", "alternating")
SLOT_S = 0.5  # order alternating: one turn of a mode (bench.cell.turns: why half a second)

# Limits: a value past one is legal YAML but not a benchmark anyone means to run (or a typo of
# one); refusing it up front is cheaper than finding out hours into a run. Documented in docs/profiles.md.
MAX_PROFILE_BYTES = 1 << 20
MAX_YAML_VALUES = 100_000      # after YAML aliases are expanded: an alias bomb is refused, not built
MAX_NESTING = 16               # mappings and lists within each other (a profile uses 4)
MAX_CELLS = 10_000             # cell repetitions of one run, counted before the plan is built
MAX_SWEEP_VALUES = 1_000
MAX_REPEAT = 100
DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000  # librdkafka's transaction.timeout.ms: a longer transaction is aborted
_VERSION = re.compile(r"^\d+\.\d+\.\d+([-.][0-9A-Za-z.-]+)?$")


_SECONDS_INTO_WINDOW = between(0, 86_400)

TOP_KEYS = ("description", "kafka", "client", "workload", "sweep", "repeat", "order", "slot_s", "baseline", "faults", "warmup_max_s",
            "trogdor")
TROGDOR_KEYS = ("agents", "placement", "python", "clock")
PLACEMENT_KEYS = ("producers", "consumer", "processor")
KAFKA_KEYS = ("version", "brokers", "storage")


@dataclass(frozen=True)
class Profile:
    """A validated profile: every key known, every value of the right type."""

    source: str
    description: str
    kafka_versions: tuple[str, ...]  # several: measured in alternating blocks, one broker each
    brokers: int
    client: dict[str, str]
    workload: dict[str, Any]
    sweep: dict[str, list]
    repeat: int
    order: str
    baseline: str | None
    faults: list[dict] = field(default_factory=list)
    warmup_max_s: float = warmup.MAX_S  # the run's warm-up (bench.warmup) per broker start at most; 0: none
    storage: str = "disk"  # the embedded brokers' log directories: disk, or memory (a tmpfs; bench.broker.cluster)
    trogdor: dict = field(default_factory=dict)  # where cells with launcher trogdor run (bench.trogdor.placement)
    slot_s: float = SLOT_S  # order alternating: the length of one turn

    def as_dict(self) -> dict:
        """The resolved profile, as recorded in the manifest (secrets are redacted by the caller)."""
        return {
            "description": self.description,
            "kafka": {"version": self.kafka_versions[0] if len(self.kafka_versions) == 1 else list(self.kafka_versions),
                      "brokers": self.brokers, "storage": self.storage},
            "client": dict(self.client), "workload": dict(self.workload), "sweep": dict(self.sweep),
            "repeat": self.repeat, "order": self.order, "baseline": self.baseline,
            "faults": [client_properties.recorded_fault(f) for f in self.faults],
            "warmup_max_s": self.warmup_max_s,
            **({"trogdor": dict(self.trogdor)} if self.trogdor else {}),  # absent when unset, as in runs made before it
            **({"slot_s": self.slot_s} if self.order == "alternating" else {}),
        }


class _StrictLoader(yaml.SafeLoader):
    """YAML whose mappings refuse duplicate keys instead of keeping the last one."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise BadInput(f"a key must be a plain name, not a {key_node.id} (line {key_node.start_mark.line + 1})")
        key = loader.construct_object(key_node)
        if key in seen:
            raise BadInput(f"duplicate key '{key}' (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


SHIPPED = Path(__file__).resolve().parent / "profiles"  # package data: they install with eosbench


def shipped() -> list[Path]:
    """The profiles that come with eosbench, by name."""
    return sorted(SHIPPED.glob("*.yaml"))


def locate(given: str | Path) -> Path:
    """A profile's file from a path, or from a shipped profile's name (`quick`): a path that
    exists wins, so a user's own `quick.yaml` or `quick` is never shadowed."""
    path = Path(given)
    if path.is_file():
        return path
    named = SHIPPED / f"{given}.yaml"
    if re.fullmatch(r"[a-z][a-z0-9_]*", str(given)) and named.is_file():
        return named
    names = ", ".join(p.stem for p in shipped())
    raise BadInput(f"profile {given} does not exist: give a profile's path, or the name of a shipped one ({names}; see 'eosbench profiles')")


def load(given: str | Path, overrides: list[str] = (), repeat: int | None = None, kafka_version: str | None = None) -> Profile:
    """Read, override (`--set KEY=VALUE`) and validate a profile, given by path or shipped name;
    BadInput names key and file."""
    path = locate(given)
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise BadInput(f"{path} is larger than {MAX_PROFILE_BYTES >> 20} MiB: not a profile")
    try:
        text = path.read_text()
        _shallow(text)
        raw = yaml.load(text, Loader=_StrictLoader)
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise BadInput(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not a text file") from None
    if raw is None:
        raise BadInput(f"{path} is empty: a profile needs at least a workload or a sweep (see 'eosbench profiles')")
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: a profile is a mapping of keys (description, workload, sweep, ...), not a {type(raw).__name__}")
    _bounded(raw, path)
    raw = copy.deepcopy(raw)
    for item in overrides:
        _apply_override(raw, item, path)
        _bounded(raw, path)
    if repeat is not None:
        raw["repeat"] = repeat
    if kafka_version is not None:
        raw.setdefault("kafka", {})
        raw["kafka"]["version"] = [v.strip() for v in kafka_version.split(",")] if "," in kafka_version else kafka_version
    return _validate(raw, str(path))


def _shallow(text: str) -> None:
    """Refuse a document nested deeper than MAX_NESTING before it is built: PyYAML builds nested
    collections by recursion, and 600 nested lists end in a RecursionError. Its scanner is a loop."""
    depth = 0
    for token in yaml.scan(text, Loader=_StrictLoader):
        if isinstance(token, (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
                              yaml.FlowSequenceStartToken)):
            depth += 1
            if depth > MAX_NESTING:
                raise BadInput(f"nests mappings and lists more than {MAX_NESTING} deep (line {token.start_mark.line + 1}): not a profile")
        elif isinstance(token, (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)):
            depth -= 1


def _bounded(raw: dict, path: Path) -> None:
    """Refuse a document that expands (YAML aliases followed) to more than MAX_YAML_VALUES values, or
    nests deeper than MAX_NESTING through them, counting no further than that: an alias bomb costs a
    moment, not the machine."""
    budget, stack = MAX_YAML_VALUES, [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise BadInput(f"{path} expands to more than {MAX_YAML_VALUES:,} values (YAML aliases?): not a profile")
        if isinstance(node, (dict, list)) and depth > MAX_NESTING:
            raise BadInput(f"{path} nests mappings and lists more than {MAX_NESTING} deep (YAML aliases?): not a profile")
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]


def _apply_override(raw: dict, item: str, path: Path) -> None:
    if "=" not in item:  # what follows the key may be a mistyped secret's value: never shown
        key = re.match(r"[\w.-]*", item).group()
        raise BadInput(f"--set takes KEY=VALUE: '{key}{'...' if key != item else ''}' has no '='")
    key, _, text = item.partition("=")
    try:
        _shallow(text)
        value = yaml.safe_load(text) if text else None
    except BadInput as exc:
        raise BadInput(f"--set {key.strip()}: {exc}") from None
    except yaml.YAMLError:
        value = text
    parts = key.strip().split(".")
    if parts[0] == "client" and len(parts) > 2:  # librdkafka property names have dots of their own
        parts = ["client", ".".join(parts[1:])]
    if len(parts) == 1:  # a bare key: a swept key, a top-level key, else a workload key
        name = parts[0]
        if name in (raw.get("sweep") or {}):
            parts = ["sweep", name]
            value = value if isinstance(value, list) else [value]
        elif name not in TOP_KEYS:
            parts = ["workload", name]
    node = raw
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise BadInput(f"--set {key}: '{part}' is not a section in {path}")
        node = node[part]
    node[parts[-1]] = value
    chosen = raw.get("sweep", {}).get("mode") if parts == ["sweep", "mode"] else [value] if parts == ["workload", "mode"] else None
    if chosen is not None and raw.get("baseline") not in chosen:
        raw["baseline"] = None  # narrowed to modes without the baseline: nothing to compare against


def _validate(raw: dict, source: str) -> Profile:
    """The profile's sections checked in the order a reader meets them; the first error ends it."""
    def fail(message: str) -> BadInput:
        return BadInput(f"{source}: {message}")

    _known(raw, TOP_KEYS, "", fail)
    description = raw.get("description", "")
    if not isinstance(description, str) or not description.isprintable():
        raise fail("'description' must be one line of text (no newline or control character)")
    versions, brokers, storage = _kafka(_section(raw, "kafka", fail), fail)
    client = _client(_section(raw, "client", fail), fail)
    workload, sweep = _workload_and_sweep(raw, fail)
    warmup_max_s, repeat, order, slot_s = _run_shape(raw, sweep, versions, fail)
    baseline = _modes(raw, workload, sweep, client, fail)
    faults = _faults(raw, workload, sweep, brokers, fail)
    trogdor = _trogdor(_section(raw, "trogdor", fail), fail)
    _check_releases(versions, workload, sweep, fail)
    if "trogdor" in sweep.get("launcher", [workload["launcher"]]):
        for version in versions:
            if not jvm.has_trogdor(version):
                raise fail(f"launcher trogdor needs Kafka's Trogdor, and Kafka {version} releases none (the newest is "
                           f"{jvm.TROGDOR_NEWEST}): run these cells on {jvm.TROGDOR_NEWEST} or older, or with launcher local")
    else:
        if trogdor:
            raise fail("'trogdor' places the roles of cells with launcher trogdor, and no cell has it: set workload.launcher: trogdor")
        for fault in faults:
            if fault_kinds.of(fault).trogdor:
                raise fail(f"a {fault['kind']} fault runs through Trogdor: it needs cells with launcher trogdor")
    if faults and "find" in sweep.get("rate", [workload["rate"]]):
        raise fail("rate 'find' searches the rate a mode sustains in steady state: it cannot run with faults (give the faults a fixed rate)")
    if order == "alternating":
        _check_alternating(workload, sweep, faults, slot_s, fail)
    return Profile(source, description, versions, brokers, client, workload, sweep, repeat, order, baseline, faults,
                   warmup_max_s, storage, trogdor, slot_s)


def _kafka(kafka: dict, fail) -> tuple[tuple[str, ...], int, str]:
    """`kafka`: the versions to run (one broker start each), the brokers, their storage."""
    _known(kafka, KAFKA_KEYS, "kafka.", fail)
    version = kafka.get("version", DEFAULT_KAFKA_VERSION)
    versions = tuple(version) if isinstance(version, list) else (version,)
    if not versions or not all(isinstance(v, str) and _VERSION.match(v) for v in versions) or len(set(versions)) != len(versions):
        raise fail(f"'kafka.version' must be a Kafka release such as \"4.1.1\" (quoted), or a list of distinct ones, not {version!r}")
    brokers = kafka.get("brokers", 1)
    if isinstance(brokers, bool) or brokers not in (1, 3):
        raise fail(f"'kafka.brokers' must be 1 or 3, not {brokers!r}")
    storage = kafka.get("storage", "disk")
    if storage not in STORAGES:
        raise fail(f"'kafka.storage' must be {' or '.join(STORAGES)}, not {storage!r}")
    return versions, brokers, storage


def _check_releases(versions: tuple[str, ...], workload: dict, sweep: dict, fail) -> None:
    """Every Kafka version runs on the embedded broker, and has every swept value (the consumer
    group protocol, the transaction.version feature): refused here, not as a failed cell later."""
    for version in versions:
        try:
            check_supported(version)
        except BadInput as exc:
            raise fail(str(exc)) from None
        for p in parameters.PARAMETERS:
            for value in sweep.get(p.name, [workload[p.name]]):
                oldest = p.oldest_kafka(value)
                if oldest and parameters.kafka_release(version)[:2] < parameters.kafka_release(oldest)[:2]:
                    raise fail(f"{p.name} {value} needs Kafka {oldest} or later, and the profile runs Kafka {version}: "
                               f"drop the value or the version")


def _workload_and_sweep(raw: dict, fail) -> tuple[dict, dict]:
    """`workload` (every parameter, its default where not given) and `sweep` (lists of values)."""
    workload = _section(raw, "workload", fail)
    _known(workload, parameters.BY_NAME, "workload.", fail)
    for key, value in workload.items():
        _check_value(f"workload.{key}", key, value, fail)
    given_workload = set(workload)
    workload = {p.name: workload.get(p.name, p.default) for p in parameters.PARAMETERS}

    sweep = _section(raw, "sweep", fail)
    _known(sweep, parameters.BY_NAME, "sweep.", fail)
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise fail(f"'sweep.{key}' must be a non-empty list of values")
        if len(values) > MAX_SWEEP_VALUES:
            raise fail(f"'sweep.{key}' lists {len(values):,} values (at most {MAX_SWEEP_VALUES:,})")
        for value in values:
            _check_value(f"sweep.{key}", key, value, fail)
        if len(set(map(repr, values))) != len(values):
            raise fail(f"'sweep.{key}' lists a value twice")
    both = next((key for key in sweep if key in given_workload), None)
    if both:
        raise fail(f"'{both}' is both in workload and swept: a swept value replaces the workload's; give it in one place")
    return workload, sweep


def _run_shape(raw: dict, sweep: dict, versions: tuple, fail) -> tuple[float, int, str, float]:
    """The run's own keys: warmup_max_s, repeat, order, slot_s; and the cells they make, capped."""
    warmup_max_s = raw.get("warmup_max_s", warmup.MAX_S)
    if isinstance(warmup_max_s, bool) or not isinstance(warmup_max_s, (int, float)) or not 0 <= warmup_max_s <= 3600:
        raise fail(f"'warmup_max_s' must be a number of seconds from 0 to 3600, not {warmup_max_s!r}")
    repeat = raw.get("repeat", 1)
    if not whole(1, MAX_REPEAT)[0](repeat):
        raise fail(f"'repeat' must be {whole(1, MAX_REPEAT)[1]}, not {repeat!r}")
    order = raw.get("order", "interleaved")
    if order not in ORDERS:
        raise fail(f"'order' must be interleaved, sequential or alternating, not {order!r}")
    slot_s = raw.get("slot_s", SLOT_S)
    if "slot_s" in raw and order != "alternating":
        raise fail("'slot_s' is the length of a turn under order alternating: set order: alternating or drop it")
    if isinstance(slot_s, bool) or not isinstance(slot_s, (int, float)) or not 0.5 <= slot_s <= 60:
        raise fail(f"'slot_s' must be a number of seconds from 0.5 to 60, not {slot_s!r}")
    cells = math.prod(len(v) for v in sweep.values()) * repeat * len(versions)
    if cells > MAX_CELLS:
        raise fail(f"the sweep makes up to {cells:,} cell repetitions (at most {MAX_CELLS:,}): sweep fewer values or repeat less")
    return float(warmup_max_s), repeat, order, float(slot_s)


def _modes(raw: dict, workload: dict, sweep: dict, client: dict, fail) -> str | None:
    """The modes against their topologies, the client and the baseline; returns the baseline."""
    run_modes = sweep.get("mode", [workload["mode"]])
    baseline = raw.get("baseline")
    if baseline is not None and baseline not in run_modes:
        raise fail(f"'baseline' {baseline!r} is not among the modes this profile runs ({', '.join(map(str, run_modes))})")
    topologies = sweep.get("topology", [workload["topology"]])
    for mode_name in run_modes:
        mode = modes.MODES[mode_name]
        if not any(t in mode.topologies for t in topologies):
            raise fail(f"mode {mode_name} cannot run in topology {'/'.join(topologies)} (it supports {', '.join(mode.topologies)})")
        try:
            mode.check_client(client)
        except BadInput as exc:
            raise fail(str(exc)) from None
    _check_transaction_length(sweep.get("transaction_ms", [workload["transaction_ms"]]), client, fail)
    for name in ("driver", "transaction_version"):  # set, and shaping none of the cells: said, never ignored
        given = [v for v in sweep.get(name, [workload[name]]) if v != parameters.BY_NAME[name].default]
        if given and not any(parameters.shapes(name, modes.MODES[m], t) for m in run_modes for t in topologies if t in modes.MODES[m].topologies):
            raise fail(f"{name} {given[0]!r} shapes none of this profile's cells: {parameters.BY_NAME[name].doc.split(':')[0]}; "
                       f"modes {', '.join(run_modes)} in topology {'/'.join(topologies)}")
    return baseline


def _faults(raw: dict, workload: dict, sweep: dict, brokers: int, fail) -> list[dict]:
    """`faults`: each checked against its declaration (bench.fault_kinds), the cells and the window."""
    faults = raw.get("faults")
    faults = [] if faults is None else faults
    if not isinstance(faults, list):
        raise fail("'faults' must be a list")
    topologies = sweep.get("topology", [workload["topology"]])
    shortest = min(sweep.get("duration_s", [workload["duration_s"]]))
    for i, fault in enumerate(faults):
        _check_fault(fault, f"faults[{i}]", fail)
        target = fault.get("target")
        if isinstance(target, int) and target > brokers:
            raise fail(f"faults[{i}].target: broker {target} does not exist in a {brokers}-broker cluster")
        kind = fault_kinds.of(fault)
        if kind.topology and kind.topology not in topologies:
            raise fail(f"faults[{i}]: {kind.name} needs topology {kind.topology}")
        streams = [m for m in sweep.get("mode", [workload["mode"]]) if modes.get(m).streams_guarantee]
        if kind.own_processor and streams:
            raise fail(f"faults[{i}]: {kind.name} acts on eosbench's own processor, and {streams[0]} is a Kafka Streams "
                       f"application (whose zombies its transactional.id fences: use processor_kill)")
        refused = [g for g in sweep.get("group_protocol", [workload["group_protocol"]]) if g not in kind.group_protocols]
        if refused:
            raise fail(f"faults[{i}]: {kind.name} runs under group_protocol {' or '.join(kind.group_protocols)} only, not "
                       f"{refused[0]}: {kind.why_not_protocol}")
        if kind.avro and "avro" not in sweep.get("serialization", [workload["serialization"]]):
            raise fail(f"faults[{i}]: {kind.name} needs serialization avro (a schema registry in the cell)")
        if fault["at_s"] >= shortest:
            raise fail(f"faults[{i}].at_s {fault['at_s']:g} lies after the measured window ({shortest:g} s): the fault would never happen")
        if fault["at_s"] + fault.get("duration_s", 0) > shortest:
            raise fail(f"faults[{i}] lasts until {fault['at_s'] + fault.get('duration_s', 0):g} s, after the measured window "
                       f"({shortest:g} s): its end, and the recovery, would go unmeasured; shorten it or lengthen duration_s")
    _check_fault_overlaps(faults, brokers, fail)
    return faults


def check_fits_embedded(profile: Profile) -> None:
    """What the embedded cluster (kafka.brokers) can hold: each of a partition's replicas on a broker
    of its own. (A cluster of --bootstrap-servers answers for itself when the topics are made.)"""
    factors = profile.sweep.get("replication_factor", [profile.workload["replication_factor"]])
    wanted = max((rf for rf in factors if rf is not None), default=0)
    if wanted > profile.brokers:
        raise BadInput(f"{profile.source}: replication_factor {wanted} needs {wanted} brokers and the embedded cluster has "
                       f"{profile.brokers} (kafka.brokers): set kafka.brokers: 3, or run against a cluster with --bootstrap-servers")


# What order alternating needs of every cell (bench.cell.turns): eosbench's own Python producers,
# which take turns, in closed loop (an open-loop schedule with holes in it would be another load),
# and no fault, which would strike whichever mode had the turn.
_ALTERNATING = {"rate": ("max", "closed loop"), "topology": ("produce", "its producers take turns"),
                "driver": ("librdkafka", "eosbench's Python producers take turns"),
                "launcher": ("local", "the roles of a group run on this host")}


def _check_alternating(workload: dict, sweep: dict, faults: list, slot_s: float, fail) -> None:
    for key, (needed, why) in _ALTERNATING.items():
        for value in sweep.get(key, [workload[key]]):
            if value != needed:
                raise fail(f"order alternating needs {key} {needed} ({why}), not {value!r}")
    for ms in sweep.get("transaction_ms", [workload["transaction_ms"]]):
        if ms is not None and ms >= 1000 * slot_s:
            raise fail(f"transaction_ms {ms:g} is not shorter than a turn (slot_s {slot_s:g}): a turn's end commits, so every "
                       f"transaction would be cut to the turn; shorten transaction_ms or lengthen slot_s")
    if faults:
        raise fail("order alternating cannot run faults: a fault would strike whichever mode had the turn (use order interleaved)")


def _trogdor(section: dict, fail) -> dict:
    """`trogdor`: `agents` (how many the embedded Trogdor starts, or the names of --trogdor's agents),
    `placement` (agent names per role: producers, consumer, processor), `python` (the interpreter
    with eosbench on the agents' hosts) and `clock` (probe: estimate the clock offset of every
    role, also of those sharing this host's clock, which shows the method's own error)."""
    _known(section, TROGDOR_KEYS, "trogdor.", fail)
    agents = section.get("agents")
    if agents is not None and not whole(1, 16)[0](agents) and not (
            isinstance(agents, list) and agents and all(isinstance(a, str) and a for a in agents) and len(set(agents)) == len(agents)):
        raise fail(f"'trogdor.agents' must be how many agents to start (1 to 16) or a list of distinct agent names, not {agents!r}")
    placement = _section(section, "placement", fail, "trogdor.placement")
    _known(placement, PLACEMENT_KEYS, "trogdor.placement.", fail)
    for key, value in placement.items():
        names = value if key == "producers" and isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise fail(f"'trogdor.placement.{key}' must be an agent name{' or a list of them' if key == 'producers' else ''}, not {value!r}")
    if section.get("clock", "auto") not in ("auto", "probe"):
        raise fail(f"'trogdor.clock' must be auto (probe the clock offset of roles on other hosts) or probe (of every role), "
                   f"not {section['clock']!r}")
    python = section.get("python")
    if python is not None and not (isinstance(python, str) and python):
        raise fail(f"'trogdor.python' must be the path of a Python with eosbench installed on the agents' hosts, not {python!r}")
    return section


# Properties eosbench sets itself, per cell and role: a profile that set them would break the cell.
_OWNED = {
    "metadata.broker.list": "give --bootstrap-servers instead",
    "transactional.id": "eosbench gives each transactional client its own",
    "group.id": "eosbench gives each reader its own group",
    "group.instance.id": "eosbench sets it for the processor",
    "group.protocol": "set workload.group_protocol instead (a swept parameter)",
    "max.in.flight.requests.per.connection": "set workload.max_in_flight instead (a swept parameter)",
    "queue.buffering.max.kbytes": "set workload.max_outstanding_kb instead (a swept parameter)",
}


def _client(client: dict, fail) -> dict[str, str]:
    """librdkafka properties for every client: single values, none that eosbench owns, and every one
    accepted by librdkafka itself (so a typo fails now, not inside a role minutes into a run)."""
    for key, value in client.items():
        if not isinstance(key, str) or not isinstance(value, (str, int, float, bool)):
            raise fail(f"'client.{key}' must be a single value (librdkafka property), not {type(value).__name__}")
        owned = _OWNED.get(client_properties.canonical(key))
        if owned:
            raise fail(f"client property '{key}' is set by eosbench: {owned}")
    client = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in client.items()}
    kafka, registry = split_properties(client)
    try:
        check_registry_properties(registry)
    except BadInput as exc:
        raise fail(str(exc)) from None
    refused = _refused_by_librdkafka(kafka)  # one table for producers and consumers: each role then takes its own
    if refused:
        raise fail(f"client: librdkafka refuses the configuration: {refused}")
    return client


# A property librdkafka does not have, set after the profile's: when librdkafka names it, it took
# every one of the profile's.
_SENTINEL = "eosbench.validation.sentinel"


def _refused_by_librdkafka(config: dict[str, str]) -> str | None:
    """Why librdkafka's own property table refuses `config` (a name or a value), or None. Nothing is
    built and nothing is contacted: a client is made with the properties, then one that librdkafka
    does not have, and it stops at the first it refuses, before it creates the client (which would
    connect to the brokers and fetch an OIDC token). Checks across properties come when the run's
    clients start."""
    from confluent_kafka import KafkaException, Producer  # only validation needs librdkafka here

    try:
        Producer({**config, _SENTINEL: "1"})
    except KafkaException as exc:
        message = exc.args[0].str()
        if f'"{_SENTINEL}"' in message:
            return None
        for key, value in config.items():  # librdkafka quotes a refused value: never a secret's
            if client_properties.is_secret(key) and value:
                message = message.replace(value, client_properties.REDACTED)
        return message
    raise AssertionError("librdkafka made a client with a property it does not have")


def _check_transaction_length(intervals: list, client: dict, fail) -> None:
    timeout = client.get("transaction.timeout.ms", DEFAULT_TRANSACTION_TIMEOUT_MS)
    longest = max((v for v in intervals if v is not None), default=None)
    if longest is not None and longest >= float(timeout):
        raise fail(f"transaction_ms {longest:g} is not shorter than transaction.timeout.ms ({timeout}): the coordinator "
                   "would abort every transaction; raise client.transaction.timeout.ms or commit more often")


def _section(raw: dict, name: str, fail, label: str | None = None) -> dict:
    """A section: absent or empty (null) is {}; anything but a mapping (0, [], "") is refused."""
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(f"'{label or name}' must be a mapping, not {type(value).__name__} {json.dumps(value)[:40]}")
    return value


def _known(mapping: dict, allowed, prefix: str, fail) -> None:
    for key in mapping:
        if key not in allowed:
            raise fail(f"unknown key '{prefix}{key}' (known: {', '.join(allowed)})")


def _check_value(label: str, key: str, value: Any, fail) -> None:
    parameter = parameters.BY_NAME[key]
    if not parameter.accepts(value):
        raise fail(f"'{label}' must be {parameter.check[1]}, not {value!r}")


def _check_fault_overlaps(faults: list[dict], brokers: int, fail) -> None:
    """Two faults overlap when each starts before the other ends; an instant fault (no duration)
    lasts a nanosecond, so it overlaps what it lands inside, and two back to back do not."""
    spans = [(fault_kinds.of(f).subject(f, brokers), f["at_s"], f["at_s"] + f.get("duration_s", 0)) for f in faults]
    for i, (subject, start, end) in enumerate(spans):
        for j, (other, other_start, other_end) in enumerate(spans[i + 1:], i + 1):
            if subject is not None and subject == other and start < max(other_end, other_start + 1e-9) and other_start < max(end, start + 1e-9):
                raise fail(f"faults[{i}] ({faults[i]['kind']}) and faults[{j}] ({faults[j]['kind']}) act on the same "
                           f"{subject[0]} at once ({start:g}-{end:g} s and {other_start:g}-{other_end:g} s): "
                           "neither would be measured; space them apart")


def _check_fault(fault: Any, label: str, fail) -> None:
    if not isinstance(fault, dict) or "kind" not in fault:
        raise fail(f"'{label}' must be a mapping with a 'kind'")
    kind = fault_kinds.KINDS.get(fault["kind"]) if isinstance(fault["kind"], str) else None
    if kind is None:
        raise fail(f"'{label}.kind' must be one of {', '.join(fault_kinds.KINDS)}, not {fault['kind']!r}")
    _known(fault, ("kind", *kind.allowed), f"{label}.", fail)
    if not _SECONDS_INTO_WINDOW[0](fault.get("at_s")):
        raise fail(f"'{label}.at_s' must be a number of seconds into the measured window ({_SECONDS_INTO_WINDOW[1]})")
    if not between(0, 3_600)[0](fault.get("duration_s", 0)):
        raise fail(f"'{label}.duration_s' must be {between(0, 3_600)[1]} seconds")
    kind.check(fault, label, fail)
