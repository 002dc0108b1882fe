"""A run: a profile's cells measured in order against one cluster, stored as they finish.

The runner owns what outlives a cell: the embedded broker (started for the run and always
stopped, also on Ctrl-C or SIGTERM), the run directory and its manifest status, and the
summaries that are rewritten after every cell so an interrupted run keeps everything finished.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import pandas as pd

from bench import brokers, capacity, environment, fault_kinds, modes, site
from bench.analysis import model, overhead, summary
from bench.cell.phases import run_cell, run_group
from bench.cell.turns import TurnRates, Turns
from bench.cell.spec import CellOutcome, Target
from bench.client_properties import for_client, redact, to_java
from bench.errors import AgentLost, BadInput, EnvironmentProblem, Interrupted
from bench.paths import state_dir
from bench.placement import Placement, pin_this_process
from bench.profile import Profile, check_fits_embedded
from bench.registry.target import RegistryService, split_properties
from bench.results import DEFAULT_RESULTS_DIR, RunStore, new_run_id
from bench.trogdor.target import TrogdorService
from bench.sweep import PlannedCell, batches, plan
from bench import warmup

CELL_OVERHEAD_S = 8.0  # topic setup, role start-up and drain, for the ETA


@dataclass(frozen=True)
class RunRequest:
    profile: Profile
    bootstrap_servers: str | None = None
    results_dir: Path = DEFAULT_RESULTS_DIR
    run_id: str | None = None
    resume: bool = False
    keep_topics: bool = False
    placement: Placement | None = None  # --cpus: broker and clients on disjoint CPUs
    jmx: dict[str, str] = field(default_factory=dict)  # --jmx: broker -> host:port of a cluster eosbench did not start
    schema_registry: str | None = None  # --schema-registry: a Confluent-compatible registry instead of the embedded one
    trogdor: str | None = None  # --trogdor: a Trogdor coordinator for cells with launcher trogdor, instead of the embedded one


@dataclass(frozen=True)
class RunEnd:
    store: RunStore
    status: str              # complete | interrupted | failed
    summary: pd.DataFrame    # one row per cell repetition of the whole run
    broken_guarantees: list[str]
    failed_cells: list[str]


def execute(request: RunRequest, progress: "Progress") -> RunEnd:
    """The run: every service's check before anything is written, then the run directory, the site
    that starts the services (each stopped, whatever happens, by the ExitStack that started it),
    and the cells by Kafka version, each block on brokers of its own."""
    profile = request.profile
    cells = plan(profile)
    placement = request.placement
    per_version = _brokers(request, cells, progress)
    registry, trogdor = _registry(request, cells, progress), _trogdor(request, cells, progress)
    shared = [s for s in (registry, trogdor) if s is not None]
    run_id, resumed = _run_directory(request)
    site.check([*shared, *(s for b in per_version.values() for s in b.services)])
    store = _open_store(request, cells, run_id, resumed)
    progress.note(f"run {store.directory.name}: results in {store.directory.resolve()}")
    todo = [c for c in cells if not store.has_cell(c)]
    progress.begin(len(cells), len(cells) - len(todo), todo)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    _INTERRUPTED.clear()
    if placement:
        store.update_manifest(placement=placement.record())
        cpus_before = pin_this_process(placement.clients)
    status = "failed"
    records: dict[str, dict] = {}
    rows = [summary.row(store, cell) for cell in store.cells()]  # read once; each new cell adds its row
    try:
        with site.Site(state_dir() / "runs" / store.directory.name, progress.note) as run_site:
            for service in shared:
                run_site.start(service)
                store.update_manifest(**{service.name: service.describe()})
            for version, block in _blocks(todo):
                with run_site.part() as block_site:
                    target, record = per_version[version].start(block_site, profile.client)
                    target = replace(target, registry=registry and registry.target, trogdor=trogdor and trogdor.target)
                    records.setdefault(version, record)
                    store.update_manifest(broker=_broker_record(records), status="running")
                    _run_cells(store, block, target, request.keep_topics, progress, rows)
        status = "complete"
    except AgentLost as exc:  # in a warm-up cell (a measured one says more, in _run_cells)
        raise EnvironmentProblem(f"a warm-up cell failed: {exc}; nothing was measured yet") from None
    except KeyboardInterrupt:
        status = "interrupted"
        raise Interrupted(store.directory) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if placement:
            pin_this_process(tuple(cpus_before))
        store.update_manifest(status=status, ended=time.time())
    frame = summary.table(rows)
    failed = sorted(set(frame.loc[frame["status"] != "ok", "cell_id"])) if not frame.empty else []
    return RunEnd(store, status, frame, summary.broken_guarantees(frame), failed)


def _brokers(request: RunRequest, cells: list[PlannedCell], progress: "Progress") -> dict[str, brokers.Brokers]:
    """The brokers of each Kafka version of the run, with the probe and the Java module its cells need."""
    profile, placement = request.profile, request.placement
    java_roles = _check(request, cells, progress)
    return {version: brokers.of(profile.client, request.bootstrap_servers, version, profile.brokers,
                                placement.broker if placement else (), request.jmx, java_roles=java_roles,
                                storage=profile.storage) for version in profile.kafka_versions}


def _check(request: RunRequest, cells: list[PlannedCell], progress: "Progress") -> bool:
    """What the request asks that its cluster cannot give, refused before anything is written;
    whether any cell runs a Java role (eosbench's Java module)."""
    profile = request.profile
    if request.bootstrap_servers and len(profile.kafka_versions) > 1:
        raise BadInput("several kafka versions need the embedded broker: drop --bootstrap-servers or give one version")
    if request.bootstrap_servers and fault_kinds.any_with(profile.faults, "embedded_cluster"):
        named = " and ".join(k.name for k in fault_kinds.KINDS.values() if k.embedded_cluster)
        raise BadInput(f"{named} faults need the embedded broker; against your own cluster use kind 'command'")
    if request.bootstrap_servers and any(c.spec.transaction_version is not None for c in cells):
        raise BadInput("transaction_version is set on the embedded broker only: against your own cluster drop it "
                       "(its transaction.version is read and recorded in the manifest)")
    if any(c.spec.driver == "java" for c in cells):
        for kind in ("producer", "consumer"):
            try:
                to_java(for_client(profile.client, kind), kind)
            except ValueError as exc:
                raise BadInput(f"{profile.source}: {exc}") from None
    if request.bootstrap_servers and profile.storage != "disk":
        progress.note(f"kafka.storage {profile.storage} applies to the embedded broker: the cluster of --bootstrap-servers keeps its own log directories")
    elif not request.bootstrap_servers:
        check_fits_embedded(profile)
    return any(modes.get(c.spec.mode).streams_guarantee or c.spec.driver == "java" for c in cells)


def _registry(request: RunRequest, cells: list[PlannedCell], progress: "Progress") -> RegistryService | None:
    """The schema registry of the run's Avro cells: the user's (--schema-registry) or the embedded
    one; None when no cell serializes with Avro."""
    if not any(c.spec.serialization == "avro" for c in cells):
        if request.schema_registry:
            progress.note("no cell serializes with avro: --schema-registry is not used")
        return None
    if request.schema_registry and fault_kinds.any_with(request.profile.faults, "embedded_registry"):
        named = " and ".join(k.name for k in fault_kinds.KINDS.values() if k.embedded_registry)
        raise BadInput(f"{named} freezes the embedded schema registry; against your own registry use kind 'command'")
    return RegistryService(split_properties(request.profile.client)[1], request.schema_registry)


def _trogdor(request: RunRequest, cells: list[PlannedCell], progress: "Progress") -> TrogdorService | None:
    """The Trogdor of the run's `launcher: trogdor` cells: the user's (--trogdor) or the embedded
    one; None when no cell has launcher trogdor."""
    if not any(c.spec.launcher == "trogdor" for c in cells):
        if request.trogdor:
            progress.note("no cell has launcher trogdor: --trogdor is not used")
        return None
    return TrogdorService(request.trogdor, request.profile.trogdor, request.profile.kafka_versions[0])


def _blocks(cells: list[PlannedCell]) -> list[tuple[str, list[PlannedCell]]]:
    """Consecutive cells of one Kafka version: each block runs on its own broker start."""
    blocks: list[tuple[str, list[PlannedCell]]] = []
    for cell in cells:
        if blocks and blocks[-1][0] == cell.kafka_version:
            blocks[-1][1].append(cell)
        else:
            blocks.append((cell.kafka_version, [cell]))
    return blocks


def _broker_record(brokers: dict[str, dict]) -> dict:
    """The manifest's `broker`: the broker itself, or every version of a multi-version run."""
    if len(brokers) == 1:
        return next(iter(brokers.values()))
    first = next(iter(brokers.values()))
    return {"version": ",".join(brokers), "brokers": first.get("brokers"), "external": False, "versions": brokers}


_INTERRUPTED = threading.Event()


def _interrupt(signum, frame) -> None:
    """Ctrl-C or SIGTERM: stop now, and remember it. The exception can be raised inside Python code
    that a Kafka client calls back (a log line) and be swallowed there; the flag is checked again
    between cells, so the run then stops after the current cell at the latest."""
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _stop_if_interrupted() -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def _run_directory(request: RunRequest) -> tuple[str, RunStore | None]:
    """The run's id, and its store when resumed: checked (bad input) before any service is reached,
    so a taken directory or a changed profile is one line, whatever the services' state."""
    if not request.resume:
        run_id = request.run_id or new_run_id(request.profile.source)
        RunStore.free(request.results_dir, run_id)
        return run_id, None
    if not request.run_id:
        raise BadInput("--resume needs --run-id naming the run to resume")
    store = RunStore.resume(request.results_dir, request.run_id)
    if store.manifest()["profile"] != _jsonable(_resolved(request)):
        raise BadInput(f"run {request.run_id} was made with a different profile: resume it with the same profile and --set values")
    return request.run_id, store


def _resolved(request: RunRequest) -> dict:
    return {**request.profile.as_dict(), "client": redact(request.profile.client)}


def _open_store(request: RunRequest, cells: list[PlannedCell], run_id: str, resumed: RunStore | None) -> RunStore:
    """The run directory, written once every check has passed: a new run's manifest, or a resume's mark."""
    if resumed is not None:
        resumed.update_manifest(resumed_at=time.time(), resumes=resumed.manifest().get("resumes", 0) + 1)
        return resumed
    profile = request.profile
    return RunStore.create(request.results_dir, run_id, {
        "status": "starting", "started": time.time(), "ended": None,
        "profile_source": profile.source, "profile": _resolved(request), "order": profile.order,
        "plan": [{"ordinal": c.ordinal, "repetition": c.repetition, "cell_id": c.cell_id, "kafka_version": c.kafka_version} for c in cells],
        "environment": environment.capture(),
    })


def _jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, default=str))


