"""The script of a cell, as docs/profiles.md ("How a cell is measured") gives it.

Create the cell's topics and wait for leaders (and for init_transactions in every transactional
role), warm up, measure, drain until every acknowledged record has been read or the readers go
quiet, account for every record id, delete the topics. The roles run in their own processes
(started by a launcher, bench.roles.launcher); this module only coordinates them and adds up what
they report.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
from dataclasses import replace
from typing import Callable

from confluent_kafka.admin import AdminClient

from bench import modes
from bench.cell import derive, features, topics, topology
from bench.cell.faults import READY_TIMEOUT_S, ZOMBIE, FaultSchedule
from bench.cell.resources import ResourceProbe, Sample, Window
from bench.cell.turn_costs import TurnCpu
from bench.cell.turns import Turns
from bench.cell.spec import CellOutcome, CellSpec, Target
from bench.errors import AgentLost, CellFailed, EnvironmentProblem
from bench.client_properties import redact
from bench.metrics import ACKED, LAG_COLUMNS, LATENCY_KINDS, LatencySeries
from bench.roles import ClientLog
from bench.roles.launcher import CommandLauncher, Launcher, RoleProcess, SpawnLauncher
from bench.roles.protocol import ROLES, DrainOrder, Kind, ProducerResult, ProducerSpec, Role, Timeline

DRAIN_QUIET_S = 5.0
DRAIN_TIMEOUT_S = 900.0  # a hard cap only: readers that still make progress are never cut off earlier
UNKNOWN = 1 << 62  # records to expect when nobody knows: readers stop on a quiet period at the end of the log


def run_cell(
    spec: CellSpec, target: Target, ordinal: int, run_tag: str, keep_topics: bool = False,
    on_progress: Callable[[float, int], None] | None = None, launcher: Launcher | None = None,
    together: "Together | None" = None, turn: int = 0,
) -> CellOutcome:
    """Measure one cell; a failure becomes the outcome's status, never an exception (but an agent
    lost, which stops the run for --resume). `together`: the cell is number `turn` of an
    alternating group (run_group), taking turns with the others inside one shared window."""
    spec.check()
    cell = _Cell(spec, target, ordinal, run_tag, launcher, together, turn)
    try:
        cell.prepare()
        cell.start_roles()
        cell.measure(on_progress)
        cell.drain()
        cell.collect_lag()
    except CellFailed as exc:
        cell.fail(exc)
    finally:
        cell.clean_up(keep_topics)
    if cell.lost:
        raise cell.lost
    return cell.outcome()


class _Cell:
    """One cell's run, phase by phase (run_cell gives the order); what each phase leaves behind."""

    def __init__(self, spec: CellSpec, target: Target, ordinal: int, run_tag: str, launcher: Launcher | None,
                 together: "Together | None", turn: int):
        if launcher is None:
            launcher = (target.trogdor.launcher(spec.producers, f"eosbench.{run_tag}.c{ordinal}") if spec.launcher == "trogdor"
                        else SpawnLauncher())
        self.spec, self.target, self.ordinal, self.launcher, self.together, self.turn = spec, target, ordinal, launcher, together, turn
        mode = modes.get(spec.mode)
        self.names = topology.Names.of(run_tag, ordinal, spec.topology, spec.fan_out)
        self.admin_log = ClientLog("admin", target.admin_config)
        self.admin = AdminClient(target.admin_config, logger=self.admin_log.logger)
        self.configs = topology.client_configs(spec, mode, target, self.names)
        specs = topology.roles(spec, mode, target, self.names, self.configs, ordinal)
        if together:  # the producers send in the cell's slots; its reader reads once the window has ended
            slots = together.turns.slots(turn)
            specs = replace(specs, producers=[replace(p, turns=slots) for p in specs.producers],
                            consumer=replace(specs.consumer, after_window=True))
        self.specs = specs
        self.running: list[RoleProcess] = together.running(turn) if together else []
        self.producers: list[RoleProcess] = []
        self.latencies = {kind: LatencySeries() for kind in LATENCY_KINDS}
        self.lag_rows: list[tuple] = []
        self.lag_error: str | None = None
        self.faults_done: list[dict] = []
        self.timeline: Timeline | None = None
        self.edges: WindowEdges | None = None
        self.status = "ok"
        self.lost: AgentLost | None = None
        self.results: dict[str, object] = {}
        self.tracebacks: dict[str, str] = {}
        self.java = CommandLauncher(lambda role: [*target.java, role.java_class])

    def start(self, name: str, role: Role, role_spec: object) -> RoleProcess:
        """A Python role through the cell's launcher; a Java one (bench/jvm/) as a JVM speaking JSON lines."""
        if role.java_class and not self.target.java:
            raise CellFailed(f"{name} of this cell ({self.spec.mode}, driver {self.spec.driver}) needs eosbench's Java module, "
                             "which this run did not build")
        return (self.java if role.java_class else self.launcher).start(name, role, role_spec)

    def restart_processor(self, own_identity: bool = False) -> RoleProcess:
        """The processor, again with the same identity (a processor_kill fault), or with one of its
        own (the successor of a processor_zombie: another transactional.id and group member)."""
        processor = topology.successor(self.specs.processor) if own_identity else self.specs.processor
        return self.start("processor", self.specs.processor_role, processor)

    def start_producer(self, producer: ProducerSpec) -> RoleProcess:
        return self.start(producer.role, self.specs.producer_role, producer)

    def prepare(self) -> None:
        """The cluster's transaction.version, the topics with their leaders, the registry's subjects."""
        if self.spec.transaction_version is not None:
            features.set_transaction_version(self.target, self.spec.transaction_version)
        if self.spec.group_protocol == "consumer" and self.specs.processor_role is ROLES["processor"]:
            features.set_group_session_timeout(self.admin, self.names.groups[0], topology.PROCESSOR_SESSION_TIMEOUT_MS)
        topics.create(self.admin, self.spec, self.target, self.names.topics)
        if self.spec.serialization == "avro":
            try:
                self.target.registry.prepare(topology.subjects(self.names.topics))
            except Exception as exc:  # httpx's connection errors, the registry's own answers
                raise CellFailed(f"the schema registry did not set FULL compatibility: {exc}") from None

    def start_roles(self) -> None:
        """Reader, processor, producers and lag sampler started, all ready, then one timeline for all."""
        specs = self.specs
        self.reader = self.start("consumer", specs.consumer_role, specs.consumer)
        self.running.append(self.reader)
        if specs.processor:
            self.running.append(self.restart_processor())
        self.producers = [self.start_producer(p) for p in specs.producers]
        self.running += self.producers
        self.sampler = self.launcher.start(specs.lag.role, ROLES["lag"], specs.lag)
        self.running.append(self.sampler)
        for role in self.running:
            role.expect(Kind.READY, READY_TIMEOUT_S)
        spec = self.spec
        self.timeline = self.together.timeline() if self.together else Timeline.starting_in(0.3, spec.warmup_s, spec.duration_s)
        for role in self.running:
            role.send(Kind.GO, self.timeline)

    def measure(self, on_progress: Callable[[float, int], None] | None) -> None:
        """The warm-up and the window, its faults applied on time and ended whatever happens."""
        self.schedule = FaultSchedule(self.spec, self.target, self.admin, self.names.topics[0], self.timeline, self.running,
                                      self.restart_processor if self.specs.processor else None, self.producers,
                                      self.start_producer)
        # The brokers' counters over a shared window would mix the group's modes: not read per cell there.
        self.edges = WindowEdges(None if self.together else self.target.resources,
                                 self.names.topics + self.specs.internal_topics, self.timeline)
        try:
            _measure(self.timeline, self.running, self.producers, self.schedule, on_progress, self.edges)
        finally:
            self.schedule.finish()
            self.faults_done = self.schedule.done

    def drain(self) -> None:
        """The producers' results, then the readers drained until every acknowledged record is read
        (or they go quiet at the end of the log when a killed producer's fate is unknown)."""
        spec, schedule, results = self.spec, self.schedule, self.results
        for p in self.producers:
            results[p.name] = p.finish(300)
        expected = spec.fan_out * (sum(r.states.count(ACKED) for r in results.values())
                                  + sum(end - first for k in schedule.killed for first, end in k.announced))
        if any(not k.spec.announce_transactions or "transactional.id" not in k.spec.config for k in schedule.killed):
            expected = UNKNOWN  # a killed producer's fate is unknown: read to the end of the log
        # a processor_zombie's successor first: once it leaves the group, the zombie reads what is left
        readers = [r for name in ("processor", ZOMBIE) for r in self.running if r.name == name] + [self.reader]
        for role in readers:
            role.send(Kind.DRAIN, DrainOrder(expected, DRAIN_QUIET_S, DRAIN_TIMEOUT_S))
            results[role.name] = read = role.finish(DRAIN_TIMEOUT_S + 30)
            if read.cut_off:
                got = read.received if role is self.reader else read.processed
                raise CellFailed(f"{role.name} still reading after {DRAIN_TIMEOUT_S:.0f}s of drain ({got:,} of {expected:,} "
                                 "acknowledged records): not counted as lost; lower the rate or duration")
        if ZOMBIE in results:
            zombie = results[ZOMBIE]
            results["processor"] = derive.with_zombie(results["processor"], zombie)
            for record in (f for f in self.faults_done if f["kind"] == "processor_zombie"):
                record["zombie_aborts"] = zombie.aborts  # its open transaction, refused or revoked: fenced
        if schedule.processor_window_before_kills:
            results["processor"] = derive.with_predecessors(results["processor"], schedule.processor_window_before_kills)
        if "processor" in results:
            derive.recovery(self.faults_done, results["processor"], self.timeline)
        for killed in schedule.killed:
            results[killed.name] = derive.reconstructed(killed.spec, killed.announced, results["consumer"].ids, spec.fan_out,
                                                        killed.progress)

    def collect_lag(self) -> None:
        """Lag samples are auxiliary: a sampler lost to a fault costs its samples, not the cell."""
        try:
            self.sampler.send(Kind.STOP)
            self.results[self.sampler.name] = self.sampler.finish(30)
        except CellFailed as exc:
            self.lag_error = str(exc)
        self.lag_rows = self.sampler.rows

    def fail(self, exc: CellFailed) -> None:
        if self.together:
            self.together.abandon()  # the others stop waiting for this cell's roles
        self.status = f"failed: {exc}"
        self.lost = exc if isinstance(exc, AgentLost) else None
        if exc.traceback:
            self.tracebacks[exc.role] = exc.traceback

    def clean_up(self, keep_topics: bool) -> None:
        """Every role killed, the launcher closed, the topics and subjects deleted, whatever happened."""
        for role in self.running:
            role.kill()
        self.launcher.close()
        if not keep_topics:
            topics.delete(self.admin, self.names.topics + self.specs.internal_topics)
            if self.spec.serialization == "avro" and self.target.registry is not None:
                self.target.registry.forget(topology.subjects(self.names.topics))
        shutil.rmtree(self.names.streams_state_dir, ignore_errors=True)
        self.admin.poll(0)  # serves the admin client's log lines

    def outcome(self) -> CellOutcome:
        """What the roles reported, added up: latencies merged, metrics derived, placement and checks added."""
        spec, results, latencies, timeline = self.spec, self.results, self.latencies, self.timeline
        client_logs = {name: r.client_log for name, r in results.items()}
        client_logs["admin"] = self.admin_log.result()
        for result in results.values():
            for kind, encoded in getattr(result, "histograms", {}).items():
                latencies[kind].merge(encoded)
        where = self.launcher.record()
        refused = derive.cross_host_latency_refused(where.get("clock"))
        if refused:
            latencies["e2e"] = LatencySeries()
        status = self.status
        metrics = (_metrics(spec, self.specs, results, latencies, timeline, self.edges, self.together, self.turn)
                   if status == "ok" else {})
        if metrics and where:
            _add_placement(metrics, where, results, timeline, refused)
        if metrics and metrics["window_records"] == 0:
            # Seen when the machine stalled (out of memory) for the whole window: a cell that delivered
            # nothing measured nothing, and must not pass as a throughput of 0.
            status = (f"failed: nothing was delivered in the measured window ({metrics['sent']:,} records sent, "
                      f"{metrics['backlog']:,} scheduled and never sent): the producers or the machine stalled")
            metrics = {}
        if self.lag_error and metrics:
            metrics["lag_error"] = self.lag_error
        if metrics:
            metrics["client_log_counts"] = {name: log.counts for name, log in client_logs.items() if log.counts}
        return CellOutcome(
            spec=spec, ordinal=self.ordinal, status=status, metrics=metrics, latencies=latencies,
            lag_columns=LAG_COLUMNS, lag_rows=self.lag_rows,
            client_configs={k: redact(v) for k, v in self.configs.items()}, topics=self.names.topics,
            measure_start_epoch_s=(timeline.measure_start_ns / 1e9 + timeline.epoch_offset_s) if timeline else time.time(),
            faults=self.faults_done, client_logs=client_logs, tracebacks=self.tracebacks,
        )


