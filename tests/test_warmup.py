"""When a run's warm-up ends: pure logic (the rule, bench.warmup), no broker."""

from bench.warmup import MIN_ROUNDS, converged

# Broker CPU us per record of at_least_once at 20,000 msg/s of 1 KB, one 5 s cell per round, on a
# fresh embedded broker (this project's machine): 43 us falling to about 12.
FRESH_BROKER = [43.4, 39.3, 29.9, 16.2, 20.2, 16.6, 12.1, 11.2, 13.0, 11.8]


def test_a_broker_whose_cpu_per_record_still_falls_is_not_warm():
    assert not any(converged(FRESH_BROKER[:n]) for n in range(1, 7))


def test_it_is_warm_once_the_last_two_cells_match_the_two_before():
    first = next(n for n in range(1, len(FRESH_BROKER) + 1) if converged(FRESH_BROKER[:n]))
    assert first == 10  # (13.0 + 11.8) / 2 against (12.1 + 11.2) / 2: +6%


def test_a_few_steady_cells_are_not_enough_and_a_noisy_pair_does_not_end_it_early():
    assert not converged([12.0] * (MIN_ROUNDS - 1)) and converged([12.0] * MIN_ROUNDS)
    assert not converged([20.0, 20.0, 12.0, 12.5])


def test_without_a_cpu_figure_one_round_is_the_warm_up():
    assert converged([None])
