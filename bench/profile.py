"""Profiles: the YAML that says what to measure, validated strictly before anything runs.

A typo in a benchmark profile that is silently ignored produces a wrong figure with a clean
conscience (OpenMessaging Benchmark's lesson), so an unknown key, a wrong type, a duplicate key or
an impossible combination is refused with one line naming the key and the file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import modes
from bench.broker.distribution import DEFAULT_KAFKA_VERSION
from bench.errors import BadInput

ORDERS = ("interleaved", "sequential")
FAULT_KINDS = ("processor_kill", "consumer_pause", "pause", "kill", "command")

# workload key -> (type check, description for errors, default)
_POSITIVE_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a whole number >= 1")
_NONNEG_NUMBER = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0, "a number >= 0")
_POSITIVE_NUMBER = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "a number > 0")
_OPTIONAL_INT = (lambda v: v is None or _POSITIVE_INT[0](v), "a whole number >= 1 or null")
_OPTIONAL_NUMBER = (lambda v: v is None or _POSITIVE_NUMBER[0](v), "a number > 0 or null")
_RATE = (lambda v: v == "max" or _POSITIVE_NUMBER[0](v), "'max' or a number of records/s > 0")
_RATIO = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1, "a number in [0, 1)")
_MODE = (lambda v: v in modes.MODES, f"one of {', '.join(modes.MODES)}")
_TOPOLOGY = (lambda v: v in ("produce", "process"), "produce or process")

WORKLOAD_KEYS: dict[str, tuple] = {
    "mode": (_MODE, "at_least_once"),
    "topology": (_TOPOLOGY, "produce"),
    "partitions": (_POSITIVE_INT, 1),
    "message_size": (_POSITIVE_INT, 1024),
    "rate": (_RATE, "max"),
    "producers": (_POSITIVE_INT, 1),
    "warmup_s": (_NONNEG_NUMBER, 5),
    "duration_s": (_POSITIVE_NUMBER, 20),
    "transaction_size": (_OPTIONAL_INT, None),
    "transaction_ms": (_OPTIONAL_NUMBER, None),
    "abort_ratio": (_RATIO, 0.0),
    "replication_factor": (_OPTIONAL_INT, None),
    "max_in_flight": (_POSITIVE_INT, 5),
}
TOP_KEYS = ("description", "kafka", "client", "workload", "sweep", "repeat", "order", "baseline", "faults")
KAFKA_KEYS = ("version", "brokers")


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

    def as_dict(self) -> dict:
        """The resolved profile, as recorded in the manifest (secrets are redacted by the caller)."""
        return {
            "description": self.description,
            "kafka": {"version": self.kafka_versions[0] if len(self.kafka_versions) == 1 else list(self.kafka_versions),
                      "brokers": self.brokers},
            "client": dict(self.client), "workload": dict(self.workload), "sweep": dict(self.sweep),
            "repeat": self.repeat, "order": self.order, "baseline": self.baseline, "faults": list(self.faults),
        }


class _StrictLoader(yaml.SafeLoader):
    """YAML whose mappings refuse duplicate keys instead of keeping the last one."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise BadInput(f"duplicate key '{key}' (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load(path: str | Path, overrides: list[str] = (), repeat: int | None = None, kafka_version: str | None = None) -> Profile:
    """Read, override (`--set KEY=VALUE`) and validate a profile; BadInput names key and file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"profile {path} does not exist")
    try:
        raw = yaml.load(path.read_text(), Loader=_StrictLoader)
    except BadInput as exc:
        raise BadInput(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise BadInput(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not a text file") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: a profile is a mapping of keys (description, workload, sweep, ...), not a {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    for item in overrides:
        _apply_override(raw, item, path)
    if repeat is not None:
        raw["repeat"] = repeat
    if kafka_version is not None:
        raw.setdefault("kafka", {})
        raw["kafka"]["version"] = [v.strip() for v in kafka_version.split(",")] if "," in kafka_version else kafka_version
    return _validate(raw, str(path))


def _apply_override(raw: dict, item: str, path: Path) -> None:
    if "=" not in item:
        raise BadInput(f"--set takes KEY=VALUE, not '{item}'")
    key, _, text = item.partition("=")
    try:
        value = yaml.safe_load(text) if text else None
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
    def fail(message: str) -> BadInput:
        return BadInput(f"{source}: {message}")

    _known(raw, TOP_KEYS, "", fail)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("'description' must be one line of text")

    kafka = _section(raw, "kafka", fail)
    _known(kafka, KAFKA_KEYS, "kafka.", fail)
    version = kafka.get("version", DEFAULT_KAFKA_VERSION)
    versions = tuple(str(v) for v in version) if isinstance(version, list) else (str(version),)
    if not versions or len(set(versions)) != len(versions) or any(isinstance(v, (dict, list)) for v in (version if isinstance(version, list) else [])):
        raise fail("'kafka.version' must be a version or a list of distinct versions")
    brokers = kafka.get("brokers", 1)
    if brokers not in (1, 3):
        raise fail(f"'kafka.brokers' must be 1 or 3, not {brokers!r}")

    client = _section(raw, "client", fail)
    for key, value in client.items():
        if not isinstance(value, (str, int, float, bool)):
            raise fail(f"'client.{key}' must be a single value (librdkafka property), not {type(value).__name__}")
    client = {str(k): (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in client.items()}

    workload = _section(raw, "workload", fail)
    _known(workload, WORKLOAD_KEYS, "workload.", fail)
    for key, value in workload.items():
        _check_value(f"workload.{key}", key, value, fail)
    workload = {key: workload.get(key, default) for key, (_, default) in WORKLOAD_KEYS.items()}

    sweep = _section(raw, "sweep", fail)
    _known(sweep, WORKLOAD_KEYS, "sweep.", fail)
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise fail(f"'sweep.{key}' must be a non-empty list of values")
        if len(set(map(repr, values))) != len(values):
            raise fail(f"'sweep.{key}' lists a value twice")
        for value in values:
            _check_value(f"sweep.{key}", key, value, fail)

    repeat = raw.get("repeat", 1)
    if not _POSITIVE_INT[0](repeat):
        raise fail(f"'repeat' must be a whole number >= 1, not {repeat!r}")
    order = raw.get("order", "interleaved")
    if order not in ORDERS:
        raise fail(f"'order' must be interleaved or sequential, not {order!r}")

    run_modes = sweep.get("mode", [workload["mode"]])
    baseline = raw.get("baseline")
    if baseline is not None and baseline not in run_modes:
        raise fail(f"'baseline' {baseline!r} is not among the modes this profile runs ({', '.join(run_modes)})")
    topologies = sweep.get("topology", [workload["topology"]])
    for mode_name in run_modes:
        if not any(t in modes.MODES[mode_name].topologies for t in topologies):
            raise fail(f"mode {mode_name} cannot run in topology {'/'.join(topologies)} (it supports {', '.join(modes.MODES[mode_name].topologies)})")

    faults = raw.get("faults") or []
    if not isinstance(faults, list):
        raise fail("'faults' must be a list")
    for i, fault in enumerate(faults):
        _check_fault(fault, f"faults[{i}]", fail)
        target = fault.get("target")
        if isinstance(target, int) and target > brokers:
            raise fail(f"faults[{i}].target: broker {target} does not exist in a {brokers}-broker cluster")
        if fault["kind"] == "processor_kill" and "process" not in topologies:
            raise fail(f"faults[{i}]: processor_kill needs topology process")

    return Profile(source, description, versions, brokers, client, workload, sweep, repeat, order, baseline, faults)


def _section(raw: dict, name: str, fail) -> dict:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise fail(f"'{name}' must be a mapping, not {type(value).__name__}")
    return value


def _known(mapping: dict, allowed, prefix: str, fail) -> None:
    for key in mapping:
        if key not in allowed:
            raise fail(f"unknown key '{prefix}{key}' (known: {', '.join(allowed)})")


def _check_value(label: str, key: str, value: Any, fail) -> None:
    (ok, what), _ = WORKLOAD_KEYS[key]
    if not ok(value):
        raise fail(f"'{label}' must be {what}, not {value!r}")


def _check_fault(fault: Any, label: str, fail) -> None:
    if not isinstance(fault, dict) or "kind" not in fault:
        raise fail(f"'{label}' must be a mapping with a 'kind'")
    kind = fault["kind"]
    if kind not in FAULT_KINDS:
        raise fail(f"'{label}.kind' must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
    allowed = {"processor_kill": ("at_s", "duration_s"), "consumer_pause": ("at_s", "duration_s"),
               "pause": ("at_s", "duration_s", "target"), "kill": ("at_s", "duration_s", "target"),
               "command": ("at_s", "duration_s", "command", "end_command")}[kind]
    _known(fault, ("kind", *allowed), f"{label}.", fail)
    if not _NONNEG_NUMBER[0](fault.get("at_s")):
        raise fail(f"'{label}.at_s' must be a number of seconds into the measured window")
    if not _NONNEG_NUMBER[0](fault.get("duration_s", 0)):
        raise fail(f"'{label}.duration_s' must be a number of seconds >= 0")
    if kind in ("consumer_pause", "pause") and not _POSITIVE_NUMBER[0](fault.get("duration_s")):
        raise fail(f"'{label}.duration_s' must say how long the {kind} lasts (seconds > 0)")
    target = fault.get("target", "leader")
    if kind in ("pause", "kill") and target != "leader" and not _POSITIVE_INT[0](target):
        raise fail(f"'{label}.target' must be 'leader' or a broker id, not {target!r}")
    if kind == "command" and not isinstance(fault.get("command"), str):
        raise fail(f"'{label}.command' must be the shell command to run")
