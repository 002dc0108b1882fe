"""The metrics of a run, each declared once: where its value comes from, how repetitions combine,
its unit, which direction is better, and how it prints.

The summary's columns (summary.csv, in this order), the per-cell table, the terminal table, the
report's capacity table and compare's gated figures all read these declarations: a new metric is
one entry here plus the code that measures it (a role's result and `bench.cell.derive`).
Flags (why a figure should not be taken at face value) are structured values, `Flags`, printed
as text only at the end.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from bench.formatting import percent
from bench.metrics import REQUEST_TYPES
from bench.parameters import BY_NAME as PARAMETERS_BY_NAME, NAMES as PARAMETER_NAMES

# The tables that show metrics, each listing its columns in order (a cell's id and flags aside).
RUN_TABLE, CAPACITY, RESOURCES = "run table", "capacity", "resources"
VIEWS = {
    RUN_TABLE: ("throughput_msgs", "throughput_mb", "e2e_p50_ms", "e2e_p99_ms", "commit_p99_ms", "duplicates", "lost",
                "broker_cpu_us_per_record"),
    CAPACITY: ("throughput_msgs", "throughput_mb", "e2e_p50_ms", "e2e_p99_ms", "produce_p99_ms"),
    RESOURCES: ("broker_cpu_us_per_record", "broker_cpu_ms_per_mb", "log_bytes_per_record", "log_overhead_bytes_per_record",
                "internal_log_bytes_per_record", "requests_per_1k", "client_cpu_us_per_record"),
}


@dataclass(frozen=True)
class Source:
    """What one cell repetition left: params.json, metrics.json and lag.csv."""

    params: dict
    metrics: dict
    lag: pd.DataFrame


@dataclass(frozen=True)
class Metric:
    name: str                          # its summary column
    source: Callable[[Source], Any]
    per_cell: str | None = None        # how repetitions combine in the per-cell table: mean | sum | any | max
    unit: str = ""
    higher_is_better: bool | None = None
    label: str = ""                    # a table header
    digits: int = 0
    spread: tuple[str, str] | None = None  # (sd, cv) columns: the per-cell table also gives its spread over repetitions

    @property
    def cv_column(self) -> str | None:
        return self.spread[1] if self.spread else None

    def text(self, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:,.{self.digits}f}"


def _metric(key: str) -> Callable[[Source], Any]:
    return lambda s: s.metrics.get(key)


def _percentile(kind: str, pct: str) -> Callable[[Source], Any]:
    return lambda s: (s.metrics.get(kind) or {}).get(f"{pct}_ms")


def _lag_maximum(column: str) -> Callable[[Source], Any]:
    """Largest total lag of the verified (final) group during the measured window."""
    def maximum(s: Source) -> int | None:
        if s.lag.empty:
            return None
        window = s.lag[(s.lag["phase"] == "measure") & (s.lag["topic"] == s.params["topics"][-1])]
        totals = window.groupby("t_s")[column].sum()
        return int(totals.max()) if len(totals) else None
    return maximum


def _client_errors(s: Source) -> int:
    """librdkafka's error lines (a broker down, a request timed out), counted per kind in metrics.json."""
    return sum(n for counts in (s.metrics.get("client_log_counts") or {}).values()
               for kind, n in counts.items() if kind.split("/")[0] in ("ERROR", "CRITICAL"))


def _requests_per_1k(kind: str | None) -> Callable[[Source], Any]:
    """Broker requests of one type per 1,000 records, or of every type in REQUEST_TYPES (None)."""
    def per_1k(s: Source) -> float | None:
        counts = s.metrics.get("requests_per_1k")
        if counts is None:
            return None
        return counts.get(kind) if kind else sum(counts.values())
    return per_1k


def _client_cpu(kind: str | None) -> Callable[[Source], Any]:
    """Client CPU per record of one kind of role (the mean over its processes, producer-0,
    producer-1..., each per record it handled), or of every kind summed (None): what the
    pipeline's clients spend on one record."""
    def per_record(s: Source) -> float | None:
        by_kind: dict[str, list[float]] = {}
        for name, value in (s.metrics.get("client_cpu_us_per_record") or {}).items():
            by_kind.setdefault(name.split("-")[0], []).append(value)
        means = {k: sum(v) / len(v) for k, v in by_kind.items()}
        if kind is None:
            return sum(means.values()) if means else None
        return means.get(kind)
    return per_record


def _turn_throughputs(turns: dict | None) -> str | None:
    """The throughput of every measured turn, space-separated (one column of the long table)."""
    return " ".join(f"{v:g}" for v in turns["throughput_msgs"]) if turns else None


