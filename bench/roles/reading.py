"""What the reading roles (verifying consumer, processor, lag probe) share: joining, draining, stamps.

Readers cannot know when the last record has arrived, so the cell runner tells them, once the
producers are done, how many records to expect; a reader stops when it has them all and has been
quiet for a moment, or when it has been quiet for long AND has read to the end of every partition.
A mode that loses records therefore costs a quiet period, never a hang. A reader that is still
making progress, or that has not reached the end of the log (a client backing off for up to
`reconnect.backoff.max.ms` after a broker restart is quiet, not finished: seen as 6,336 "lost"
records after a leader kill), is never cut off as if records were lost: only a hard cap far beyond
any drain stops it, and it says so (`cut_off`), so the cell fails instead of reporting unread
records as lost.
"""

from __future__ import annotations

import time

import numpy as np
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from bench.roles import clock
from bench.roles import Channel, RoleFailed
from bench.roles.protocol import Kind

SETTLE_NS = 500_000_000


def next_batch(consumer: Consumer, max_messages: int, timeout_s: float) -> list[Message]:
    """What has arrived, returned as soon as anything has.

    `Consumer.consume(n, timeout)` waits until it has n records or the timeout passes, so at a
    low rate it holds the first record of a batch for the whole timeout: measured, +54 ms on the
    end-to-end p50 at 2,000 msg/s. Take what is already fetched, else block for one record only.
    """
    batch = consumer.consume(max_messages, 0)
    if batch:
        return batch
    first = consumer.poll(timeout_s)
    return [] if first is None else [first, *consumer.consume(max_messages - 1, 0)]


def join(consumer: Consumer, topics: list[str], timeout_s: float = 60.0, **callbacks) -> list[Message]:
    """Subscribe (with rebalance `callbacks`: on_assign, on_revoke, on_lost) and wait for
    partitions; records that already arrive are kept, not dropped."""
    consumer.subscribe(topics, **callbacks)
    early: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise RoleFailed(f"no partitions of {topics} assigned within {timeout_s:.0f}s")
        early += consumer.consume(500, 0.1)
    return early


class DistinctIds:
    """How many different record ids a reader has seen, kept as one bit per sequence number.

    Sequence numbers are dense from 0 per producer, so a growing boolean array costs a byte per
    record sent and a few microseconds per batch. Ids beyond `MAX_SEQ` cannot have been acknowledged
    by any run this tool makes; they are left to the accounting (as `unexpected`), not counted here.
    """

    MAX_SEQ = 1 << 32

    def __init__(self) -> None:
        self.count = 0
        self._seen: dict[int, np.ndarray] = {}

    def add(self, ids: dict[int, np.ndarray]) -> None:
        for producer, seqs in ids.items():
            seqs = seqs[(seqs >= 0) & (seqs < self.MAX_SEQ)]
            if not len(seqs):
                continue
            seen = self._seen.get(producer, np.zeros(0, dtype=bool))
            top = int(seqs.max()) + 1
            if top > len(seen):
                seen = self._seen[producer] = np.concatenate([seen, np.zeros(max(top, 2 * len(seen)) - len(seen), dtype=bool)])
            new = np.unique(seqs[~seen[seqs]])
            seen[new] = True
            self.count += len(new)