def _add_placement(metrics: dict, where: dict, results: dict, timeline: Timeline, refused: str | None) -> None:
    """Where the roles ran (Trogdor agents): an agent whose producers kept its host busy flags the cell generator-bound."""
    metrics.update(where, agents=derive.agents(where["placement"], results, timeline.duration_s))
    busy = [f"agent {name}'s producers used {a['producer_cpu_share']:.0%} of a core on a {a['cpus']}-core host"
            for name, a in metrics["agents"].items() if a["generator_bound"]]
    if busy and not metrics["generator_bound"]:
        metrics["generator_bound"], metrics["generator_reason"] = True, "; ".join(busy) + ": add agents or hosts"
    if refused:
        metrics["e2e_refused"] = refused


def _metrics(spec: CellSpec, specs: topology.Roles, results: dict, latencies: dict[str, LatencySeries], timeline: Timeline,
             edges: WindowEdges | None, together: "Together | None" = None, turn: int = 0) -> dict:
    cpu_s = {name: r.cpu_total_s for name, r in results.items() if not getattr(r, "reconstructed", False)}
    producers = [r for r in results.values() if isinstance(r, ProducerResult)]  # replacements included
    turns = together.turns if together else None
    out = derive.metrics(spec, producers, results.get("processor"), results["consumer"], cpu_s, latencies, timeline, turns, turn)
    handled = {name: r.sent for name, r in results.items() if isinstance(r, ProducerResult) and not r.reconstructed}
    handled[specs.consumer.role] = results[specs.consumer.role].received
    if specs.processor:
        handled[specs.processor.role] = results[specs.processor.role].processed
    out["client_cpu_us_per_record"] = derive.client_cpu_per_record(cpu_s, handled)
    if edges and edges.probe:
        appended = (derive.measured_records(producers, results["processor"]) if specs.processor
                    else sum(r.acked_during_window for r in producers))
        out.update(derive.resource_costs(spec, appended, edges.window.record() if edges.window else None,
                                         edges.error or "not measured: the window's edges were not both read"))
    elif turns:
        cpu = together.turn_cpu.per_turn(turn)
        out.update(derive.turn_resource_costs(spec, out["turns"]["records"], cpu))
        out["turns"]["broker_cpu_s"] = cpu
    return out


