"""validate's and profiles' expected wall time, held against the wall time of the committed runs."""

import json

import pytest

from bench import capacity, profile as profiles
from bench.estimate import estimate
from bench.sweep import plan
from tests.conftest import REPO

RESULTS = REPO / "results"
EXAMPLES = sorted(RESULTS.glob("example-*"))


def _profile_and_wall(run):
    """The shipped profile a committed run ran, checked to plan the same cells, and the run's wall time."""
    manifest = json.loads((run / "manifest.json").read_text())
    profile = profiles.load(run.name.removeprefix("example-"))
    cells = plan(profile)
    assert [(c.ordinal, c.repetition, c.cell_id) for c in cells] == [
        (c["ordinal"], c["repetition"], c["cell_id"]) for c in manifest["plan"]], f"{run.name} ran other cells"
    for key in ("warmup_s", "duration_s", "rate"):
        assert profile.workload[key] == manifest["profile"]["workload"][key], f"{run.name}: {key} changed since"
    return profile, cells, manifest["ended"] - manifest["started"]


@pytest.mark.parametrize("run", EXAMPLES, ids=[r.name for r in EXAMPLES])
def test_the_estimate_is_within_15_percent_of_each_committed_runs_wall_time(run):
    profile, cells, wall = _profile_and_wall(run)
    assert abs(estimate(profile, cells).wall_s / wall - 1) <= 0.15


def test_warm_up_and_measurement_alone_would_miss_the_wall_time():
    """The negative control: the figure validate printed before (warm-up and measurement only) is
    more than 15% short of most committed runs, so the test above can fail."""
    misses = []
    for run in EXAMPLES:
        profile, cells, wall = _profile_and_wall(run)
        misses.append(abs(estimate(profile, cells).measurement_s / wall - 1) > 0.15)
    assert sum(misses) >= len(EXAMPLES) - 1


def test_a_capped_warm_up_runs_whole_rounds_past_its_cap():
    quick = profiles.load("quick")
    without = profiles.load("quick", ["warmup_max_s=0"])
    extra = estimate(quick, plan(quick)).wall_s - estimate(without, plan(without)).wall_s
    assert quick.warmup_max_s <= extra < quick.warmup_max_s + 3 * 15  # three modes of one round: 5 s cells, 10 s around


def test_a_capacity_cell_counts_its_search_steps_and_confirmations():
    found = profiles.load("capacity")
    fixed = profiles.load("capacity", ["workload.rate=20000"])
    per_cell = (estimate(found, plan(found)).measurement_s - estimate(fixed, plan(fixed)).measurement_s) / len(plan(found))
    steps = (capacity.STEPS + 1) * (capacity.STEP_WARMUP_S + capacity.STEP_S)
    assert per_cell == pytest.approx(steps + fixed.workload["warmup_s"] + fixed.workload["duration_s"])


def test_each_kafka_version_adds_a_broker_start_and_a_warm_up():
    one = profiles.load("costs")
    two = profiles.load("costs", ["kafka.version=[4.1.1, 4.0.1]"])
    assert estimate(two, plan(two)).wall_s > estimate(one, plan(one)).wall_s + one.warmup_max_s
