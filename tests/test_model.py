"""The cost curve (bench.analysis.model): fitted to paired turns, tested for lack of fit, and never
extrapolated. The data are planted: turns drawn from a known curve with the spread and the shape of
a real alternating run (one group per partition count, every cell's turns in the same rounds)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from bench.analysis import model as models

SIZES = (100, 1000, 10000, 50000)


def _touched(n: float, partitions: int) -> float:
    """Like librdkafka's sticky partitioner at 100,000 records/s: a new partition every 1,000 records."""
    windows = 1 + n / 1000
    return partitions * (1 - (1 - 1 / partitions) ** windows)


def _curve(c: float, a: float, b: float):
    return lambda n, q: c / (1 + (a + b * q) / n)


def planted(ratio, rounds: int = 120, repetitions: int = 2, sd: float = 0.2, partitions=(1, 16), idempotent: float | None = None,
            seed: int = 1) -> pd.DataFrame:
    """A run's summary whose turns follow `ratio(n, q)` against a baseline of about 100,000 msg/s,
    each turn with log-normal noise of `sd` and a slow swing every round shares."""
    rng = np.random.default_rng(seed)
    rows = []
    for repetition in range(1, repetitions + 1):
        for p in partitions:
            group = repetition * 100 + p
            swing = np.cumsum(rng.normal(0, 0.03, rounds))
            cells = [("at_least_once", None, 1.0, math.nan, math.nan)]
            if idempotent is not None:
                cells.append(("idempotent", None, idempotent, math.nan, math.nan))
            cells += [("transactional", n, ratio(n, _touched(n, p)), float(n), _touched(n, p)) for n in SIZES]
            for mode, size, r, records, q in cells:
                turns = 1e5 * r * np.exp(swing + rng.normal(0, sd, rounds))
                cell_id = "-".join(filter(None, [mode, f"ts{size}" if size else "", f"p{p}"]))
                rows.append({"cell_id": cell_id, "repetition": repetition, "mode": mode, "topology": "produce", "rate": "max",
                             "partitions": p, "transaction_size": size, "message_size": 1024, "kafka_version": "4.1.1",
                             "status": "ok", "throughput_msgs": float(turns.mean()), "generator_bound": False,
                             "turns_group": group, "turn_throughputs_msgs": " ".join(f"{t:.1f}" for t in turns),
                             "records_per_transaction": records, "partitions_per_transaction": q,
                             **{f"e2e_{pct}_ms": 10.0 for pct in ("p50", "p99", "p999")}})
    return pd.DataFrame(rows)


def _fit(frame: pd.DataFrame, replicates: int = 200) -> models.Fit:
    fitted = models.fits(frame, "at_least_once", replicates)
    assert len(fitted) == 1 and isinstance(fitted[0], models.Fit), fitted
    return fitted[0]


def test_the_fit_recovers_the_curve_it_was_planted_with_and_says_it_fits():
    f = _fit(planted(_curve(0.93, 300, 20), idempotent=0.93))
    assert f.holds is True, f.verdict
    for name, true in (("c", 0.93), ("a", 300), ("b", 20)):
        interval = f.parameters[name]
        assert interval.low <= true <= interval.high, (name, interval)
    assert f.parameters["c"].high - f.parameters["c"].low < 0.05


def test_the_crossings_bracket_the_true_ones_and_carry_a_commit_interval():
    curve = _curve(0.95, 300, 20)
    f = _fit(planted(curve, idempotent=0.95))
    for crossing in f.crossings:
        grid = np.exp(np.linspace(math.log(100), math.log(50000), 20000))
        true = next(n for n in grid if 100 * (1 - curve(n, _touched(n, crossing.partitions))) <= crossing.target_pct)
        assert crossing.status == "inside"
        assert crossing.n.low <= true <= crossing.n.high, (crossing, true)
        rate = (1 - crossing.target_pct / 100) * f.baseline_msgs[crossing.partitions]
        assert crossing.commit_ms.value == pytest.approx(1000 * crossing.n.value / rate)


def test_the_lack_of_fit_check_reports_an_overhead_that_rises_with_transaction_size():
    """Negative control: a cost that grows with the transaction (no fixed cost per transaction)
    cannot be this model's, and the check must say so."""
    rising = lambda n, q: 0.95 - 0.1 * math.log10(n) / math.log10(50000)  # noqa: E731
    f = _fit(planted(rising, idempotent=0.95))
    assert f.holds is False
    assert "does not fit" in f.verdict
    assert any("Caution" in line for line in models.sentences(f))