class Together:
    """The cells of one alternating group (bench.cell.turns), each run by run_cell in a thread of
    its own: one timeline for all of them, chosen once every cell's roles are ready, and every
    cell's roles within reach so that an interrupted group leaves no process behind."""

    def __init__(self, turns: Turns, probe: ResourceProbe | None = None):
        self.turns = turns
        self.turn_cpu = TurnCpu(turns, probe)  # the brokers' CPU at every turn's edge, read once for the whole group
        self._ready = threading.Barrier(turns.cells)
        self._lock = threading.Lock()
        self._timeline: Timeline | None = None
        self._running: dict[int, list[RoleProcess]] = {}

    def running(self, turn: int) -> list[RoleProcess]:
        """Cell `turn`'s list of running roles (the cell appends to it)."""
        return self._running.setdefault(turn, [])

    def timeline(self) -> Timeline:
        try:
            self._ready.wait(READY_TIMEOUT_S)
        except threading.BrokenBarrierError:
            raise CellFailed("another cell of its alternating group failed before the window opened") from None
        with self._lock:
            if self._timeline is None:
                self._timeline = Timeline.starting_in(0.3, self.turns.warmup_s, self.turns.window_s)
                self.turn_cpu.start(self._timeline)
            return self._timeline

    def abandon(self) -> None:
        self._ready.abort()
        self.turn_cpu.stop()

    def kill(self) -> None:
        self.abandon()
        for roles in list(self._running.values()):
            for role in list(roles):
                role.kill()