def _run_cells(store: RunStore, todo: list[PlannedCell], target: Target, keep_topics: bool, progress: "Progress",
               rows: list[dict]) -> None:
    profile = store.manifest()["profile"]
    _warm_up(store, todo, target, progress, profile.get("warmup_max_s", warmup.MAX_S))
    for batch in batches(todo):
        _stop_if_interrupted()
        planned = batch[0]
        progress.cell_started(planned)
        if planned.group is not None:  # order alternating: the batch takes turns in one window
            turns = Turns.of(profile["slot_s"], len(batch), planned.spec.warmup_s, planned.spec.duration_s, seed=planned.group)
            outcomes = run_group([(p.spec, p.ordinal) for p in batch], target, _tag(store), turns, keep_topics,
                                 progress.group_started(batch, turns))
        else:
            outcomes = [_run_one(store, planned, target, keep_topics, progress, len(rows))]
        for i, (planned, outcome) in enumerate(zip(batch, outcomes)):
            if i:
                progress.cell_started(planned)
            rows.append(summary.row(store, store.cell(store.write_cell(planned, outcome))))
            frame = summary.table(rows)
            store.write_table("summary", frame)
            store.write_table("overhead", overhead.overhead(frame, profile["baseline"]))
            progress.cell_done(planned, outcome)
        store.write_json("model", model.record(model.fits(summary.table(rows), profile["baseline"])))
    _stop_if_interrupted()


