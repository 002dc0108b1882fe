"""From a profile to the ordered list of cells a run measures.

The sweep is a cartesian product, except that a parameter which means nothing for a mode
(`transaction_size` for `idempotent`) does not multiply that mode's cells. Interleaved order runs
every mode of one parameter point back to back, then the next point, then the next repetition,
so the slow drift of a shared 2-core machine touches every mode alike.

Order alternating puts every cell that is measured against the same baseline cell in one group
that takes turns in one window: the baseline, idempotent, and every transaction size of one
partition count and message size. Each of them is then paired with its baseline turn by turn
(bench.analysis.overhead), which is what a curve across transaction sizes needs: a transaction
size that ran in a window of its own would have no baseline turn beside it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from bench import fault_kinds, modes, parameters
from bench.cell.spec import CellSpec
from bench.errors import BadInput
from bench.profile import Profile


@dataclass(frozen=True)
class PlannedCell:
    """One cell of a run, at its place in the run order."""

    ordinal: int      # position in the run order; unique within the run
    repetition: int   # 1-based
    cell_id: str      # the parameter point and mode; the same across repetitions
    spec: CellSpec
    kafka_version: str
    group: int | None = None  # order alternating: the ordinal of the first cell of the group it takes turns with


def cell_specs(profile: Profile) -> list[tuple[str, CellSpec]]:
    """The distinct cells of one repetition, in interleaved order: (cell_id, spec)."""
    return [cell for point in _points(profile) for cell in point]


def _points(profile: Profile) -> list[list[tuple[str, CellSpec]]]:
    """The distinct cells of one repetition, by parameter point: every mode of a point. Under
    order alternating a point is every cell measured against one baseline cell (`_turn_key`)."""
    swept = {k: v for k, v in profile.sweep.items() if k != "mode"}
    run_modes = profile.sweep.get("mode", [profile.workload["mode"]])
    seen: dict[str, CellSpec] = {}
    points: list[list[tuple[str, CellSpec]]] = []
    by_key: dict[tuple, list[tuple[str, CellSpec]]] = {}
    for values in itertools.product(*swept.values()):
        point = {**profile.workload, **dict(zip(swept, values))}
        key = _turn_key(profile, point, values) if profile.order == "alternating" else values
        if key not in by_key:
            by_key[key] = []
            points.append(by_key[key])
        for mode_name in run_modes:
            mode = modes.MODES[mode_name]
            if point["topology"] not in mode.topologies:
                continue
            params = {k: v for k, v in point.items() if parameters.shapes(k, mode, point["topology"])}
            params["mode"] = mode_name
            cell_id = _cell_id(mode_name, {k: params[k] for k in swept if k in params})
            if cell_id not in seen:
                seen[cell_id] = _spec(params, profile)
                by_key[key].append((cell_id, seen[cell_id]))
    return [point for point in points if point]


def _turn_key(profile: Profile, point: dict, values: tuple) -> tuple:
    """What the cells that take turns together share: the swept values that shape the baseline
    mode (transaction_size does not shape at_least_once, so every transaction size of a partition
    count joins its group); without a baseline, the whole point."""
    if profile.baseline is None:
        return values
    base = modes.MODES[profile.baseline]
    return tuple(v for k, v in zip((k for k in profile.sweep if k != "mode"), values)
                 if parameters.shapes(k, base, point["topology"]))


def plan(profile: Profile) -> list[PlannedCell]:
    """Every cell of every repetition, in the profile's order.

    Several Kafka versions are measured in blocks (one broker start each); interleaved order
    alternates the blocks every repetition (A B, B A, ...) so drift touches each version alike.
    Alternating order is interleaved order whose modes of one point and repetition form a group
    that takes turns in one window (bench.cell.turns).
    """
    points = _points(profile)
    cells = [cell for point in points for cell in point]
    for _, spec in cells:  # impossible cells are refused before anything runs, naming the file
        try:
            spec.check()
        except BadInput as exc:
            raise BadInput(f"{profile.source}: {exc}") from None
    versions = profile.kafka_versions
    reps = range(1, profile.repeat + 1)
    if profile.order == "sequential":
        triples = [(v, rep, cell) for v in versions for cell in cells for rep in reps]
    else:
        triples = [(v, rep, cell) for rep in reps for v in (versions if rep % 2 else versions[::-1]) for cell in cells]
    suffix = len(versions) > 1
    planned = [PlannedCell(i, rep, f"{cell_id}-k{v}" if suffix else cell_id, spec, v)
               for i, (v, rep, (cell_id, spec)) in enumerate(triples, start=1)]
    if profile.order != "alternating":
        return planned
    point_of = {cell_id: n for n, point in enumerate(points) for cell_id, _ in point}
    first: dict[tuple, int] = {}
    return [replace(p, group=first.setdefault((p.kafka_version, p.repetition, point_of[cell_id]), p.ordinal))
            for p, (_, _, (cell_id, _)) in zip(planned, triples)]


def _spec(params: dict, profile: Profile) -> CellSpec:
    fields = {k: parameters.BY_NAME[k].to_cell(v) for k, v in params.items()}
    faults = tuple(f for f in profile.faults
                   if not fault_kinds.of(f).only_that_topology or params["topology"] == fault_kinds.of(f).topology)
    return CellSpec(**fields, faults=faults)


def _cell_id(mode: str, swept: dict) -> str:
    return "-".join([mode, *(parameters.BY_NAME[key].id_part(value) for key, value in swept.items())])


def batches(cells: list[PlannedCell]) -> list[list[PlannedCell]]:
    """The cells a run takes at once: each alternating group together, any other cell alone."""
    together: list[list[PlannedCell]] = []
    for planned in cells:
        if planned.group is not None and together and together[-1][0].group == planned.group:
            together[-1].append(planned)
        else:
            together.append([planned])
    return together