def run_group(cells: list[tuple[CellSpec, int]], target: Target, run_tag: str, turns: Turns, keep_topics: bool = False,
              on_progress: Callable[[int, float, int], None] | None = None) -> list[CellOutcome]:
    """Measure the cells (spec, ordinal) of one alternating group at once, taking turns; their
    outcomes in the same order. `on_progress(cell, elapsed_s, sent)` is called from each cell's
    thread. Ctrl-C kills every role of the group before it goes on."""
    together = Together(turns, target.resources)
    outcomes: list[CellOutcome | BaseException | None] = [None] * len(cells)

    def one(i: int, spec: CellSpec, ordinal: int) -> None:
        try:
            report = functools.partial(on_progress, i) if on_progress else None
            outcomes[i] = run_cell(spec, target, ordinal, run_tag, keep_topics, report, together=together, turn=i)
        except BaseException as exc:  # raised again in the runner's thread
            together.abandon()
            outcomes[i] = exc

    workers = [threading.Thread(target=one, args=(i, spec, ordinal), daemon=True, name=f"cell-{ordinal}")
               for i, (spec, ordinal) in enumerate(cells)]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            while worker.is_alive():
                worker.join(0.2)
    except KeyboardInterrupt:
        together.kill()
        for worker in workers:
            worker.join(10)
        raise
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


