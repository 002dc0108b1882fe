"""Overhead against the matching baseline: one estimator for the point and its interval, honest
about too few repetitions, corrected for the number of cells, carrying both sides' flags."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.analysis.overhead import overhead, precision_advice
from bench.analysis.stats import one_sample
from bench.cli.tables import print_run_table
from bench.analysis.summary import broken_guarantees, cells
from bench.analysis.headline import answer


def rows(mode, cell_id, throughputs, **params):
    base = {"topology": "produce", "partitions": 1, "transaction_size": None, "transaction_ms": None,
            "message_size": 1024, "rate": "max", "producers": 1, "abort_ratio": 0.0, "replication_factor": None,
            "max_in_flight": 5, "warmup_s": 1, "duration_s": 5, "e2e_p50_ms": 1.0, "e2e_p99_ms": 2.0, "e2e_p999_ms": 3.0,
            "produce_p99_ms": 1.0, "commit_p99_ms": None, "throughput_mb": 1.0, "generator_bound": False, "status": "ok",
            "duplicates": 0, "lost": 0, "unexpected": 0, "kafka_version": "4.1.1", "behind_schedule": False, "throttled_share": 0.0}
    return [{**base, **params, "mode": mode, "cell_id": cell_id, "repetition": i + 1, "throughput_msgs": t}
            for i, t in enumerate(throughputs)]


def one(frame: pd.DataFrame, cell_id: str = "txn") -> pd.Series:
    return overhead(frame, "at_least_once").set_index("cell_id").loc[cell_id]


def test_the_interval_is_student_t_on_log_ratios_simultaneous_over_the_cells():
    logs = np.log([0.8, 0.82, 0.78])
    half = 4.302652729911275 * np.std(logs, ddof=1) / math.sqrt(3)  # t(0.975, 2 df); z = 1.96 would give less than half
    single = one_sample(logs)
    assert (single.low, single.high) == pytest.approx((logs.mean() - half, logs.mean() + half))
    two_cells = one_sample(logs, tests=2)
    assert two_cells.high - two_cells.low == pytest.approx(2 * 6.205346886 * np.std(logs, ddof=1) / math.sqrt(3))  # t(1 - 0.05/4, 2)


def test_the_overhead_lies_inside_its_own_interval_when_a_baseline_repetition_failed():
    """The issue's case: baseline [100, 100, 100] with r3 failed, cell [50, 50, 400]. The old code
    gave -66.7% [+50.0, +50.0], significant: a mean over all repetitions, an interval over pairs."""
    base = rows("at_least_once", "alo", [100, 100, 100])
    base[2]["status"] = "failed: broker down"
    row = one(pd.DataFrame(base + rows("transactional", "txn", [50, 50, 400])))
    assert row.pairs == 2 and row.overhead_pct == pytest.approx(50.0)
    assert math.isnan(row.ci_low_pct) and not row.significant
    assert "too few repetitions for an interval (2; at least 3 needed" in row.interval_note


def test_identical_ratios_give_no_zero_width_interval_and_no_significance():
    for n in (2, 3):
        row = one(pd.DataFrame(rows("at_least_once", "alo", [100] * n) + rows("transactional", "txn", [50] * n)))
        assert row.overhead_pct == pytest.approx(50.0) and math.isnan(row.ci_low_pct) and not row.significant, n


def test_a_mode_that_delivered_nothing_costs_all_of_the_throughput_and_says_so():
    row = one(pd.DataFrame(rows("at_least_once", "alo", [100, 110, 90]) + rows("transactional", "txn", [0, 0, 0])))
    assert row.overhead_pct == 100.0 and row.significant
    assert "zero throughput in 3 of 3" in str(row["flags"])


def test_a_baseline_that_delivered_nothing_gives_no_ratio_and_no_crash():
    row = one(pd.DataFrame(rows("at_least_once", "alo", [0, 100, 100, 100]) + rows("transactional", "txn", [50, 50, 55, 45])))
    assert row.pairs == 3 and "baseline delivered nothing in 1 repetition" in str(row["flags"])
    assert row.ci_low_pct < row.overhead_pct < row.ci_high_pct


def test_two_repetitions_say_how_many_would_give_an_interval():
    row = one(pd.DataFrame(rows("at_least_once", "alo", [100, 100]) + rows("transactional", "txn", [50, 56])))
    assert math.isnan(row.ci_low_pct)
    assert "would bound the ratio within about +-5%" in row.interval_note


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
    assert slow.overhead_pct == pytest.approx(20.0, abs=0.05)
    assert slow.ci_low_pct < slow.overhead_pct < slow.ci_high_pct and slow.significant
    same = result.loc["txn-ts10-p4"]
    assert same.baseline_cell_id == "alo-p4" and not same.significant


def test_significance_is_adjusted_for_the_number_of_cells():
    """Three cells that would each pass on their own at p ~ 0.03 do not all pass together."""
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 100, 100, 100]) + [
        r for k in range(3) for r in rows("transactional", f"txn{k}", [96, 99, 95, 97], transaction_size=10 ** (k + 1))])
    result = overhead(frame, "at_least_once")
    assert (one_sample(np.log([0.96, 0.99, 0.95, 0.97])).p < 0.05) and not result["significant"].any()
    assert (result["p_holm"] > 0.05).all()


def test_noise_flags_the_cell_instead_of_hiding_it():
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 100, 100]) + rows("idempotent", "idem", [60, 100, 140]))
    row = overhead(frame, "at_least_once").iloc[0]
    assert row["flags"].has("unstable") and "unstable (cv 40%)" in str(row["flags"]) and not row["significant"]


def test_a_quota_or_a_saturated_broker_is_named_as_what_set_the_pace():
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 100, 100])
                         + rows("transactional", "txn", [50, 50, 50], throttled_share=0.4)
                         + rows("idempotent", "idem", [90, 90, 90], behind_schedule=True))
    result = overhead(frame, "at_least_once").set_index("mode")
    assert [f.kind for f in result.loc["transactional", "flags"]] == ["throttled"]
    assert "throttled by a broker quota" in str(result.loc["transactional", "flags"])
    assert str(result.loc["idempotent", "flags"]) == "behind schedule (Kafka did not take the rate)"


def test_the_terminal_table_shows_the_baselines_flags_beside_the_overhead(capsys):
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 140, 70], generator_bound=True)
                         + rows("transactional", "txn", [50, 52, 51], transaction_size=1000))
    print_run_table(cells(frame), overhead(frame, "at_least_once"), "at_least_once")
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("txn"))
    assert "baseline unstable (cv 34%); baseline generator-bound" in line


def test_the_headline_counts_a_cell_above_10_percent_only_when_its_whole_interval_is():
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 100, 100, 100])
                         + rows("transactional", "wide", [80, 100, 85, 95], transaction_size=10)     # ~10%, interval spans 10%
                         + rows("transactional", "clear", [60, 61, 59, 60], transaction_size=100))  # 40%, interval above 30%
    text = answer(overhead(frame, "at_least_once"))
    assert "wholly above 10% in 1 of 2 cells (clear), above 30% in 1 (clear)" in text
    assert "1 cell(s) have an interval spanning 10% or 30% (wide)" in text


def test_an_open_loop_headline_names_the_latency_and_broker_cpu_exactly_once_costs():
    """At a fixed rate every mode sends what it is asked: 'no throughput lost' would be true and say
    nothing. The headline gives each cell's read_committed p99 and broker CPU per record instead."""
    fixed = dict(rate=20000)
    frame = pd.DataFrame(rows("at_least_once", "alo", [20000] * 3, e2e_p99_ms=20.0, broker_cpu_us_per_record=10.0, **fixed)
                         + rows("transactional", "txn", [20000] * 3, e2e_p99_ms=48.0, broker_cpu_us_per_record=20.0,
                                transaction_size=100, **fixed))
    text = answer(overhead(frame, "at_least_once"))
    assert text.startswith("Open loop at 20,000 msg/s") and "wholly above" not in text
    assert "txn end-to-end p99 (read_committed) +28.0 ms, broker CPU per record +100.0%" in text


