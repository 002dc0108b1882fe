"""Latencies are recorded into HdrHistograms many values at once, exactly as hdrh records them one by one."""

import numpy as np

from bench.metrics import HIGHEST_US, new_histogram, record_counts


def test_recording_many_values_at_once_gives_the_histogram_hdrh_gives_one_value_at_a_time():
    rng = np.random.default_rng(7)
    # every magnitude from 1 us to past the highest trackable value (an hour), some repeated
    values = np.unique(np.concatenate([rng.integers(1, 5000, 3000), (10 ** rng.uniform(0, 9.8, 20000)).astype(np.int64),
                                       [1, 2047, 2048, 2049, 4095, 4096, HIGHEST_US, HIGHEST_US * 2]]))
    counts = rng.integers(1, 50, len(values))
    one_by_one, at_once = new_histogram(), new_histogram()
    refused = sum(c for v, c in zip(values.tolist(), counts.tolist()) if not one_by_one.record_value(v, c))
    assert record_counts(at_once, values, counts) == refused > 0
    assert at_once.encode() == one_by_one.encode()
    assert (at_once.total_count, at_once.min_value, at_once.max_value) == (one_by_one.total_count, one_by_one.min_value, one_by_one.max_value)
    assert at_once.get_value_at_percentile(99.0) == one_by_one.get_value_at_percentile(99.0)