def _tag(store: RunStore) -> str:
    """What names a cell's topics, transactional ids and groups: the run id, and on a resumed run the
    resume's number too. A cell cut by an interruption left its transaction open on the coordinator;
    the same transactional id again waited about 45 s here (CONCURRENT_TRANSACTIONS) for it to end."""
    resumes = store.manifest().get("resumes", 0)
    return f"{store.directory.name}.resume{resumes}" if resumes else store.directory.name


def _run_one(store: RunStore, planned: PlannedCell, target: Target, keep_topics: bool, progress: "Progress", finished: int) -> CellOutcome:
    try:
        if planned.spec.rate == capacity.FIND:
            return capacity.search(planned.spec, target, planned.ordinal, _tag(store), progress.step)
        return run_cell(planned.spec, target, planned.ordinal, _tag(store), keep_topics, progress.live)
    except AgentLost as exc:
        lost = {"cell_id": planned.cell_id, "repetition": planned.repetition, "status": f"failed: {exc}", "at": time.time()}
        store.update_manifest(lost_cells=[*store.manifest().get("lost_cells", []), lost])
        raise EnvironmentProblem(
            f"cell {planned.cell_id} r{planned.repetition} failed: {exc}. The run stops here and keeps its {finished} "
            f"finished cell(s); once the agent is back, finish it with --run-id {store.directory.name} --resume") from None


