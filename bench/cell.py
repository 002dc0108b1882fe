"""One cell: one delivery mode at one parameter point, measured once.

The phases follow METHOD.md: create the cell's topics and wait for leaders (and for
init_transactions in every transactional role), warm up, measure, drain until every acknowledged
record has been read or the readers go quiet, account for every `eosbench-id`, delete the topics.
The roles run in their own processes; this module only coordinates them and adds up what they
report.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
from confluent_kafka import TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from bench import modes
from bench.broker import faults
from bench.client_properties import for_client, redact
from bench.errors import BadInput
from bench.metrics import ACKED, LAG_COLUMNS, LATENCY_KINDS, Accounting, LatencySeries
from bench.profile import MAX_MESSAGE_SIZE
from bench.roles import ClientLog, Timeline, consumer, entry, lag, processor, producer

READY_TIMEOUT_S = 90.0
DRAIN_QUIET_S = 5.0
DRAIN_TIMEOUT_S = 900.0  # a hard cap only: readers that still make progress are never cut off earlier
GENERATOR_CPU_LIMIT = 0.9  # share of one core above which the generator, not Kafka, sets the pace
_SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class CellSpec:
    """The parameters of a cell: everything that decides what is measured."""

    mode: str
    topology: str = "produce"
    partitions: int = 1
    message_size: int = 1024
    rate: int | None = None  # records/s for the whole cell; None is closed loop
    producers: int = 1
    warmup_s: float = 5.0
    duration_s: float = 20.0
    transaction_size: int | None = None
    transaction_ms: float | None = None
    abort_ratio: float = 0.0
    replication_factor: int | None = None  # None: the cluster's default (1 or 3)
    max_in_flight: int = 5  # max.in.flight.requests.per.connection of every producer
    faults: tuple = ()

    def check(self) -> None:
        """Refuse impossible cells before anything runs."""
        mode = modes.get(self.mode)
        if self.topology not in ("produce", "process"):
            raise BadInput(f"topology must be produce or process, not '{self.topology}'")
        if self.topology not in mode.topologies:
            raise BadInput(f"mode {self.mode} does not support topology {self.topology} (it supports {', '.join(mode.topologies)})")
        for name in ("partitions", "message_size", "producers"):
            if getattr(self, name) < 1:
                raise BadInput(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.message_size > MAX_MESSAGE_SIZE:
            raise BadInput(f"message_size {self.message_size} is larger than a Kafka broker accepts by default "
                           f"(message.max.bytes 1048588, less batch and header overhead: at most {MAX_MESSAGE_SIZE})")
        if self.rate is not None and self.rate <= 0:
            raise BadInput(f"rate must be 'max' or a positive number of records/s, not {self.rate}")
        if self.transaction_size is not None and self.transaction_size < 1:
            raise BadInput(f"transaction_size must be at least 1, not {self.transaction_size}")
        if self.transaction_ms is not None and self.transaction_ms <= 0:
            raise BadInput(f"transaction_ms must be positive, not {self.transaction_ms}")
        if not 0.0 <= self.abort_ratio < 1.0:
            raise BadInput(f"abort_ratio must be in [0, 1), not {self.abort_ratio}")
        if self.max_in_flight < 1 or (self.max_in_flight > 5 and mode.producer.get("enable.idempotence") == "true"):
            raise BadInput(f"max_in_flight must be 1..5 with idempotence (mode {self.mode}), not {self.max_in_flight}")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise BadInput("duration_s must be positive and warmup_s not negative")

    @property
    def commits_by_size(self) -> int | None:
        """Transaction / commit size; 100 when neither a size nor an interval is given."""
        if self.transaction_size is None and self.transaction_ms is None:
            return 100
        return self.transaction_size

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """Where a cell runs: the cluster and what every client gets."""

    bootstrap_servers: str
    client: dict = field(default_factory=dict)
    replication_factor: int = 1
    min_insync_replicas: int = 1
    cluster: Any = None  # the embedded Cluster, for broker faults; None for a cluster we did not start

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
    client_logs: dict[str, dict] = field(default_factory=dict)  # role -> ClientLog.result()
    tracebacks: dict[str, str] = field(default_factory=dict)    # role -> the traceback of its failure


class CellFailed(Exception):
    """A role failed or hung; the message becomes the cell's status, the role's traceback (when it
    sent one) goes to the cell's directory as `<role>.traceback`."""

    def __init__(self, message: str, role: str | None = None, traceback: str | None = None):
        super().__init__(message)
        self.role, self.traceback = role, traceback