def test_a_closed_loop_headline_says_why_eos_can_have_the_lower_p99():
    frame = pd.DataFrame(rows("at_least_once", "alo", [100, 101, 99], e2e_p99_ms=30.0)
                         + rows("transactional", "txn", [60, 61, 59], e2e_p99_ms=12.0, transaction_size=100))
    text = answer(overhead(frame, "at_least_once"))
    assert "wholly above 10% in 1 of 1 cells (txn)" in text
    assert "End-to-end p99 is lower than the baseline's in 1 cell(s) (txn): in a closed loop a slower producer" in text


def test_duplicates_in_a_mode_that_promises_none_are_a_broken_guarantee():
    frame = pd.DataFrame(rows("at_least_once", "alo", [1], duplicates=5) + rows("idempotent", "idem", [1], duplicates=2)
                         + rows("transactional", "txn", [1], lost=1))
    found = broken_guarantees(frame)
    assert found == ["idem r1: 2 duplicates", "txn r1: 1 acknowledged records lost"]


def test_transaction_version_2_is_priced_against_1_by_pairing_the_repetitions_that_ran_side_by_side():
    from bench.analysis.transaction_protocols import v2_against_v1

    frame = pd.DataFrame(
        rows("transactional", "java-tv1", [100.0, 120.0, 90.0], driver="java", transaction_version=1, transaction_size=10)
        + rows("transactional", "java-tv2", [200.0, 250.0, 170.0], driver="java", transaction_version=2, transaction_size=10)
        + rows("transactional", "java-tv1-ts100", [50.0, 50.0, 50.0], driver="java", transaction_version=1, transaction_size=100)
        + rows("at_least_once", "alo", [300.0, 310.0, 290.0], driver="java", transaction_version=None))
    pairs = v2_against_v1(frame)
    assert list(pairs["cell_v2"]) == ["java-tv2"]  # the ts100 cell has no level-2 twin; at_least_once has no level
    logs = np.log([2.0, 250 / 120, 170 / 90])
    estimate = one_sample(logs)
    row = pairs.iloc[0]
    assert (row["ratio"], row["low"], row["high"]) == pytest.approx((math.exp(estimate.mean), math.exp(estimate.low), math.exp(estimate.high)))
    assert row["repetitions"] == 3


