"""How long a run will take, wall clock, before it runs: what `validate` and `profiles` print.

A run's time is more than its cells' warm-up and measurement. Each part below was measured on
runs of every shipped profile on a 2-core machine with one embedded broker (three for `faults`),
from the manifest's start and end and each cell's `measure_start_epoch_s`
(results/profile-walls.csv, benchmarks/profile_walls.py):

- the start: the broker (about 8 s), the schema registry, the Trogdor agents;
- the run's warm-up (bench.warmup): rounds of one short discarded cell per mode until the broker is
  warm, at most `warmup_max_s`, and the round under way when the cap is reached finishes;
- around each cell: its topics made and deleted, its roles started, the verifying consumer reading
  the last records back. About 2.5 s in open loop, and for eosbench's own processor; 7 s in
  closed loop, whose producer outruns a reader decoding Avro or running on a Trogdor agent (1.7 to
  16 s; 2 s at 1 KB with plain bytes); 6.5 s where a JVM starts (a Kafka Streams application, or
  the Java clients' roles);
- around each group taking turns (order alternating): the warm-up rounds, the window, and reading
  back every record of the group, which grows with the seconds it sent in closed loop (a group of
  six 24-second cells at 1 KB: 72 s);
- a capacity search (bench.capacity): its probe and bisection steps, then about two confirmations.

An estimate, not a promise: a warm-up that converges early is shorter, a slow machine longer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench import capacity, modes, warmup
from bench.cell.spec import CellSpec
from bench.cell.turns import Turns
from bench.profile import Profile
from bench.sweep import PlannedCell, batches

BROKER_START_S = 8.0       # one broker start: process, controller quorum, first metadata
EXTRA_BROKER_S = 4.0       # each further broker of the embedded cluster
REGISTRY_START_S = 6.0     # the embedded schema registry (ready in 4 to 7 s)
TROGDOR_START_S = 10.0     # the embedded Trogdor coordinator and agents
OPEN_LOOP_AROUND_S = 2.5   # topics, roles, the last records read back, the results written: an open-loop cell
CLOSED_LOOP_AROUND_S = 7.0  # the same for a closed-loop cell, whose reader falls behind
PROCESSOR_AROUND_S = 2.6   # a consume-transform-produce cell with eosbench's processor: input, output, the processor
JVM_AROUND_S = 6.5         # a cell whose roles include a JVM (Kafka Streams, the Java clients): its start and close
GROUP_AROUND_S = 5.0       # a group taking turns: its topics and roles
READBACK_PER_SENT_S = 0.45  # reading a group's records back: seconds per second of closed-loop sending
CAPACITY_CONFIRMATIONS = 2  # expected confirmations of a capacity search (up to capacity.CONFIRMATIONS)


@dataclass(frozen=True)
class Estimate:
    """A run's expected wall time, and the part of it that is warm-up and measurement."""

    wall_s: float
    measurement_s: float

    def line(self) -> str:
        return (f"about {_minutes(self.wall_s)} wall clock on 2 cores, of which {_minutes(self.measurement_s)} "
                f"warm-up and measurement (topics, reading back and the broker's start come on top)")


def estimate(profile: Profile, cells: list[PlannedCell]) -> Estimate:
    """The wall time of running `cells` of `profile` from the start, on the embedded cluster."""
    starts = len(profile.kafka_versions)  # one broker start, and one run warm-up, per Kafka version
    wall = starts * (BROKER_START_S + EXTRA_BROKER_S * (profile.brokers - 1))
    if any(c.spec.serialization == "avro" for c in cells):
        wall += REGISTRY_START_S
    if any(c.spec.launcher == "trogdor" for c in cells):
        wall += TROGDOR_START_S
    wall += starts * _warmup_s(profile, cells)
    measured = 0.0
    for batch in batches(cells):
        spec = batch[0].spec
        if batch[0].group is not None:
            turns = Turns.of(profile.slot_s, len(batch), spec.warmup_s, spec.duration_s, seed=0)
            sending = turns.rounds * profile.slot_s * len(batch)
            measured += turns.warmup_s + turns.window_s
            wall += GROUP_AROUND_S + READBACK_PER_SENT_S * sending
        elif spec.rate == capacity.FIND:
            steps = (capacity.STEPS + 1) * (capacity.STEP_WARMUP_S + capacity.STEP_S)
            confirmations = CAPACITY_CONFIRMATIONS * (spec.warmup_s + spec.duration_s)
            measured += steps + confirmations
            wall += (capacity.STEPS + 1 + CAPACITY_CONFIRMATIONS) * OPEN_LOOP_AROUND_S
        else:
            measured += spec.warmup_s + spec.duration_s
            wall += _around_s(spec)
    return Estimate(wall + measured, measured)


def _warmup_s(profile: Profile, cells: list[PlannedCell]) -> float:
    """The run's warm-up when it runs to its cap: whole rounds until `warmup_max_s` has passed."""
    if profile.warmup_max_s == 0:
        return 0.0
    first: dict[tuple, CellSpec] = {}
    for planned in cells:
        first.setdefault((planned.spec.mode, planned.spec.topology), planned.spec)
    round_s = sum(warmup.CELL_S + _around_s(spec) for spec in first.values())
    return max(1, math.ceil(profile.warmup_max_s / round_s)) * round_s


def _around_s(spec: CellSpec) -> float:
    if modes.get(spec.mode).streams_guarantee or spec.driver == "java":
        return JVM_AROUND_S
    if spec.topology != "produce":
        return PROCESSOR_AROUND_S
    return CLOSED_LOOP_AROUND_S if spec.rate in (None, capacity.FIND) else OPEN_LOOP_AROUND_S


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"
