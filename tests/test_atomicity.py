"""The transaction-level checker on hand-made reads: what counts as a torn transaction, a partial
event, an aborted read and a lost write when every event is one record in each of three topics."""

import numpy as np

from bench.cell.derive import reconstructed
from bench.metrics import ABORTED, ACKED, IN_DOUBT, Accounting, atomicity, stream
from bench.roles.protocol import ProducerSpec

TOPICS = 3


def read(*per_topic):
    """Producer 0's sequence numbers read in topic 0, 1, 2."""
    return {stream(t, 0): np.asarray(seqs, dtype=np.int64) for t, seqs in enumerate(per_topic)}


def states(n_committed, n_aborted=0):
    return {0: np.array([ACKED] * n_committed + [ABORTED] * n_aborted, dtype=np.uint8)}


COMMITTED = {0: np.array([0, 10, 10, 20], dtype=np.int64)}  # two transactions of ten events


def test_every_record_of_every_committed_transaction_read_once_is_clean():
    everything = read(range(20), range(20), range(20))
    assert atomicity(states(20), COMMITTED, everything, TOPICS) == {"torn_transactions": 0, "partial_events": 0}
    a = Accounting.of_topics(states(20), everything, TOPICS)
    assert (a.sent, a.acked, a.consumed, a.duplicates, a.lost, a.unexpected) == (60, 60, 60, 0, 0, 0)


def test_a_record_missing_from_one_topic_tears_its_transaction_and_its_event():
    one_missing = read(range(20), [s for s in range(20) if s != 15], range(20))
    assert atomicity(states(20), COMMITTED, one_missing, TOPICS) == {"torn_transactions": 1, "partial_events": 1}
    assert Accounting.of_topics(states(20), one_missing, TOPICS).lost == 1  # and it is a lost write


def test_a_transaction_read_wholly_in_one_topic_and_not_at_all_in_another_is_torn_though_no_event_is_split_in_it():
    """Atomicity is across topics: the second transaction visible in topic 0 only."""
    split = read(range(20), range(10), range(10))
    assert atomicity(states(20), COMMITTED, split, TOPICS) == {"torn_transactions": 1, "partial_events": 10}


def test_a_record_of_an_aborted_transaction_read_is_an_aborted_read():
    leaked = read([*range(20), 25], range(20), range(20))
    a = Accounting.of_topics(states(20, n_aborted=10), leaked, TOPICS)
    assert (a.unexpected, a.aborted, a.lost) == (1, 30, 0)
    assert atomicity(states(20, n_aborted=10), COMMITTED, leaked, TOPICS)["partial_events"] == 1


def in_doubt(n_committed, n_doubt):
    """States of producer 0 whose last transaction's commit Kafka refused (eosbench.ProducerRole.refused)."""
    return {0: np.array([ACKED] * n_committed + [IN_DOUBT] * n_doubt, dtype=np.uint8)}


def test_a_refused_commits_records_are_neither_lost_unread_nor_unexpected_read_but_counted_as_in_doubt():
    """Kafka decides the outcome of a transaction whose commit it refused: its records read are
    in_doubt_read (the coordinator committed them), unread ones are not lost."""
    unread = Accounting.of_topics(in_doubt(10, 10), read(range(10), range(10), range(10)), TOPICS)
    assert (unread.lost, unread.unexpected, unread.in_doubt, unread.in_doubt_read) == (0, 0, 30, 0)
    wholly = Accounting.of_topics(in_doubt(10, 10), read(range(20), range(20), range(20)), TOPICS)
    assert (wholly.lost, wholly.unexpected, wholly.in_doubt, wholly.in_doubt_read) == (0, 0, 30, 30)
    # the negative control: the same records as ABORTED are aborted reads
    assert Accounting.of_topics(states(10, n_aborted=10), read(range(20), range(20), range(20)), TOPICS).unexpected == 30