def _turn_broker_cpu(turns: dict | None) -> str | None:
    """The brokers' CPU per record of every measured turn (us), space-separated; 'nan' for a turn
    not measured (a node restarted) or without records; None where no turn was read."""
    cpu = (turns or {}).get("broker_cpu_s")
    if not cpu:
        return None
    return " ".join(f"{1e6 * c / n:.4g}" if c is not None and n else "nan" for c, n in zip(cpu, turns["records"]))


def turn_series(text: Any) -> list[float]:
    """A per-turn column of the summary (turn_throughputs_msgs, turn_broker_cpu_us) back as numbers
    (none where the cell did not take turns, or the figure was not read per turn)."""
    return [float(v) for v in text.split()] if isinstance(text, str) and text else []


def _outage_records(s: Source) -> int | None:
    """Records the producers sent while a registry_pause fault froze the schema registry; None without one."""
    outages = [f for f in s.params.get("fault_windows") or [] if f.get("kind") == "registry_pause"]
    return sum(f.get("records_sent_during", 0) for f in outages) if outages else None


def _recovery_s(s: Source) -> float | None:
    """Seconds from a processor_kill or processor_zombie to its successor's first commit (bench.cell.derive.recovery);
    None without one."""
    times = [f["recovery_s"] for f in s.params.get("fault_windows") or [] if f.get("recovery_s") is not None]
    return times[-1] if times else None


def request_column(kind: str) -> str:
    """The summary column of one request type per 1,000 records: EndTxn -> requests_per_1k_end_txn."""
    return "requests_per_1k_" + re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


_ACCOUNTING = ("sent", "acked", "failed", "aborted", "consumed", "duplicates", "lost", "unexpected")
_LATENCIES = (("produce", ("p50", "p99", "p999", "p9999")), ("e2e", ("p50", "p99", "p999", "p9999")),
              ("commit", ("p50", "p99", "p999")), ("send_delay", ("p50", "p99")))
_SHOWN = {name for names in VIEWS.values() for name in names}  # latencies a table shows are averaged per cell



def _accounting(key: str) -> Metric:
    bad = key in ("failed", "duplicates", "lost", "unexpected")
    return Metric(key, _metric(key), "sum" if key in ("duplicates", "lost", "unexpected") else None, "records",
                  False if bad else None, {"duplicates": "dup"}.get(key, key))


def _latency(kind: str, pct: str) -> Metric:
    name = f"{kind}_{pct}_ms"
    return Metric(name, _percentile(kind, pct), "mean" if name in _SHOWN else None, "ms", False, f"{kind} {pct} ms", 1)