class Drain:
    """Decides when a reader may stop, once the cell runner has said `drain`."""

    def __init__(self, end: LogEnd | None = None) -> None:
        self.end = end
        self.expected: int | None = None
        self.quiet_ns = 0
        self.deadline_ns: int | None = None
        self.last_message_ns = clock.now_ns()
        self.cut_off = False

    def close(self) -> None:
        if self.end is not None:
            self.end.close()

    def listen(self, channel: Channel) -> float:
        """Take the runner's messages; returns the seconds to pause for if told to pause."""
        pause_s = 0.0
        while channel.poll():
            kind, payload = channel.recv()
            if kind is Kind.DRAIN:
                self.expected = payload.expected
                self.quiet_ns = int(payload.quiet_s * 1e9)
                self.deadline_ns = clock.now_ns() + int(payload.timeout_s * 1e9)
            elif kind is Kind.PAUSE:
                pause_s += payload
        return pause_s

    def done(self, now_ns: int, distinct: int, got_messages: bool, consumer: Consumer | None = None) -> bool:
        """Whether to stop, having seen `distinct` different record ids; `consumer`, when given, must
        have read to the end of its partitions before a quiet period counts as the end of an
        incomplete drain."""
        if got_messages:
            self.last_message_ns = now_ns
        if self.deadline_ns is None:
            return False
        quiet = now_ns - self.last_message_ns
        complete = self.expected is not None and distinct >= self.expected
        if complete and quiet >= SETTLE_NS:
            return True
        if quiet >= self.quiet_ns and (consumer is None or self.end is None or self.end.reached(consumer)):
            return True
        self.cut_off = now_ns >= self.deadline_ns
        return self.cut_off


class LogEnd:
    """Whether a reader has reached the end of its partitions' logs: their high watermarks.

    A read_committed consumer's own watermark query answers the last stable offset, so behind a
    transaction left open (a producer killed mid-transaction and succeeded under another
    transactional.id, until the broker aborts it after transaction.timeout.ms) a reader at that
    offset looks finished while the records behind the transaction are still to come: seen as
    10,503 records "lost" after a stateless Kafka Streams application was killed. A client of its
    own, read_uncommitted and in no group, asks for the high watermark instead.
    """

    def __init__(self, config: dict, logger) -> None:
        self.config = {**{k: v for k, v in config.items() if k != "group.instance.id"},
                       "group.id": f"{config.get('group.id', 'eosbench')}.log-end", "isolation.level": "read_uncommitted"}
        self.logger = logger
        self.probe: Consumer | None = None

    def reached(self, consumer: Consumer) -> bool:
        """Whether the consumer's position is at the high watermark of every assigned partition (a
        broker that cannot be asked counts as not yet)."""
        if self.probe is None:
            self.probe = Consumer(self.config, logger=self.logger)
        try:
            for tp in consumer.position(consumer.assignment()):
                low, high = self.probe.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=2, cached=False)
                if (tp.offset if tp.offset >= 0 else low) < high:  # no position yet: nothing read of it
                    return False
        except KafkaException:
            return False
        return True

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()


class ReaderHold:
    """A verifying consumer that waits for the end of the window before it reads (order
    alternating, bench.cell.turns): paused (no fetching) until then, and reading everything after.

    Why: the reader's CPU must land in no mode's turn. Reading whenever records were readable put a
    transactional cell's reading after each commit, in the next cell's turn (50,000 records per
    transaction then ran 6-10% faster than at_least_once, whose reader competed with its own
    producer); reading in its own cell's turns only, a reader at 200,000 records/s fell ever
    further behind its producer (end-to-end p50 of 65 s) and did the rest after the window, more
    of it the faster its mode. Held until the window has ended, every mode's producers have the
    machine to themselves alike, and the accounting is as exact as ever. Its end-to-end latency is
    then the wait, and is not recorded: latency is an open-loop figure (the shipped profile tradeoff)."""

    def __init__(self, reads_from_ns: int):
        self.reads_from_ns = reads_from_ns
        self.paused = False

    def held(self, consumer: Consumer, pending: list) -> bool:
        """Whether the reader must still wait; records librdkafka had already fetched before the
        pause are kept in `pending`, never dropped."""
        now = clock.now_ns()
        if now >= self.reads_from_ns:
            if self.paused:
                consumer.resume(consumer.assignment())
                self.paused = False
            return False
        if not self.paused:
            consumer.pause(consumer.assignment())
            self.paused = True
        pending += consumer.consume(1000, 0)  # serves the group's callbacks; a paused reader takes nothing new
        time.sleep(max(0.0, min(0.1, (self.reads_from_ns - now) / 1e9)))
        return True
