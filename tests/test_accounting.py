"""Record accounting and id parsing: pure logic, no broker."""

import numpy as np

from bench.metrics import ABORTED, ACKED, FAILED, PREFIX_SIZE, Accounting, ids_by_producer, read_prefixes, record_value


def test_ids_and_stamps_travel_in_the_values_prefix_and_batches_group_by_producer():
    values = [record_value(7, 0, 1, 111, b"x" * 10), record_value(7, 1, 5, 222, b""), record_value(7, 0, 2**40, 333, b"y")]
    assert len(values[1]) == PREFIX_SIZE == 24
    prefixes = read_prefixes(values)
    assert prefixes["cell"].tolist() == [7, 7, 7] and prefixes["intended_ns"].tolist() == [111, 222, 333]
    by_producer = ids_by_producer(prefixes)
    assert sorted(by_producer) == [0, 1]
    assert by_producer[0].tolist() == [1, 2**40] and by_producer[1].tolist() == [5]
    assert ids_by_producer(read_prefixes(values[:1]))[0].tolist() == [1]  # one producer: the fast path


def test_every_id_is_accounted_for():
    states = {0: np.array([ACKED, ACKED, ACKED, FAILED, ABORTED, ACKED], dtype=np.uint8)}
    consumed = {0: np.array([0, 1, 1, 1, 3, 4])}  # 1 thrice, 2 and 5 never, 3 failed but arrived, 4 aborted but read
    a = Accounting.reconcile(states, consumed)
    assert (a.sent, a.acked, a.failed, a.aborted) == (6, 4, 1, 1)
    assert (a.consumed, a.duplicates, a.lost, a.unexpected) == (6, 2, 2, 2)