def test_a_refused_commit_must_still_be_all_or_none_a_part_of_it_read_is_torn():
    """derive.transaction_checks adds the refused transactions' ranges to the committed ones."""
    refused = {0: np.array([0, 10, 10, 20], dtype=np.int64)}  # [0, 10) committed, [10, 20) refused
    assert atomicity(in_doubt(10, 10), refused, read(range(20), range(20), range(20)), TOPICS)["torn_transactions"] == 0
    assert atomicity(in_doubt(10, 10), refused, read(range(10), range(10), range(10)), TOPICS)["torn_transactions"] == 0
    assert atomicity(in_doubt(10, 10), refused, read(range(15), range(15), range(15)), TOPICS)["torn_transactions"] == 1


def test_refused_commits_are_reported_per_cell_with_their_rate_per_10000_and_the_error():
    import pandas as pd

    from bench.analysis.summary import refused_commits

    error = "InvalidTxnStateException: The producer attempted a transactional operation in an invalid state."
    frame = pd.DataFrame([
        {"cell_id": "transactional-java", "repetition": 1, "status": "ok", "transactions": 4_999, "refused_commits": 1, "refusal": error},
        {"cell_id": "transactional-java", "repetition": 2, "status": "ok", "transactions": 5_000, "refused_commits": 0, "refusal": None},
        {"cell_id": "transactional", "repetition": 1, "status": "ok", "transactions": 5_000, "refused_commits": 0, "refusal": None},
    ])
    assert refused_commits(frame) == [
        f"transactional-java: Kafka refused 1 of 10,000 commits (1.00 per 10,000) in 1 of 2 repetitions: {error}"]
    assert refused_commits(frame.assign(refused_commits=0)) == []


def test_a_killed_producers_announced_transactions_count_as_committed_and_the_rest_as_aborted():
    spec = ProducerSpec("producer-0", {"transactional.id": "t"}, "a", 0, 1, 100, None, 10, None, 0.0)
    announced = [(0, 10), (10, 20), (20, 30)]  # the last one never read: it died committing it
    result = reconstructed(spec, announced, read(range(20), range(20), range(20)), TOPICS)
    got = np.frombuffer(result.states, dtype=np.uint8)
    assert (got[:20] == ACKED).all() and (got[20:] == ABORTED).all() and list(result.committed) == [0, 10, 10, 20]
    # what its open transaction leaks is an aborted read
    leaked = reconstructed(spec, announced[:2], read([*range(20), 22], range(20), range(20)), TOPICS)
    assert Accounting.of_topics({0: np.frombuffer(leaked.states, dtype=np.uint8)}, read([*range(20), 22], range(20), range(20)),
                                TOPICS).unexpected == 1


def test_a_killed_idempotent_producers_half_written_events_are_partial():
    spec = ProducerSpec("producer-0", {}, "a", 0, 1, 100, None, None, None, 0.0)
    reads = read(range(12), range(10), range(11))
    result = reconstructed(spec, [], reads, TOPICS)
    assert result.committed is None
    assert atomicity({0: np.frombuffer(result.states, dtype=np.uint8)}, {}, reads, TOPICS) == {"torn_transactions": 0,
                                                                                            "partial_events": 2}


def test_a_transactional_mode_that_tears_splits_or_miscounts_is_a_broken_guarantee_and_an_idempotent_one_is_not():
    """What exits 1: each check, planted in a row of a mode that promises it; the same counts under a
    mode that promises no atomicity are shown, not findings."""
    import pandas as pd

    from bench.analysis.summary import broken_guarantees

    def row(mode, **counts):
        return {"cell_id": mode, "repetition": 1, "mode": mode, "duplicates": 0, "lost": 0, "unexpected": 0,
                "torn_transactions": float("nan"), "partial_events": float("nan"), "aggregates_wrong": float("nan"),
                "aggregate_excess": float("nan"), **counts}

    frame = pd.DataFrame([
        row("transactional", torn_transactions=2, partial_events=5),
        row("streams_exactly_once_v2", aggregates_wrong=3, aggregate_excess=7),
        row("idempotent", partial_events=850),
        row("streams_at_least_once", aggregates_wrong=556, aggregate_excess=556),
        row("at_least_once"),
    ])
    assert broken_guarantees(frame) == [
        "transactional r1: 2 torn transactions (some records read, not all)",
        "transactional r1: 5 events read in some of their topics only",
        "streams_exactly_once_v2 r1: 3 keys' aggregates differ from their input's (+7 records)",
    ]