def _warm_up(store: RunStore, todo: list[PlannedCell], target: Target, progress: "Progress", max_s: float) -> None:
    """Rounds of one discarded cell per mode (each mode exercises its own broker code: producer
    state, transaction coordinator), interleaved, until the broker is warm (bench.warmup); the
    rounds go into the manifest (`warmup`). A cap of 0 skips it: for a cluster already warm, or a
    test that measures no cost."""
    if max_s == 0:
        progress.note("no warm-up (warmup_max_s 0): the first repetitions include the broker's own warm-up")
        store.update_manifest(warmup=[*store.manifest().get("warmup", []), {"rounds": 0, "converged": False, "seconds": 0.0}])
        return
    first_of_mode: dict[tuple, PlannedCell] = {}
    for planned in todo:
        first_of_mode.setdefault((planned.spec.mode, planned.spec.topology), planned)
    history: dict[str, list[float | None]] = {p.cell_id: [] for p in first_of_mode.values()}
    started = time.monotonic()
    rounds = 0
    while True:
        rounds += 1
        for i, planned in enumerate(first_of_mode.values()):
            _stop_if_interrupted()
            spec = replace(planned.spec, rate=None if planned.spec.rate == capacity.FIND else planned.spec.rate,
                           warmup_s=0, duration_s=warmup.CELL_S, faults=())
            if modes.get(spec.mode).transactional_producer and spec.transaction_size:
                spec = replace(spec, transaction_size=min(spec.transaction_size, warmup.TRANSACTION_SIZE))
            outcome = run_cell(spec, target, 0, f"{_tag(store)}.warmup{rounds}.{i}")
            history[planned.cell_id].append(outcome.metrics.get("broker_cpu_us_per_record"))
        progress.note(f"warming up, round {rounds} (discarded): broker CPU per record "
                      + ", ".join(f"{cell} {_us(h[-1])}" for cell, h in history.items())
                      + (f" (transactions of {warmup.TRANSACTION_SIZE} records)" if any(
                          modes.get(p.spec.mode).transactional_producer for p in first_of_mode.values()) else ""))
        if all(warmup.converged(h) for h in history.values()) or time.monotonic() - started >= max_s:
            break
    warm = all(warmup.converged(h) for h in history.values())
    if not warm:
        progress.note(f"warning: the broker's CPU per record was still changing after {rounds} warm-up round(s) "
                      f"(warmup_max_s {max_s:g}); the first repetitions may include warm-up (manifest 'warmup')")
    record = {"rounds": rounds, "converged": warm, "seconds": round(time.monotonic() - started, 1), "broker_cpu_us_per_record": history}
    store.update_manifest(warmup=[*store.manifest().get("warmup", []), record])  # one per broker start


def _us(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f} us"