class RoleProcess:
    """A role process and its pipe."""

    def __init__(self, name: str, module, spec: dict):
        self.name = name
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=entry, args=(module.run, {**spec, "role": name}, child), name=f"eosbench-{name}", daemon=True)
        self.process.start()
        child.close()
        self.result: Any = None
        self.progress = 0
        self.closed = False
        self.rows: list[tuple] = []  # streamed by the lag sampler

    def _receive(self) -> tuple | None:
        """The next message, keeping progress and result; None once the pipe is closed."""
        try:
            message = self.conn.recv()
        except (EOFError, ConnectionResetError):  # the role is gone (a crash can reset the pipe)
            self.closed = True
            return None
        if message[0] == "progress":
            self.progress = message[1]
        elif message[0] == "rows":
            self.rows += message[1]
        elif message[0] == "result":
            self.result = message[1]
        elif message[0] == "error":
            raise CellFailed(f"{self.name}: {message[1]}", self.name, message[2] if len(message) > 2 else None)
        return message

    def expect(self, kind: str, timeout_s: float) -> Any:
        """Wait for a message of `kind`; fail on an error, an exit, or silence."""
        deadline = time.monotonic() + timeout_s
        while True:
            if kind == "result" and self.result is not None:
                return self.result
            if self.closed:
                raise CellFailed(f"{self.name} exited (code {self.process.exitcode}) before '{kind}'")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CellFailed(f"{self.name} sent no '{kind}' within {timeout_s:.0f}s")
            if self.conn.poll(min(remaining, 0.5)):
                message = self._receive()
                if message and message[0] == kind:
                    return message[1]
            elif not self.process.is_alive() and not self.conn.poll():
                self.closed = True

    def pump(self) -> None:
        """Read whatever is waiting, without blocking."""
        while not self.closed and self.conn.poll():
            self._receive()

    def send(self, *message) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError):
            self.pump()  # raises the role's own error if it sent one
            raise CellFailed(f"{self.name} exited (code {self.process.exitcode}) before '{message[0]}'") from None

    def kill(self) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(10)

    def finish(self, timeout_s: float) -> Any:
        result = self.expect("result", timeout_s)
        self.process.join(10)
        return result


