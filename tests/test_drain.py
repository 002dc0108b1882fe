"""When a reader may stop draining: pure logic, no broker (the fault tests drive it on a real cluster)."""

import numpy as np

from bench.roles.reading import SETTLE_NS, DistinctIds, Drain


def test_distinct_ids_count_each_record_once_however_often_and_in_whatever_order_it_arrives():
    ids = DistinctIds()
    ids.add({0: np.array([3, 1, 1, 0]), 1: np.array([0])})
    ids.add({0: np.array([1, 2, 3, 1000]), 1: np.array([0, 0])})
    assert ids.count == 6  # producer 0: 0, 1, 2, 3, 1000; producer 1: 0
    ids.add({0: np.array([-1, DistinctIds.MAX_SEQ + 5])})  # no producer acknowledged these: left to the accounting
    assert ids.count == 6


def drained(expected: int) -> Drain:
    drain = Drain()
    drain.expected, drain.quiet_ns, drain.deadline_ns = expected, 5_000_000_000, 10**18
    drain.last_message_ns = 0
    return drain


def test_a_reader_with_every_acknowledged_id_stops_after_a_short_settle():
    assert drained(100).done(SETTLE_NS, distinct=100, got_messages=False)


def test_duplicates_do_not_make_up_for_records_not_yet_read():
    """at_least_once under a leader kill: as many receptions as acknowledged records, ids missing.
    The drain is counted in distinct ids, so the reader waits for the missing ones (here: the long
    quiet period) instead of stopping and reporting them lost."""
    ids = DistinctIds()
    ids.add({0: np.concatenate([np.arange(60), np.arange(40)])})  # 100 receptions, 60 ids of 100 acknowledged
    drain = drained(100)
    assert not drain.done(SETTLE_NS, distinct=ids.count, got_messages=False)
    assert drain.done(5_000_000_000, distinct=ids.count, got_messages=False)  # only once quiet for the full period