def test_a_prediction_inside_the_measured_range_has_an_interval_and_outside_it_is_refused():
    f = _fit(planted(_curve(0.93, 300, 20), idempotent=0.93))
    inside = f.predict(3000, 16)
    assert inside.low < inside.value < inside.high
    assert inside.value == pytest.approx(100 * (1 - _curve(0.93, 300, 20)(3000, _touched(3000, 16))), abs=2)
    with pytest.raises(ValueError, match="outside the measured range"):
        f.predict(200000, 16)
    with pytest.raises(ValueError, match="outside the measured range"):
        f.predict(3000, 64)


def test_no_transaction_size_reaches_ten_percent_when_idempotence_alone_costs_more():
    f = _fit(planted(_curve(0.85, 300, 20), idempotent=0.85))
    ten = [c for c in f.crossings if c.target_pct == 10.0]
    assert ten and all(c.status == "never" for c in ten)
    assert "never cost 10% or less" in " ".join(models.sentences(f))


def test_the_answer_says_where_the_claim_holds_in_words():
    f = _fit(planted(_curve(0.97, 300, 10), idempotent=0.97))
    words = models.sentences(f)
    assert len(words) == 2  # one per partition count
    assert words[0].startswith("Kafka 4.1.1, 1 KB records, 1 partition, this cluster: transactions cost 30% or less from ")
    assert "'10-30%' holds between " in words[0]
    assert re.search(r"Idempotence alone costs -?\d+% \[-?\d+, \d+\]\.", words[0])


def test_a_sweep_with_one_transaction_size_has_no_curve_and_says_why():
    frame = planted(_curve(0.93, 300, 20))
    frame = frame[(frame["mode"] != "transactional") | (frame["transaction_size"] == 1000)]
    fitted = models.fits(frame, "at_least_once", 50)
    assert fitted and isinstance(fitted[0], tuple)
    assert "at least 2 transaction sizes" in fitted[0][1]


def test_the_latency_paid_at_a_crossing_is_read_off_the_open_loop_cells_and_never_extrapolated():
    f = _fit(planted(_curve(0.95, 300, 20), idempotent=0.95))
    rows = []
    for p in (1, 16):
        rows.append({"cell_id": f"at_least_once-p{p}", "mode": "at_least_once", "partitions": p, "transaction_size": None,
                     "rate": 10000, "message_size": 1024, "status": "ok", "e2e_p50_ms": 5.0, "e2e_p99_ms": 20.0,
                     "records_per_transaction": math.nan})
        for n in SIZES:  # a reader waits about a transaction's duration at 10,000 msg/s
            rows.append({"cell_id": f"transactional-ts{n}-p{p}", "mode": "transactional", "partitions": p, "transaction_size": n,
                         "rate": 10000, "message_size": 1024, "status": "ok", "e2e_p50_ms": n / 20, "e2e_p99_ms": n / 10,
                         "records_per_transaction": float(n)})
    latency = pd.DataFrame(rows)
    trade = models.tradeoff(f, latency, "at_least_once")
    assert [(r.partitions, r.transaction_size) for r in trade] == [(p, n) for p in (1, 16) for n in SIZES]
    assert all(r.overhead_pct is not None and r.baseline_e2e_p99_ms == 20.0 for r in trade)
    thirty = next(c for c in f.crossings if c.partitions == 16 and c.target_pct == 30)
    assert models.latency_at(trade, 16, thirty.n.value) == pytest.approx(thirty.n.value / 10, rel=1e-6)
    assert math.isnan(models.latency_at(trade, 16, 80000)), "beyond the largest open-loop cell: not extrapolated"
    words = models.tradeoff_sentences(f, trade)
    assert words[1].startswith("16 partitions, open loop at 10,000 msg/s: at the 30% crossing (")
    assert words[1].endswith("(at_least_once: 20 ms).")


def test_the_wait_for_what_is_in_flight_at_each_commit_is_its_own_term():
    """A commit first waits for the records in flight: the whole transaction when it is smaller
    than the producer's bound (2 MiB of 1 KB records here), the bound's worth when larger, joined
    smoothly: n / (n + n_o). Planted, the fit finds that term and says the curve holds."""
    n_o = 2048
    drained = lambda n, q: 0.9 / (1 + (400 + 900 * n / (n + n_o)) / n)  # noqa: E731
    f = _fit(planted(drained, idempotent=0.9))
    assert f.holds is True, f.verdict
    assert "d*n/(n + n_o)" in f.form and f.in_flight_records == n_o
    assert f.parameters["d"].low <= 900 <= f.parameters["d"].high
    assert f.parameters["a"].value == pytest.approx(400, rel=0.15)  # b (planted 0, bounded at 0) takes a little of it