METRICS: tuple[Metric, ...] = (
    *(_accounting(key) for key in _ACCOUNTING),
    # behind a stateful processor (bench.cell.derive.aggregates): keys whose final count is not their input's
    Metric("aggregates_wrong", _metric("aggregates_wrong"), "sum", "keys", False, "aggregates wrong"),
    Metric("aggregate_excess", _metric("aggregate_excess"), "sum", "records", False, "aggregate excess"),
    # transaction-level checks (bench.metrics.atomicity): aborted reads are `unexpected`, lost writes `lost`
    Metric("torn_transactions", _metric("torn_transactions"), "sum", "transactions", False, "torn transactions"),
    Metric("partial_events", _metric("partial_events"), "sum", "events", False, "partial events"),
    # serialization avro (bench.cell.derive.schema_checks): what a refused or unknown schema got into the topics
    Metric("schema_refused_records", _metric("schema_refused_records"), "sum", "records", None, "refused schema, records tried"),
    Metric("schema_refused_written", _metric("schema_refused_written"), "sum", "records", False, "refused schema, records read"),
    Metric("schema_foreign_records", _metric("schema_foreign_records"), "sum", "records", False, "unknown schema, records read"),
    Metric("undecodable", _metric("undecodable"), "sum", "records", False, "undecodable records"),
    Metric("serialize_errors", _metric("serialize_errors"), "sum", "records", False, "serialization errors"),
    Metric("registry_outage_records", lambda s: _outage_records(s), "sum", "records", True, "sent, registry frozen"),
    Metric("throughput_msgs", _metric("throughput_msgs"), "mean", "msg/s", True, "msg/s", 0, spread=("throughput_sd", "cv")),
    Metric("throughput_mb", _metric("throughput_mb"), "mean", "MB/s", True, "MB/s", 1),
    # order alternating (bench.cell.turns): the window the cell took turns in, and its throughput per measured turn
    Metric("turns_group", lambda s: (s.metrics.get("turns") or {}).get("window")),
    Metric("turn_throughputs_msgs", lambda s: _turn_throughputs(s.metrics.get("turns")), unit="msg/s per turn"),
    Metric("turn_broker_cpu_us", lambda s: _turn_broker_cpu(s.metrics.get("turns")), unit="us/record per turn"),
    Metric("transactions", _metric("transactions"), unit="transactions"),
    # commits Kafka refused with an error the client holds as fatal that is no fence (bench.cell.derive.refused_commits)
    Metric("refused_commits", lambda s: s.metrics.get("refused_commits", 0), "sum", "transactions", False, "commits refused"),
    Metric("refusal", _metric("refusal")),
    Metric("processor_recovery_s", _recovery_s, "mean", "s", False, "recovery after kill, s", 2),
    Metric("aborts", _metric("aborts"), unit="transactions"),
    # what a measured transaction really was (bench.cell.derive.transaction_shape): the cost model's x
    Metric("records_per_transaction", _metric("records_per_transaction"), "mean", "records", label="records/txn", digits=1),
    Metric("partitions_per_transaction", _metric("partitions_per_transaction"), "mean", "partitions", label="partitions/txn", digits=2),
    *(_latency(kind, pct) for kind, pcts in _LATENCIES for pct in pcts),
    # rate: find (bench.capacity): the highest rate sustained within slo_p99_ms
    Metric("sustainable_msgs", lambda s: (s.metrics.get("capacity") or {}).get("sustainable_msgs"), "mean", "msg/s", True,
           "sustainable msg/s"),
    Metric("lag_max_msgs", _lag_maximum("hw_lag"), unit="records", higher_is_better=False),
    Metric("lso_lag_max_msgs", _lag_maximum("lso_lag"), unit="records", higher_is_better=False),
    Metric("loop", _metric("loop")),
    Metric("generator_bound", _metric("generator_bound"), "any"),
    Metric("behind_schedule", lambda s: bool(s.metrics.get("behind_schedule")), "any"),  # open loop: Kafka did not take the rate
    Metric("throttled_share", lambda s: s.metrics.get("throttled_share", 0.0), "max"),   # a broker quota held the producers back
    Metric("generator_cpu_share", _metric("generator_cpu_share"), unit="share of a core"),
    Metric("faults", lambda s: ";".join(f["kind"] for f in s.params.get("fault_windows") or [])),
    Metric("client_errors", _client_errors, unit="lines"),
    # What the measured window cost, per record (bench.cell.derive.resource_costs): read from the
    # brokers, empty where not measured. CPU per record holds still where throughput does not.
    Metric("broker_cpu_us_per_record", _metric("broker_cpu_us_per_record"), "mean", "us/record", False, "broker CPU us/rec", 1,
           spread=("broker_cpu_sd", "broker_cpu_cv")),
    Metric("broker_cpu_ms_per_mb", _metric("broker_cpu_ms_per_mb"), "mean", "ms/MB", False, "broker CPU ms/MB", 1),
    Metric("log_bytes_per_record", _metric("log_bytes_per_record"), "mean", "bytes/record", False, "log B/rec", 1),
    Metric("log_replicated_bytes_per_record", _metric("log_replicated_bytes_per_record"), "mean", "bytes/record", False,
           "log B/rec, all replicas", 1),
    Metric("log_overhead_bytes_per_record", _metric("log_overhead_bytes_per_record"), "mean", "bytes/record", False,
           "log overhead B/rec", 1),
    Metric("internal_log_bytes_per_record", _metric("internal_log_bytes_per_record"), "mean", "bytes/record", False,
           "txn+offsets log B/rec", 2),
    Metric("requests_per_1k", _requests_per_1k(None), "mean", "requests per 1,000 records", False, "requests/1k rec", 1),
    *(Metric(request_column(kind), _requests_per_1k(kind), "mean", "requests per 1,000 records", False,
             f"{kind}/1k rec", 1) for kind in REQUEST_TYPES),
    Metric("client_cpu_us_per_record", _client_cpu(None), "mean", "us/record", False, "client CPU us/rec", 1),
    *(Metric(f"{role}_cpu_us_per_record", _client_cpu(role), "mean", "us/record", False, f"{role} CPU us/rec", 1)
      for role in ("producer", "processor", "consumer")),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def with_parameter_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a column for every parameter: a run made before a parameter existed did not
    record it (an empty value, which matches only another run that did not record it either)."""
    missing = [name for name in PARAMETER_NAMES if name not in frame.columns]
    return frame.assign(**{name: PARAMETERS_BY_NAME[name].before for name in missing}) if missing else frame


def view(name: str) -> list[Metric]:
    """The metrics a table shows, in its order."""
    return [BY_NAME[metric] for metric in VIEWS[name]]


# ----------------------------------------------------------------------------- compared between runs

@dataclass(frozen=True)
class Compared:
    """A figure `compare` tests cell by cell (its name is the key in compare's JSON)."""

    name: str
    column: str | None            # the summary column; None: derived (the EOS cost)
    higher_is_better: bool
    label: str                    # in a regression's line
    title: str                    # of its table ({baseline} is filled in)
    unit: str
    show: Callable[[float], str]  # a value in its table
    table_rank: int               # its table's place in compare's output
    chart: tuple[str, str] | None = None  # (heading, y axis) of its bar chart in compare's HTML page; None: no chart


COMPARED: tuple[Compared, ...] = (
    Compared("throughput", "throughput_msgs", True, "throughput", "Throughput", "msg/s", lambda v: f"{v:,.0f}", 0,
             ("Throughput change per cell", "throughput change, new vs base (%)")),
    Compared("e2e_p99", "e2e_p99_ms", False, "e2e p99", "End-to-end p99 latency", "ms", lambda v: f"{v:,.1f}", 2),
    # a mode's throughput over its baseline's in the same repetition, shown as the overhead 100 x (1 - ratio)
    Compared("cost", None, True, "throughput relative to {baseline}",
             "EOS cost: throughput relative to {baseline} in the same repetition", "overhead", lambda v: percent(100 * (1 - v)), 1,
             ("EOS cost change per cell", "change of throughput relative to {baseline} (%)")),
    # a rise in what the brokers spend per record is a regression even at equal throughput (runs
    # from before broker costs were measured have no such figure, and no such table)
    Compared("broker_cpu", "broker_cpu_us_per_record", False, "broker CPU per record", "Broker CPU per record", "us",
             lambda v: f"{v:,.1f}", 3),
)


# ----------------------------------------------------------------------------- costs against the baseline

@dataclass(frozen=True)
class Cost:
    """A per-record cost whose overhead against the baseline the overhead table gives (columns
    `<name>_overhead_pct`, `<name>_ci_low_pct`, `<name>_ci_high_pct`), paired per repetition like
    throughput; positive means the mode costs more per record."""

    name: str
    column: str   # the summary column
    label: str
    turns_column: str | None = None  # its per-turn column, where it is read at every turn's edge (order alternating)


COSTS: tuple[Cost, ...] = (
    Cost("broker_cpu", "broker_cpu_us_per_record", "broker CPU per record", "turn_broker_cpu_us"),
    Cost("log_bytes", "log_bytes_per_record", "log bytes per record"),
    Cost("requests", "requests_per_1k", "broker requests per record"),
    Cost("client_cpu", "client_cpu_us_per_record", "client CPU per record"),
)


# ----------------------------------------------------------------------------- flags

CV_LIMIT = 0.10
THROTTLE_LIMIT = 0.01  # share of the window a quota held the producers back before a cell says so


@dataclass(frozen=True)
class Flag:
    kind: str   # unstable | generator-bound | behind schedule | throttled | note
    text: str


class Flags(tuple):
    """A cell's flags: structured for code (`has`), one line of text for people (`str`)."""

    def has(self, kind: str) -> bool:
        return any(f.kind == kind for f in self)

    def __str__(self) -> str:
        return "; ".join(f.text for f in self)

    def prefixed(self, prefix: str) -> "Flags":
        return Flags(Flag(f.kind, f"{prefix}{f.text}") for f in self)


def flags(cv: float, generator_bound: bool, behind_schedule: bool = False, throttled_share: float = 0.0) -> Flags:
    found = []
    if cv is not None and not math.isnan(cv) and cv > CV_LIMIT:
        found.append(Flag("unstable", f"unstable (cv {cv:.0%})"))
    if generator_bound:
        found.append(Flag("generator-bound", "generator-bound"))
    if behind_schedule and not generator_bound:
        found.append(Flag("behind schedule", "behind schedule (Kafka did not take the rate)"))
    if throttled_share and throttled_share > THROTTLE_LIMIT:
        found.append(Flag("throttled", f"throttled by a broker quota (throttle time, summed over requests, {throttled_share:.0%} of the window)"))
    return Flags(found)
