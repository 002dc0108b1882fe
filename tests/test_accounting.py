"""Record accounting and id parsing: pure logic, no broker."""

import numpy as np

from bench.metrics import ABORTED, ACKED, FAILED, Accounting, format_id, parse_ids, producer_of


def test_ids_round_trip_and_batches_group_by_producer():
    assert producer_of(b"7-2") == 2 and format_id(7, 2, 12345) == b"7-2:12345"
    batch = [format_id(7, 0, 1), format_id(7, 1, 5), format_id(7, 0, 2)]
    parsed = parse_ids(batch)
    assert sorted(parsed) == [b"7-0", b"7-1"]
    assert parsed[b"7-0"].tolist() == [1, 2] and parsed[b"7-1"].tolist() == [5]


def test_every_id_is_accounted_for():
    states = {0: np.array([ACKED, ACKED, ACKED, FAILED, ABORTED, ACKED], dtype=np.uint8)}
    consumed = {0: np.array([0, 1, 1, 1, 3, 4])}  # 1 thrice, 2 and 5 never, 3 failed but arrived, 4 aborted but read
    a = Accounting.reconcile(states, consumed)
    assert (a.sent, a.acked, a.failed, a.aborted) == (6, 4, 1, 1)
    assert (a.consumed, a.duplicates, a.lost, a.unexpected) == (6, 2, 2, 2)
