"""The gate's power, measured by resampling the rounds of committed runs of bench/profiles/gate.yaml
(benchmarks/gate_power.py prints the table): a resample keeps every round's turns paired, a plant
moves exactly the figure it names by exactly its size, and the gate sees it."""

import math

import numpy as np
import pytest

from bench.analysis import gate_power, summary
from bench.analysis.columns import turn_series
from bench.results import RunStore
from tests.conftest import REPO

A_RUNS = ("G-A1", "G-A2")  # runs of bench/profiles/gate.yaml on one broker, nothing changed


@pytest.fixture(scope="module")
def runs():
    return [summary.summary(RunStore.open(str(REPO / "results" / name))) for name in A_RUNS]


def _round_ratios(run, cell: str) -> np.ndarray:
    rows = run.set_index("cell_id")
    n = gate_power.rounds(run)
    mine = np.asarray(turn_series(rows.loc[cell, "turn_throughputs_msgs"])[:n])
    base = np.asarray(turn_series(rows.loc["at_least_once", "turn_throughputs_msgs"])[:n])
    return np.round(np.log(mine / base), 4)


def test_a_resample_draws_whole_rounds_so_every_turn_keeps_its_baseline_turn(runs):
    run = runs[0]
    again = gate_power.resample(run, np.random.default_rng(5))
    original, drawn = set(_round_ratios(run, "transactional")), _round_ratios(again, "transactional")
    assert set(drawn) <= original and len(drawn) == gate_power.rounds(run)
    assert len(set(drawn)) < len(original)  # drawn with replacement: not the same rounds again


def test_a_planted_cost_rise_adds_exactly_its_points_to_the_eos_cost(runs):
    before = gate_power.eos_cost_centre(runs[0], "transactional")
    after = gate_power.eos_cost_centre(gate_power.planted(runs[0], gate_power.PLANTS[0], "transactional"), "transactional")
    assert 100 * (math.exp(before) - math.exp(after)) == pytest.approx(10.0, abs=0.01)


def test_two_real_runs_with_nothing_changed_pass_and_the_same_pair_with_a_plant_fails_in_its_cell_and_figure(runs):
    assert not gate_power.gate(runs[0], runs[1]).failed
    for plant in gate_power.PLANTS:
        result = gate_power.gate(runs[0], gate_power.planted(runs[1], plant, "transactional"))
        assert gate_power.flagged(result, "transactional", plant.figure), plant.name
        assert result.regressions == [line for line in result.regressions if line.startswith("transactional:")]


def test_the_false_alarm_share_counts_failed_gates_over_trials():
    assert gate_power.Rate(0, 40).share == 0.0 and gate_power.Rate(0, 40).interval()[1] == pytest.approx(0.0876, abs=1e-3)


def test_a_real_quota_on_the_transactional_producer_fails_the_gate_against_each_a_run_in_its_eos_cost_only(runs):
    """G-Q1: producer_byte_rate 30 MiB/s on eosbench-transactional-producer, same broker, the run after G-A2."""
    quota = summary.summary(RunStore.open(str(REPO / "results" / "G-Q1")))
    for run in runs:
        result = gate_power.gate(run, quota)
        assert [line.split(" -")[0] for line in result.regressions] == ["transactional: throughput relative to at_least_once"]
