"""`rate: find`: the highest rate a mode sustains within an end-to-end p99 objective, by open-loop bisection."""

from __future__ import annotations

import json

import pytest

from bench import capacity
from bench.capacity import _judge
from bench.cell.spec import CellOutcome, CellSpec, Target

SPEC = dict(message_size=256, partitions=2, warmup_s=1, duration_s=2, rate="find")


def outcome(throughput: float, p99: float | None, behind: str = "") -> CellOutcome:
    metrics = {"throughput_msgs": throughput, "e2e": {"p99_ms": p99}, "behind_schedule": behind}
    return CellOutcome(CellSpec("at_least_once"), 1, "ok", metrics, {}, (), [], {}, [], 0.0, [])


@pytest.mark.parametrize("delivered, p99, behind, sustained", [
    (980, 20.0, "", True),
    (900, 20.0, "", False),           # delivered less than 95% of the rate
    (1000, 150.0, "", False),         # end-to-end p99 beyond the objective
    (1000, 20.0, "send delay grew", False),  # the producer fell ever further behind its schedule
    (1000, None, "", False),          # nothing measured end to end
])
def test_a_step_is_sustained_only_when_rate_backlog_and_latency_all_hold(delivered, p99, behind, sustained):
    assert _judge(1000, outcome(delivered, p99, behind), slo_p99_ms=100).sustained is sustained


@pytest.fixture
def short_search(monkeypatch):
    monkeypatch.setattr(capacity, "STEPS", 3)
    monkeypatch.setattr(capacity, "STEP_S", 1.5)
    monkeypatch.setattr(capacity, "STEP_WARMUP_S", 0.5)


@pytest.mark.broker
def test_an_objective_nothing_can_meet_fails_the_cell_with_one_line(bootstrap_servers, short_search):
    result = capacity.search(CellSpec("at_least_once", slo_p99_ms=0.1, **SPEC), Target(bootstrap_servers), 1, "test-capacity-slo")
    assert result.status.startswith("failed: no rate down to") and "within 0.1 ms" in result.status
    assert result.metrics == {}


@pytest.mark.broker
def test_a_run_with_rate_find_stores_the_sustainable_rate_in_its_summary(bootstrap_servers, short_search, tmp_path):
    from bench.profile import load
    from bench.runner import Progress, RunRequest, execute

    path = tmp_path / "capacity.yaml"
    path.write_text("workload: {mode: at_least_once, rate: find, slo_p99_ms: 1000, message_size: 256, partitions: 2, "
                    "warmup_s: 0.5, duration_s: 1.5}\nwarmup_max_s: 0\n")
    end = execute(RunRequest(load(path), bootstrap_servers, tmp_path / "results", "cap"), Progress(quiet=True))
    row = end.summary.iloc[0]
    assert end.status == "complete" and row["status"] == "ok"
    assert row["rate"] == "find" and row["slo_p99_ms"] == 1000 and row["sustainable_msgs"] > 0
    # the search: the highest sustained rate of its steps, below the closed-loop ceiling, every faster step not sustained
    found = json.loads(next((tmp_path / "results" / "cap" / "cells").glob("*/r1/metrics.json")).read_text())["capacity"]
    assert len(found["steps"]) == 3 and 0 < found["sustainable_msgs"] < found["closed_loop_msgs"]
    assert found["search_msgs"] == max(s["rate"] for s in found["steps"] if s["sustained"])
    assert all(s["rate"] > found["search_msgs"] for s in found["steps"] if not s["sustained"])
    # confirmed at the cell's own duration, each retry 10% below one that missed; the figure is the last one measured
    rates = [c["rate"] for c in found["confirmations"]]
    assert rates[0] == found["search_msgs"] and rates[-1] == found["sustainable_msgs"] and len(rates) <= capacity.CONFIRMATIONS
    assert all(b == round(a * capacity.CONFIRM_BACKOFF) for a, b in zip(rates, rates[1:]))
    assert found["confirmed"] == found["confirmations"][-1]["sustained"] and not any(c["sustained"] for c in found["confirmations"][:-1])
    assert row["loop"] == "open"