def run_cell(
    spec: CellSpec, target: Target, ordinal: int, run_tag: str, keep_topics: bool = False,
    on_progress: Callable[[float, int], None] | None = None,
) -> CellOutcome:
    """Measure one cell; a failure becomes the outcome's status, never an exception."""
    spec.check()
    mode = modes.get(spec.mode)
    names = _names(run_tag, ordinal, spec.topology)
    admin_log = ClientLog("admin", target.admin_config)
    admin = AdminClient(target.admin_config, logger=admin_log.logger)
    configs = _client_configs(spec, mode, target, names)
    roles: list[RoleProcess] = []
    latencies = {kind: LatencySeries() for kind in LATENCY_KINDS}
    lag_rows: list[tuple] = []
    lag_error = None
    faults_done: list[dict] = []
    timeline = None
    status = "ok"
    results: dict[str, Any] = {}
    tracebacks: dict[str, str] = {}
    try:
        _create_topics(admin, spec, target, names["topics"])
        reader = RoleProcess("consumer", consumer, {
            "config": configs["consumer"], "topic": names["topics"][-1],
            "commit_offsets_before_processing": mode.commit_offsets_before_processing,
        })
        roles.append(reader)
        proc_spec = None
        if spec.topology == "process":
            proc_spec = {
                "consumer_config": configs["processor_consumer"], "producer_config": configs["processor_producer"],
                "input_topic": names["topics"][0], "output_topic": names["topics"][1],
                "transaction_size": spec.commits_by_size, "transaction_ms": spec.transaction_ms,
            }
            roles.append(RoleProcess("processor", processor, proc_spec))
        producers = [
            RoleProcess(f"producer-{i}", producer, {
                "config": configs["producer"] if not mode.transactional_producer else {**configs["producer"], "transactional.id": f"{names['prefix']}.producer-{i}"},
                "topic": names["topics"][0], "producer_index": i, "cell_ordinal": ordinal,
                "message_size": spec.message_size, "rate": spec.rate / spec.producers if spec.rate else None,
                "transaction_size": spec.commits_by_size if mode.transactional_producer else None,
                "transaction_ms": spec.transaction_ms, "abort_ratio": spec.abort_ratio,
            })
            for i in range(spec.producers)
        ]
        roles += producers
        sampler = RoleProcess("lag-sampler", lag, {
            "config": target.admin_config,
            "partitions": spec.partitions,
            "groups": [{"group": names["groups"][-1], "topic": names["topics"][-1]}]
            + ([{"group": names["groups"][0], "topic": names["topics"][0]}] if spec.topology == "process" else []),
        })
        roles.append(sampler)
        for role in roles:
            role.expect("ready", READY_TIMEOUT_S)
        timeline = Timeline.starting_in(0.3, spec.warmup_s, spec.duration_s)
        for role in roles:
            role.send("go", timeline)
        schedule = _FaultSchedule(spec, target, admin, names["topics"][0], timeline, roles, proc_spec)
        try:
            _measure(timeline, roles, producers, schedule, on_progress)
        finally:
            schedule.finish()
            faults_done = schedule.done
        for p in producers:
            results[p.name] = p.finish(300)
        expected = sum(r["states"].count(ACKED) for r in results.values())
        readers = ([r for r in roles if r.name == "processor"]) + [reader]
        for role in readers:
            role.send("drain", {"expected": expected, "quiet_s": DRAIN_QUIET_S, "timeout_s": DRAIN_TIMEOUT_S})
            results[role.name] = role.finish(DRAIN_TIMEOUT_S + 30)
            if results[role.name]["cut_off"]:
                read = results[role.name].get("received", results[role.name].get("processed"))
                raise CellFailed(f"{role.name} still reading after {DRAIN_TIMEOUT_S:.0f}s of drain ({read:,} of {expected:,} "
                                 "acknowledged records): not counted as lost; lower the rate or duration")
        try:  # lag samples are auxiliary: a sampler lost to a fault costs its samples, not the cell
            sampler.send("stop", None)
            results[sampler.name] = sampler.finish(30)
        except CellFailed as exc:
            lag_error = str(exc)
        lag_rows = sampler.rows
    except CellFailed as exc:
        status = f"failed: {exc}"
        if exc.traceback:
            tracebacks[exc.role] = exc.traceback
    finally:
        for role in roles:
            role.kill()
        if not keep_topics:
            _delete_topics(admin, names["topics"])
        admin.poll(0)  # serves the admin client's log lines
    client_logs = {name: r["client_log"] for name, r in results.items() if "client_log" in r}
    client_logs["admin"] = admin_log.result()
    for name, result in results.items():
        for kind, encoded in result.get("histograms", {}).items():
            latencies[kind].merge(encoded)
    metrics = _metrics(spec, mode, results, latencies, timeline) if status == "ok" else {}
    if metrics and metrics["window_records"] == 0:
        # Seen when the machine stalled (out of memory) for the whole window: a cell that delivered
        # nothing measured nothing, and must not pass as a throughput of 0.
        status = (f"failed: nothing was delivered in the measured window ({metrics['sent']:,} records sent, "
                  f"{metrics['backlog']:,} scheduled and never sent): the producers or the machine stalled")
        metrics = {}
    if lag_error and metrics:
        metrics["lag_error"] = lag_error
    if metrics:
        metrics["client_log_counts"] = {name: log["counts"] for name, log in client_logs.items() if log["counts"]}
    return CellOutcome(
        spec=spec, ordinal=ordinal, status=status, metrics=metrics, latencies=latencies,
        lag_columns=LAG_COLUMNS, lag_rows=lag_rows,
        client_configs={k: redact(v) for k, v in configs.items()}, topics=names["topics"],
        measure_start_epoch_s=(timeline.measure_start_ns / 1e9 + timeline.epoch_offset_s) if timeline else time.time(),
        faults=faults_done, client_logs=client_logs, tracebacks=tracebacks,
    )


