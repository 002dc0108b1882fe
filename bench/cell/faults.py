"""The faults of a cell's measured window: broker faults (bench.broker.faults) and the role faults
that only the cell runner can apply (a processor killed and restarted, a consumer paused)."""

from __future__ import annotations

import time
from typing import Callable

from confluent_kafka.admin import AdminClient

from bench.broker import faults
from bench.cell.spec import CellSpec, Target
from bench.roles.launcher import CellFailed, RoleProcess
from bench.roles.protocol import Kind, Timeline

READY_TIMEOUT_S = 90.0


class FaultSchedule:
    """Starts each fault at its time in the measured window and ends it `duration_s` later.

    `restart_processor` starts a new processor with the killed one's identity (same spec)."""

    def __init__(self, spec: CellSpec, target: Target, admin: AdminClient, topic: str, timeline: Timeline,
                 roles: list[RoleProcess], restart_processor: Callable[[], RoleProcess] | None):
        self.pending = sorted(spec.faults, key=lambda f: f["at_s"])
        self.active: list[faults.ActiveFault] = []
        self.done: list[dict] = []
        self.target, self.admin, self.topic, self.timeline = target, admin, topic, timeline
        self.roles, self.restart_processor = roles, restart_processor

    def now_s(self) -> float:
        return (time.monotonic_ns() - self.timeline.measure_start_ns) / 1e9

    def step(self) -> None:
        try:
            while self.pending and self.now_s() >= self.pending[0]["at_s"]:
                fault = self.pending.pop(0)
                if fault["kind"] == "processor_kill":
                    self.done.append(self._kill_processor(fault))
                elif fault["kind"] == "consumer_pause":
                    self.done.append(self._pause_consumer(fault))
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

    def _pause_consumer(self, fault: dict) -> dict:
        """Stop the verifying consumer reading and committing for `duration_s` (it stays in its group)."""
        started = self.now_s()
        next(r for r in self.roles if r.name == "consumer").send(Kind.PAUSE, fault["duration_s"])
        return {"kind": "consumer_pause", "start_s": round(started, 3), "end_s": round(started + fault["duration_s"], 3)}

    def _kill_processor(self, fault: dict) -> dict:
        """SIGKILL the processor mid-flight and start a new one with the same identity."""
        index = next(i for i, r in enumerate(self.roles) if r.name == "processor")
        started = self.now_s()
        self.roles[index].kill()
        time.sleep(fault.get("duration_s", 0))
        replacement = self.restart_processor()
        replacement.expect(Kind.READY, READY_TIMEOUT_S)
        replacement.send(Kind.GO, self.timeline)
        self.roles[index] = replacement
        return {"kind": "processor_kill", "start_s": round(started, 3), "end_s": round(self.now_s(), 3)}
