"""validate's and profiles' expected wall time, held against the measured wall time of every
shipped profile (results/profile-walls.csv, measured by benchmarks/profile_walls.py)."""

import csv
import hashlib

import pytest

from bench import capacity, profile as profiles
from bench.estimate import estimate
from bench.sweep import plan
from tests.conftest import REPO

WALLS = list(csv.DictReader((REPO / "results" / "profile-walls.csv").open()))
SHIPPED = {p.stem: p for p in profiles.shipped()}


def _estimate_and_wall(row: dict) -> tuple[float, float, float]:
    """(estimate, of which warm-up and measurement, measured wall) of a measured run, checked to be of the profile as shipped now."""
    path = SHIPPED[row["profile"]]
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:16] == row["profile_sha256"], (
        f"{row['profile']} changed since its wall time was measured: measure it again (benchmarks/profile_walls.py)")
    assert row["rc"] in ("0", "1"), f"{row['profile']} did not finish (exit {row['rc']})"  # 1: a guarantee broken on purpose
    profile = profiles.load(row["profile"])
    expected = estimate(profile, plan(profile))
    return expected.wall_s, expected.measurement_s, float(row["wall_s"])


def test_every_shipped_profile_has_a_measured_wall_time():
    assert sorted(r["profile"] for r in WALLS) == sorted(SHIPPED)


@pytest.mark.parametrize("row", WALLS, ids=[r["profile"] for r in WALLS])
def test_the_estimate_is_within_15_percent_of_each_shipped_profiles_wall_time(row):
    wall_s, _, measured = _estimate_and_wall(row)
    assert abs(wall_s / measured - 1) <= 0.15


def test_warm_up_and_measurement_alone_would_miss_the_wall_time():
    """The negative control: the figure validate printed before (warm-up and measurement only) is
    more than 15% short of every shipped profile's wall time, so the test above can fail."""
    misses = [abs(measurement / measured - 1) > 0.15 for _, measurement, measured in map(_estimate_and_wall, WALLS)]
    assert all(misses)


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
