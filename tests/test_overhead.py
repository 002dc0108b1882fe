"""Overhead against the matching baseline, with a paired interval over repetitions."""

import math

import numpy as np
import pandas as pd
import pytest

from bench.analysis.overhead import overhead, ratio_interval
from bench.runner import broken_guarantees


def rows(mode, cell_id, throughputs, **params):
    base = {"topology": "produce", "partitions": 1, "transaction_size": None, "transaction_ms": None,
            "message_size": 1024, "rate": "max", "producers": 1, "abort_ratio": 0.0, "replication_factor": None,
            "max_in_flight": 5, "warmup_s": 1, "duration_s": 5, "e2e_p50_ms": 1.0, "e2e_p99_ms": 2.0, "e2e_p999_ms": 3.0,
            "generator_bound": False, "status": "ok", "duplicates": 0, "lost": 0, "unexpected": 0}
    return [{**base, **params, "mode": mode, "cell_id": cell_id, "repetition": i + 1, "throughput_msgs": t}
            for i, t in enumerate(throughputs)]


def test_the_interval_is_student_t_on_log_ratios():
    logs = np.log([0.8, 0.82, 0.78])
    low, high = ratio_interval(logs)
    assert low < 0.8 < high
    assert math.isclose(math.sqrt(low * high), math.exp(logs.mean()))
    assert all(math.isnan(x) for x in ratio_interval(np.log([0.8])))


def test_a_clear_slowdown_is_significant_and_matched_to_the_baseline_of_its_partition_count():
    frame = pd.DataFrame(
        rows("at_least_once", "alo-p1", [100, 102, 98])
        + rows("at_least_once", "alo-p4", [400, 390, 410], partitions=4)
        + rows("transactional", "txn-ts10-p1", [80, 81, 79], transaction_size=10)
        + rows("transactional", "txn-ts10-p4", [398, 392, 405], partitions=4, transaction_size=10)
    )
    result = overhead(frame, "at_least_once").set_index("cell_id")
    slow = result.loc["txn-ts10-p1"]
    assert slow.baseline_cell_id == "alo-p1"
    assert slow.overhead_pct == pytest.approx(20.0, abs=0.01)
    assert slow.ci_low_pct > 0 and slow.significant
    same = result.loc["txn-ts10-p4"]
    assert same.baseline_cell_id == "alo-p4" and not same.significant


def test_noise_flags_the_cell_instead_of_hiding_it():
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 100, 100]) + rows("idempotent", "idem", [60, 100, 140]))
    row = overhead(frame, "at_least_once").iloc[0]
    assert "unstable (cv 40%)" in row["flags"] and not row["significant"]


def test_a_quota_or_a_saturated_broker_is_named_as_what_set_the_pace():
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 100, 100])
                         + rows("transactional", "txn", [50, 50, 50], throttled_share=0.4)
                         + rows("idempotent", "idem", [90, 90, 90], behind_schedule=True))
    result = overhead(frame, "at_least_once").set_index("mode")
    assert "throttled by a broker quota" in result.loc["transactional", "flags"]
    assert result.loc["idempotent", "flags"] == "behind schedule (Kafka did not take the rate)"


def test_duplicates_in_a_mode_that_promises_none_are_a_broken_guarantee():
    frame = pd.DataFrame(rows("at_least_once", "alo", [1], duplicates=5) + rows("idempotent", "idem", [1], duplicates=2)
                         + rows("transactional", "txn", [1], lost=1))
    found = broken_guarantees(frame)
    assert found == ["idem r1: 2 duplicates", "txn r1: 1 acknowledged records lost"]