class WindowEdges:
    """The brokers' counters read as the measured window opens and as it closes (bench.cell.resources)."""

    def __init__(self, probe: ResourceProbe | None, topics: list[str], timeline: Timeline):
        self.probe, self.topics, self.timeline = probe, topics, timeline
        self.start: Sample | None = None
        self.window: Window | None = None
        self.error = ""

    def next_ns(self) -> int:
        """When the next edge is due (the window's end when there is nothing to read at its start)."""
        if self.probe is None or self.error or self.start is not None:
            return self.timeline.measure_end_ns
        return self.timeline.measure_start_ns

    def step(self, now_ns: int) -> None:
        if self.probe is None or self.window is not None or self.error:
            return
        try:
            if self.start is None and now_ns >= self.timeline.measure_start_ns:
                self.start = self.probe.sample(self.topics)
            elif self.start is not None and now_ns >= self.timeline.measure_end_ns:
                self.window = Window.between(self.start, self.probe.sample(self.topics), self.topics)
        except EnvironmentProblem as exc:  # the probe, not the cell, failed: its figures are not measured
            self.error = f"not measured: {exc}"


def _measure(timeline: Timeline, roles: list[RoleProcess], producers: list[RoleProcess], schedule: FaultSchedule,
             on_progress: Callable[[float, int], None] | None, edges: WindowEdges) -> None:
    """The warm-up and measured window: pass progress on, apply timed faults, read the brokers'
    counters at the window's edges."""
    while True:
        now = time.monotonic_ns()
        edges.step(now)
        if now >= timeline.measure_end_ns:
            break
        time.sleep(max(0.0, min(0.2, (edges.next_ns() - now) / 1e9)))
        for role in roles:
            role.pump()
        elapsed = (time.monotonic_ns() - timeline.start_ns) / 1e9
        if on_progress:
            on_progress(elapsed, sum(p.progress for p in producers))
        schedule.step()