def test_a_wide_overhead_interval_says_how_many_repetitions_would_narrow_it_to_two_points():
    alo = [100_000, 120_000, 90_000]
    frame = pd.DataFrame(rows("at_least_once", "alo", alo) + rows("transactional", "txn", [t * r for t, r in zip(alo, [0.53, 0.43, 0.59])])
                         + rows("idempotent", "idem", [t * r for t, r in zip(alo, [0.950, 0.951, 0.949])]))
    table = overhead(frame, "at_least_once")
    advice = precision_advice(table)
    assert len(advice) == 1 and advice[0].startswith("txn: +-") and "from 3 repetitions" in advice[0]  # idem is within +-2 already
    n = int(advice[0].split("--repeat ")[1].rstrip(")"))
    # n repetitions at the same spread give +-2 points or less, n - 1 more than that
    spread = np.std(np.log([0.53, 0.43, 0.59]), ddof=1)
    ratio = math.exp(np.mean(np.log([0.53, 0.43, 0.59])))
    width = [100 * ratio * 2 * np.sinh(stats.t.ppf(1 - 0.05 / 4, k - 1) * spread / math.sqrt(k)) / 2 for k in (n - 1, n)]
    assert width[1] <= 2.0 * 1.05 and width[0] > 2.0 * 0.95
