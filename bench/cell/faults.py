"""The faults of a cell's measured window: broker faults (bench.broker.faults) and the role faults
that only the cell runner can apply (a processor killed and restarted, or frozen into a zombie
beside a successor; a consumer paused; a producer killed or frozen into a zombie and replaced by a
new instance with its transactional.id)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

from confluent_kafka.admin import AdminClient

from bench.broker import faults
from bench.registry import embedded
from bench.cell.spec import CellSpec, Target
from bench.roles.launcher import RoleProcess
from bench.errors import CellFailed, EnvironmentProblem
from bench.roles.protocol import REPLACEMENT_STRIDE, Kind, Timeline

READY_TIMEOUT_S = 90.0
ZOMBIE = "processor-zombie"  # the frozen processor of a processor_zombie fault, once its successor has its name


class FaultSchedule:
    """Starts each fault at its time in the measured window and ends it `duration_s` later.

    `restart_processor` starts a new processor with the killed one's identity (same spec), or,
    given True, with one of its own;
    `start_producer` starts a producer from its spec. `producers` (shared with the runner) loses a
    killed producer to `killed` and gains its replacement."""

    def __init__(self, spec: CellSpec, target: Target, admin: AdminClient, topic: str, timeline: Timeline,
                 roles: list[RoleProcess], restart_processor: Callable[..., RoleProcess] | None,
                 producers: list[RoleProcess] | None = None, start_producer: Callable[[Any], RoleProcess] | None = None):
        self.pending = sorted(spec.faults, key=lambda f: f["at_s"])
        self.avro = spec.serialization == "avro"
        self.active: list[faults.ActiveFault] = []
        self.done: list[dict] = []
        self.target, self.admin, self.topic, self.timeline = target, admin, topic, timeline
        self.roles, self.restart_processor = roles, restart_processor
        self.producers, self.start_producer = producers if producers is not None else [], start_producer
        self.killed: list[RoleProcess] = []
        self.replacements = 0
        self.processor_window_before_kills = 0  # what killed processors had counted in the window (their last progress)
        self.zombies: list[tuple[float, RoleProcess, dict]] = []  # (resume at, the frozen producer or processor, its record)
        self.registry_paused: tuple[float, dict] | None = None  # (wake at, its record)
        self.process_stops: list[tuple[float, str, dict]] = []  # Trogdor ProcessStopFault tasks: (ends at, task id, record)

    def now_s(self) -> float:
        return (time.monotonic_ns() - self.timeline.measure_start_ns) / 1e9

    def step(self) -> None:
        try:
            while self.pending and self.now_s() >= self.pending[0]["at_s"]:
                fault = self.pending.pop(0)
                if fault["kind"] in faults.BROKER_FAULTS:
                    self.active.append(faults.start(fault, self.now_s(), self.target.cluster, self.admin, self.topic))
                else:
                    INJECTIONS[fault["kind"]](self, fault)
            for active in [a for a in self.active if self.now_s() >= a.end_at_s]:
                self._end(active)
            for zombie in [z for z in self.zombies if self.now_s() >= z[0]]:
                self._thaw(zombie)
            if self.registry_paused and self.now_s() >= self.registry_paused[0]:
                self._wake_registry()
            for stop in [p for p in list(self.process_stops) if self.now_s() >= p[0]]:
                self._end_process_stop(stop)
        except faults.FaultFailed as exc:
            raise CellFailed(str(exc)) from exc

    def finish(self) -> None:
        """End whatever is still active: a fault never outlives its cell (no broker, registry or producer left stopped)."""
        for zombie in list(self.zombies):
            self._thaw(zombie)
        if self.registry_paused:
            self._wake_registry()
        for stop in list(self.process_stops):
            self._end_process_stop(stop, final=True)
        for active in list(self.active):
            try:
                self._end(active)
            except faults.FaultFailed as exc:
                self.done.append({**active.record(), "error": str(exc)})

    def _end(self, active: faults.ActiveFault) -> None:
        self.active.remove(active)
        faults.end(active, self.now_s(), self.target.cluster)
        self.done.append(active.record())

    def _change_schema(self, fault: dict) -> None:
        """The producers change schema themselves (ProducerSpec.schema_changes); the record says when."""
        if self.avro:
            self.done.append({"kind": "schema_change", "compatible": fault.get("compatible", True),
                              "start_s": round(self.now_s(), 3), "end_s": round(self.now_s(), 3)})

    def _pause_consumer(self, fault: dict) -> None:
        """Stop the verifying consumer reading and committing for `duration_s` (it stays in its group)."""
        started = self.now_s()
        next(r for r in self.roles if r.name == "consumer").send(Kind.PAUSE, fault["duration_s"])
        self.done.append({"kind": "consumer_pause", "start_s": round(started, 3), "end_s": round(started + fault["duration_s"], 3)})

    def _pause_registry(self, fault: dict) -> None:
        """Freeze the embedded schema registry for `duration_s`: producers and readers keep only
        what they cached. The record says how many records the producers sent meanwhile (from
        their progress reports, a second apart)."""
        registry = self.target.registry.embedded if self.target.registry else None
        if registry is None:
            raise CellFailed("registry_pause needs the embedded schema registry; against your own registry use kind 'command'")
        embedded.pause(registry, True)
        record = {"kind": "registry_pause", "start_s": round(self.now_s(), 3), "sent_before": self._sent()}
        self.registry_paused = (self.now_s() + fault["duration_s"], record)

    def _wake_registry(self) -> None:
        _, record = self.registry_paused
        embedded.pause(self.target.registry.embedded, False)
        self.registry_paused = None
        sent_before = record.pop("sent_before")
        self.done.append({**record, "end_s": round(self.now_s(), 3), "records_sent_during": self._sent() - sent_before})

    def _stop_processes(self, fault: dict) -> None:
        """Trogdor's ProcessStopFault on the agents' hosts: SIGSTOP every Java process whose jcmd
        line holds `process` (default kafka.Kafka: the brokers), SIGCONT `duration_s` later, done by
        the agents themselves; for clusters whose hosts run a Trogdor agent and that eosbench did not start."""
        if self.target.trogdor is None:
            raise CellFailed("a trogdor_process_stop fault needs a Trogdor (cells with launcher trogdor)")
        process = fault.get("process", "kafka.Kafka")
        task = f"eosbench.{self.topic}.process-stop.{len(self.done)}"
        started = self.now_s()
        try:
            self.target.trogdor.stop_processes(task, fault["agents"], process, fault["duration_s"])
        except EnvironmentProblem as exc:
            raise CellFailed(f"Trogdor did not start the process-stop fault: {exc}") from None
        record = {"kind": "trogdor_process_stop", "agents": fault["agents"], "process": process, "task": task,
                  "start_s": round(started, 3)}
        self.process_stops.append((started + fault["duration_s"], task, record))

    def _end_process_stop(self, stop: tuple[float, str, dict], final: bool = False) -> None:
        """Trogdor resumes the processes itself at the task's end and says so in the task's state
        (on its next heartbeat: looked at again each half second for up to 10 s, never blocking the
        window); the cell's end stops a task still running. The record keeps Trogdor's last status."""
        self.process_stops.remove(stop)
        ends_at, task, record = stop
        coordinator = self.target.trogdor.coordinator
        try:
            state = coordinator.task(task)
            if not final and state is not None and state.state != "DONE" and self.now_s() < ends_at + 10:
                self.process_stops.append((self.now_s() + 0.5, task, record))
                return
            if final and state is not None and state.state != "DONE":
                coordinator.stop(task)
                deadline = time.monotonic() + 5
                while state is not None and state.state != "DONE" and time.monotonic() < deadline:
                    time.sleep(0.1)
                    state = coordinator.task(task)
            outcome = {"trogdor_state": state.state, "trogdor_status": state.status, "error": state.error or None} if state else {}
            coordinator.destroy(task)
        except EnvironmentProblem as exc:
            outcome = {"error": str(exc)}
        self.done.append({**record, "end_s": round(self.now_s(), 3), **{k: v for k, v in outcome.items() if v is not None}})

    def _sent(self) -> int:
        for producer in self.producers:
            producer.pump()
        return sum(p.progress for p in self.producers)

    def _kill_producer(self, fault: dict) -> None:
        """SIGKILL the first producer mid-flight (mid-transaction, for a transactional one) and, after
        `duration_s`, start a new instance with the same transactional.id: its init_transactions
        aborts what the dead one left open, which must never become visible."""
        victim = self.producers[0]
        started = self.now_s()
        victim.kill()
        self.producers.remove(victim)
        self.roles.remove(victim)
        self.killed.append(victim)
        time.sleep(fault.get("duration_s", 0))
        replacement = self._replace(victim)
        self.done.append({"kind": "producer_kill", "producer": victim.name, "replacement": replacement.name,
                          "start_s": round(started, 3), "end_s": round(self.now_s(), 3)})

    def _freeze_producer(self, fault: dict) -> None:
        """SIGSTOP the first producer mid-transaction, start a new instance with its transactional.id
        (which fences it off), and wake it `duration_s` later: a zombie, whose writes the brokers must
        refuse and no read_committed reader may ever see."""
        victim = self.producers[0]
        started = self.now_s()
        victim.freeze(True)
        replacement = self._replace(victim)
        record = {"kind": "zombie", "producer": victim.name, "replacement": replacement.name, "start_s": round(started, 3)}
        self.zombies.append((started + fault["duration_s"], victim, record))

    def _thaw(self, zombie: tuple[float, RoleProcess, dict]) -> None:
        self.zombies.remove(zombie)
        _, victim, record = zombie
        victim.freeze(False)
        self.done.append({**record, "end_s": round(self.now_s(), 3)})

    def _replace(self, victim: RoleProcess) -> RoleProcess:
        """A new producer with the victim's configuration (transactional.id included) and ids of its
        own; an open-loop schedule starts now rather than catching up on the victim's."""
        self.replacements += 1
        index = victim.spec.producer_index + REPLACEMENT_STRIDE * self.replacements
        replacement = self.start_producer(replace(victim.spec, role=f"producer-{index}", producer_index=index))
        replacement.expect(Kind.READY, READY_TIMEOUT_S)
        replacement.send(Kind.GO, replace(self.timeline, start_ns=time.monotonic_ns()))
        self.producers.append(replacement)
        self.roles.append(replacement)
        return replacement

    def _zombie_processor(self, fault: dict) -> None:
        """SIGSTOP the processor mid-transaction, start a successor with an identity of its own, and
        wake the frozen one `duration_s` later. The successor gets the partitions once the frozen
        member's session ends; the woken one, a zombie, still holds its open transaction, which
        only the group's generation (member epoch) may refuse: no read_committed reader may see it."""
        index = next(i for i, r in enumerate(self.roles) if r.name == "processor")
        victim = self.roles[index]
        started = self.now_s()
        victim.freeze(True)
        victim.name = ZOMBIE  # its result is the zombie's; the successor's is the processor's
        successor = self.restart_processor(True)
        successor.expect(Kind.READY, READY_TIMEOUT_S)
        successor.send(Kind.GO, self.timeline)
        self.roles[index] = successor
        self.roles.append(victim)
        self.zombies.append((started + fault["duration_s"], victim, {"kind": "processor_zombie", "start_s": round(started, 3)}))

    def _kill_processor(self, fault: dict) -> None:
        """SIGKILL the processor mid-flight and start a new one with the same identity."""
        index = next(i for i, r in enumerate(self.roles) if r.name == "processor")
        started = self.now_s()
        self.roles[index].kill()
        self.processor_window_before_kills += self.roles[index].progress
        time.sleep(fault.get("duration_s", 0))
        replacement = self.restart_processor()
        replacement.expect(Kind.READY, READY_TIMEOUT_S)
        replacement.send(Kind.GO, self.timeline)
        self.roles[index] = replacement
        self.done.append({"kind": "processor_kill", "start_s": round(started, 3), "end_s": round(self.now_s(), 3)})


# How each kind of bench.fault_kinds is injected, besides the brokers' own (bench.broker.faults).
INJECTIONS: dict[str, Callable[[FaultSchedule, dict], None]] = {
    "processor_kill": FaultSchedule._kill_processor,
    "processor_zombie": FaultSchedule._zombie_processor,
    "consumer_pause": FaultSchedule._pause_consumer,
    "producer_kill": FaultSchedule._kill_producer,
    "zombie": FaultSchedule._freeze_producer,
    "schema_change": FaultSchedule._change_schema,
    "registry_pause": FaultSchedule._pause_registry,
    "trogdor_process_stop": FaultSchedule._stop_processes,
}