class _FaultSchedule:
    """Starts each fault at its time in the measured window and ends it `duration_s` later."""

    def __init__(self, spec: CellSpec, target: Target, admin: AdminClient, topic: str, timeline: Timeline, roles, proc_spec):
        self.pending = sorted(spec.faults, key=lambda f: f["at_s"])
        self.active: list[faults.ActiveFault] = []
        self.done: list[dict] = []
        self.target, self.admin, self.topic, self.timeline, self.roles, self.proc_spec = target, admin, topic, timeline, roles, proc_spec

    def now_s(self) -> float:
        return (time.monotonic_ns() - self.timeline.measure_start_ns) / 1e9

    def step(self) -> None:
        try:
            while self.pending and self.now_s() >= self.pending[0]["at_s"]:
                fault = self.pending.pop(0)
                if fault["kind"] == "processor_kill":
                    self.done.append(_kill_processor(self.roles, self.proc_spec, self.timeline, fault))
                elif fault["kind"] == "consumer_pause":
                    self.done.append(_pause_consumer(self.roles, self.timeline, fault))
                else:
                    self.active.append(faults.start(fault, self.now_s(), self.target.cluster, self.admin, self.topic))
            for active in [a for a in self.active if self.now_s() >= a.end_at_s]:
                self._end(active)
        except faults.FaultFailed as exc:
            raise CellFailed(str(exc)) from exc

    def finish(self) -> None:
        """End whatever is still active: a fault never outlives its cell (no broker left stopped)."""
        for active in list(self.active):
            try:
                self._end(active)
            except faults.FaultFailed as exc:
                self.done.append({**active.record(), "error": str(exc)})

    def _end(self, active: faults.ActiveFault) -> None:
        self.active.remove(active)
        faults.end(active, self.now_s(), self.target.cluster)
        self.done.append(active.record())


def _measure(timeline: Timeline, roles: list[RoleProcess], producers: list[RoleProcess], schedule: _FaultSchedule, on_progress) -> None:
    """The warm-up and measured window: pass progress on, apply timed faults."""
    while time.monotonic_ns() < timeline.measure_end_ns:
        time.sleep(0.2)
        for role in roles:
            role.pump()
        elapsed = (time.monotonic_ns() - timeline.start_ns) / 1e9
        if on_progress:
            on_progress(elapsed, sum(p.progress for p in producers))
        schedule.step()


def _pause_consumer(roles: list[RoleProcess], timeline: Timeline, fault: dict) -> dict:
    """Stop the verifying consumer reading and committing for `duration_s` (it stays in its group)."""
    started = (time.monotonic_ns() - timeline.measure_start_ns) / 1e9
    next(r for r in roles if r.name == "consumer").send("pause", fault["duration_s"])
    return {"kind": "consumer_pause", "start_s": round(started, 3), "end_s": round(started + fault["duration_s"], 3)}