class Progress:
    """Cells done / total, elapsed, ETA, the current cell and its live throughput, on stderr."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.total = self.done = 0
        self.remaining_s = 0.0
        self.current: PlannedCell | None = None
        self._last = (0.0, 0)
        self.live_text = self.heading = ""
        self.current_started = self.started

    def note(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def begin(self, total: int, already: int, todo: list[PlannedCell]) -> None:
        self.total, self.done = total, already
        self.remaining_s = sum(c.spec.warmup_s + c.spec.duration_s + CELL_OVERHEAD_S for c in todo)
        if already:
            self.note(f"resuming: {already} of {total} cells already measured")

    def cell_started(self, planned: PlannedCell) -> None:
        self.current, self._last, self.live_text = planned, (0.0, 0), "starting"
        self.heading = f"{planned.cell_id} r{planned.repetition}"
        self.current_started = time.monotonic()
        self._line(final=False)

    def live(self, elapsed_s: float, sent: int) -> None:
        t0, n0 = self._last
        if elapsed_s - t0 >= 1.0:
            self.live_text = f"live {(sent - n0) / (elapsed_s - t0):,.0f} msg/s"
            self._last = (elapsed_s, sent)
            if self.tty:
                self._line(final=False)

    def group_started(self, batch: list[PlannedCell], turns: Turns) -> Callable[[int, float, int], None]:
        """An alternating group begins: what its cells' threads call with their producers' counts.
        The line names the cell whose turn it is, what the last turns sent, and the turns done."""
        rates, lock, labels = TurnRates(turns), threading.Lock(), _labels(batch)
        printed = [0.0]
        shared = [part for part in batch[0].cell_id.split("-") if all(part in c.cell_id.split("-") for c in batch)]
        self.heading = f"{len(batch)} cells {'-'.join(shared)} r{batch[0].repetition} taking turns".replace("  ", " ")

        def live(cell: int, elapsed_s: float, sent: int) -> None:
            with lock:
                rates.add(cell, elapsed_s, sent)
                if not self.tty or elapsed_s - printed[0] < 1.0:
                    return
                printed[0] = elapsed_s
                now = rates.now(elapsed_s)
                last = ", ".join(f"{labels[c]} {rate:,.0f}" for c, rate in rates.last(len(batch)))
                self.live_text = (f"turn {rates.done(elapsed_s)}/{rates.total}, now "
                                  f"{'-' if now is None else labels[now]}; last turns msg/s: {last or '-'}")
                self._line(final=False)
        return live

    def step(self, step: "capacity.Step") -> None:
        """One step of a capacity search."""
        verdict = "sustained" if step.sustained else "not sustained"
        p99 = "-" if step.e2e_p99_ms is None else f"{step.e2e_p99_ms:,.1f} ms"
        self.note(f"  search: {step.rate:,.0f} msg/s asked, {step.throughput_msgs:,.0f} delivered, e2e p99 {p99}: {verdict}")

    def cell_done(self, planned: PlannedCell, outcome: CellOutcome) -> None:
        self.done += 1
        self.remaining_s = max(0.0, self.remaining_s - (planned.spec.warmup_s + planned.spec.duration_s + CELL_OVERHEAD_S))
        m = outcome.metrics
        result = f"{m['throughput_msgs']:,.0f} msg/s" if outcome.status == "ok" else outcome.status
        self._line(final=True, result=result)

    def _line(self, final: bool, result: str = "") -> None:
        if self.quiet or (not final and not self.tty):
            return
        c = self.current
        elapsed = time.monotonic() - self.started
        left = self.remaining_s if final else max(0.0, self.remaining_s - (time.monotonic() - self.current_started))
        now = f"{c.cell_id} r{c.repetition}  {result}" if final else f"{self.heading}  {self.live_text}"
        text = f"[{self.done}/{self.total}] {_clock(elapsed)} elapsed, ETA {_clock(left)}  {now}"
        if not final and self.tty:  # a line that wrapped could not be redrawn in place
            text = text[:self._columns() - 1]
        end = "\n" if final or not self.tty else ""
        print(("\r\033[K" if self.tty else "") + text, end=end, file=self.stream, flush=True)


    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            columns = 0
        return columns or 1 << 16  # 0: a terminal that does not say its width (a pty under `script`): nothing to cut


def _labels(batch: list[PlannedCell]) -> list[str]:
    """The group's cell ids without the parts all of them share (`-p16`): the line has little room."""
    parts = [c.cell_id.split("-") for c in batch]
    shared = set.intersection(*map(set, parts)) if len(parts) > 1 else set()
    return ["-".join(p for p in part if p not in shared) or "-".join(part) for part in parts]


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"