def _kill_processor(roles: list[RoleProcess], proc_spec: dict, timeline: Timeline, fault: dict) -> dict:
    """SIGKILL the processor mid-flight and start a new one with the same identity."""
    index = next(i for i, r in enumerate(roles) if r.name == "processor")
    started = (time.monotonic_ns() - timeline.measure_start_ns) / 1e9
    roles[index].kill()
    time.sleep(fault.get("duration_s", 0))
    replacement = RoleProcess("processor", processor, proc_spec)
    replacement.expect("ready", READY_TIMEOUT_S)
    replacement.send("go", timeline)
    roles[index] = replacement
    ended = (time.monotonic_ns() - timeline.measure_start_ns) / 1e9
    return {"kind": "processor_kill", "start_s": round(started, 3), "end_s": round(ended, 3)}


def _names(run_tag: str, ordinal: int, topology: str) -> dict:
    prefix = f"eosbench.{run_tag}.{ordinal}"
    topics = [f"{prefix}.input", f"{prefix}.output"] if topology == "process" else [f"{prefix}.records"]
    groups = [f"{prefix}.processor", f"{prefix}.verifier"] if topology == "process" else [f"{prefix}.verifier"]
    return {"prefix": prefix, "topics": topics, "groups": groups}


def _client_configs(spec: CellSpec, mode: modes.Mode, target: Target, names: dict) -> dict[str, dict]:
    """Every client's effective properties; what a mode depends on is set explicitly."""
    base = {**target.client, "bootstrap.servers": target.bootstrap_servers}
    producing = {**for_client(base, "producer"), "max.in.flight.requests.per.connection": str(spec.max_in_flight)}
    reading = for_client(base, "consumer")
    configs = {
        # statistics once a second: the load generator reads the brokers' quota throttle time from them
        "producer": {"statistics.interval.ms": "1000", **mode.producer_config(producing)},
        "consumer": {**mode.consumer_config(reading), "group.id": names["groups"][-1]},
    }
    if spec.topology == "process":
        configs["processor_consumer"] = {
            **mode.consumer_config(reading), "group.id": names["groups"][0],
            "group.instance.id": f"{names['prefix']}.processor",  # a restarted processor takes over at once
            "session.timeout.ms": "10000",
        }
        configs["processor_producer"] = mode.producer_config(producing)
        if mode.transactional_processor:
            configs["processor_producer"]["transactional.id"] = f"{names['prefix']}.processor"
    for role, config in configs.items():
        # Broker quotas, request logs and metrics are keyed by client.id: one per mode and role lets an
        # operator throttle or watch exactly one of them (a profile's own client.id wins).
        config.setdefault("client.id", f"eosbench-{mode.name}-{role.replace('_', '-')}")
    return configs


def _create_topics(admin: AdminClient, spec: CellSpec, target: Target, topics: list[str]) -> None:
    rf = spec.replication_factor or target.replication_factor
    # The cluster's own min.insync.replicas applies (it is what a deployment runs with); only a
    # replication factor below it, asked for by the cell, needs a topic-level setting to be writable.
    config = {"min.insync.replicas": str(rf)} if spec.replication_factor and rf < target.min_insync_replicas else {}
    futures = admin.create_topics([NewTopic(t, spec.partitions, rf, config=config) for t in topics])
    try:
        for f in futures.values():
            f.result(30)
    except Exception as exc:
        raise CellFailed(f"could not create topics: {exc}") from exc
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = admin.describe_topics(TopicCollection(topics))
        try:
            if all(p.leader is not None for f in described.values() for p in f.result(10).partitions):
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise CellFailed("topic partitions had no leader within 30s")


def _delete_topics(admin: AdminClient, topics: list[str]) -> None:
    try:
        for f in admin.delete_topics(topics).values():
            f.result(30)
    except Exception:
        pass  # topics that were never created, or a broker gone: nothing to clean


def _metrics(spec: CellSpec, mode: modes.Mode, results: dict, latencies: dict[str, LatencySeries], timeline: Timeline) -> dict:
    producer_results = [r for name, r in results.items() if name.startswith("producer-")]
    states = {r["producer_index"]: np.frombuffer(r["states"], dtype=np.uint8) for r in producer_results}
    accounting = Accounting.reconcile(states, results["consumer"]["ids"])
    proc = results.get("processor")
    window_records = proc["window_committed"] if proc else sum(r["window_acked"] for r in producer_results)
    duration = timeline.duration_s
    throughput = window_records / duration
    txn_source = [proc] if proc else producer_results
    cpu_share = max((r["cpu_window_s"] / duration for r in producer_results), default=0.0)
    metrics: dict[str, Any] = {
        **asdict(accounting),
        "window_records": window_records,
        "throughput_msgs": throughput,
        "throughput_mb": throughput * spec.message_size / 1e6,
        "transactions": sum(r.get("transactions", 0) for r in txn_source),
        "aborts": sum(r.get("aborts", 0) for r in txn_source),
        "aborts_on_purpose": sum(r.get("aborts_on_purpose", 0) for r in producer_results),
        "rewinds": proc["rewinds"] if proc else 0,
        "consumer_window_msgs": results["consumer"]["window_received"] / duration,
        "cpu_s": {name: round(r["cpu_total_s"], 3) for name, r in results.items()},
        "generator_cpu_share": round(cpu_share, 3),
        "backlog": sum(r.get("backlog", 0) for r in producer_results),  # open loop: scheduled, never sent in the window
        # throttle time the brokers imposed for a quota, summed over requests (so it can pass 1.0 with
        # several requests in flight), per producer, as a share of the window
        "throttled_share": round(sum(r.get("throttle_ms", 0.0) for r in producer_results) / (1000 * duration * len(producer_results)), 3),
        "loop": "closed" if spec.rate is None else "open",
        "out_of_range": {k: s.out_of_range for k, s in latencies.items()},
    }
    for kind, series in latencies.items():
        metrics[kind] = series.percentiles_ms()
    # A fault stalls sends by design: then only the CPU criterion can tell that the generator was the limit.
    send_delay = LatencySeries() if spec.faults else latencies["send_delay"]
    metrics["generator_bound"], metrics["generator_reason"] = _generator_bound(cpu_share)
    metrics["behind_schedule"] = _behind_schedule(cpu_share, send_delay)
    return metrics


def _generator_bound(cpu_share: float) -> tuple[bool, str]:
    """The load generator, not Kafka, set the pace: a producer process near a full core."""
    if cpu_share >= GENERATOR_CPU_LIMIT:
        return True, f"a producer process used {cpu_share:.0%} of a core: add producers or use a bigger machine"
    return False, ""


def _behind_schedule(cpu_share: float, send_delay: LatencySeries) -> str:
    """Why an open-loop producer fell ever further behind its schedule, or '' if it did not.

    With a core to spare the producer was waiting, on librdkafka's full queue or on a commit:
    Kafka did not take the rate (saturated, or throttled by a quota). Near a full core it is the
    generator, which `_generator_bound` already says.
    """
    means = [h.get_mean_value() for _, h in sorted(send_delay.intervals.items())]
    if len(means) < 6:
        return ""
    third = len(means) // 3
    early, late = np.mean(means[:third]), np.mean(means[-third:])
    if late <= 10_000 or late <= 2 * early:
        return ""
    who = "the generator" if cpu_share >= GENERATOR_CPU_LIMIT else "Kafka (saturated, or throttled by a quota)"
    return (f"send delay grew from {early / 1000:.1f} ms to {late / 1000:.1f} ms with the producer at {cpu_share:.0%} "
            f"of a core: {who} did not keep the rate")
