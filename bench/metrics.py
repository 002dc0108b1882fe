"""Latency histograms and record accounting: what each role measures, and how it travels.

Recording must stay cheap enough not to move the throughput it measures: a role appends raw
microsecond values to a list and, once a second, records the window's distinct values with their
counts (numpy) into that second's HdrHistogram. Histograms cross process boundaries encoded, and
are written as standard HdrHistogram log files so any HdrHistogram tool can recompute percentiles.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader, HistogramLogWriter

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: anything slower is a hang, counted as out of range
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)
LATENCY_KINDS = ("produce", "e2e", "commit", "send_delay")
# The lag sampler's columns (lag.csv): one row per second, group and partition.
LAG_COLUMNS = ("t_s", "phase", "group", "topic", "partition", "committed", "high_watermark", "last_stable",
               "hw_lag", "lso_lag", "readable_lag", "time_lag_s")
# The broker request types whose counts per 1,000 records a cell reports (JMX RequestMetrics names):
# what a produce, a consume, a transaction and an offset commit cost in round trips. The window's
# other request types are kept in metrics.json (`resources.requests`) without a column.
REQUEST_TYPES = ("Produce", "Fetch", "InitProducerId", "AddPartitionsToTxn", "AddOffsetsToTxn", "TxnOffsetCommit",
                 "EndTxn", "WriteTxnMarkers", "OffsetCommit")


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_counts(hist: HdrHistogram, values: np.ndarray, counts: np.ndarray) -> int:
    """Add `counts[i]` recordings of `values[i]` (microseconds, int64) to `hist` at once; returns
    how many were out of range (not recorded, as `record_value` refuses them).

    hdrh's `record_value` is Python, about 1 us a call, once per distinct value: a second of
    300,000 latencies (20,536 distinct values) took 18.7 ms one by one and 1.2 ms at once (py-spy
    had put 12% of the producer role's samples at 1 KB in that flush). This computes the counts index exactly as hdrh's
    `_counts_index_for` does (bucket from the bit length, sub-bucket by shifting), for every value
    at once; tests/test_recording.py checks the result against `record_value`, value for value.
    """
    values = np.asarray(values, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    _, bit_length = np.frexp((values | hist.sub_bucket_mask).astype(np.float64))  # exact below 2**53
    bucket = bit_length.astype(np.int64) - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + hist.unit_magnitude)
    index = ((bucket + 1) << hist.sub_bucket_half_count_magnitude) + sub_bucket - hist.sub_bucket_half_count
    ok = (values >= 0) & (index >= 0) & (index < hist.counts_len)
    if ok.any():
        np.add.at(np.ctypeslib.as_array(hist.counts), index[ok], counts[ok].astype(np.uint64))
        hist.total_count += int(counts[ok].sum())
        hist.min_value = min(hist.min_value, int(values[ok].min()))
        hist.max_value = max(hist.max_value, int(values[ok].max()))
    return int(counts[~ok].sum())


class IntervalRecorder:
    """One latency kind, one HdrHistogram per second of the measured window.

    `record` is the hot path (a list append); `tick` is called from the role's loop and moves
    finished seconds into histograms. Values land in the second during which they were ticked,
    which is at most one loop iteration late.
    """

    def __init__(self, window_start_ns: int, scale: float = 1.0):
        """`scale` converts recorded values to microseconds at flush time, not per record
        (librdkafka reports produce latency in float seconds: scale=1e6)."""
        self.window_start_ns = window_start_ns
        self.scale = scale
        self._index = 0
        self._values: list[int] = []
        self._arrays: list[np.ndarray] = []
        self.intervals: dict[int, HdrHistogram] = {}
        self.out_of_range = 0
        self.record = self._values.append
        self.record_many = self._arrays.append  # a numpy array of values, for readers that parse in batches

    def tick(self, now_ns: int) -> None:
        index = max(0, (now_ns - self.window_start_ns) // 1_000_000_000)
        if index != self._index:
            self._flush()
            self._index = index

    def _flush(self) -> None:
        if not self._values and not self._arrays:
            return
        raw = np.concatenate([np.asarray(self._values), *self._arrays]) if self._arrays else np.asarray(self._values)
        self._arrays.clear()
        values, counts = np.unique((raw * self.scale).astype(np.int64) if self.scale != 1.0 else raw.astype(np.int64), return_counts=True)
        self._values.clear()
        hist = self.intervals.get(self._index) or self.intervals.setdefault(self._index, new_histogram())
        self.out_of_range += record_counts(hist, np.maximum(values, LOWEST_US), counts)

    def encoded(self) -> dict:
        """What travels to the cell runner: {second: base64 histogram}, and the out-of-range count."""
        self._flush()
        return {
            "intervals": {i: h.encode().decode() for i, h in sorted(self.intervals.items()) if h.get_total_count()},
            "out_of_range": self.out_of_range,
        }


@dataclass
class LatencySeries:
    """One latency kind for a whole cell: interval histograms merged across roles, and their total."""

    intervals: dict[int, HdrHistogram] = field(default_factory=dict)
    out_of_range: int = 0

    def merge(self, encoded: dict) -> None:
        self.out_of_range += encoded["out_of_range"]
        for index, payload in encoded["intervals"].items():
            hist = HdrHistogram.decode(payload)
            mine = self.intervals.setdefault(int(index), new_histogram())
            mine.add(hist)

    def total(self) -> HdrHistogram:
        total = new_histogram()
        for hist in self.intervals.values():
            total.add(hist)
        return total

    def percentiles_ms(self) -> dict[str, float | None]:
        total = self.total()
        count = total.get_total_count()
        out: dict[str, float | None] = {"count": count}
        for p in PERCENTILES:
            out[f"p{_pname(p)}_ms"] = total.get_value_at_percentile(p) / 1000.0 if count else None
        out["max_ms"] = total.get_max_value() / 1000.0 if count else None
        out["mean_ms"] = total.get_mean_value() / 1000.0 if count else None
        return out

    def write_hlog(self, path: Path, window_start_epoch_s: float, comment: str) -> None:
        """A standard HdrHistogram log: intervals relative to a StartTime written by hand.

        hdrhistogram 0.10.8's `output_start_time` is broken, so the StartTime line is written here.
        """
        with open(path, "w") as fh:
            writer = HistogramLogWriter(fh)
            writer.output_log_format_version()
            writer.output_comment(f"[{comment}; values in microseconds]")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(window_start_epoch_s))
            fh.write(f"#[StartTime: {window_start_epoch_s:.3f} (seconds since epoch), {stamp}Z]\n")
            writer.output_legend()
            for index in sorted(self.intervals):
                hist = self.intervals[index]
                hist.set_start_time_stamp(index * 1000)
                hist.set_end_time_stamp((index + 1) * 1000)
                writer.output_interval_histogram(hist, max_value_unit_ratio=1000.0)


def read_intervals(path: Path) -> dict[float, HdrHistogram]:
    """The interval histograms of an HdrHistogram log file, by seconds from the log's start time."""
    reader = HistogramLogReader(str(path), new_histogram())
    out: dict[float, HdrHistogram] = {}
    while (hist := reader.get_next_interval_histogram()) is not None:
        out[hist.get_start_time_stamp() / 1000.0 - reader.get_start_time_sec()] = hist
    return out


def read_hlog(path: Path) -> HdrHistogram:
    """The total histogram of an HdrHistogram log file (how reports recompute percentiles)."""
    total = new_histogram()
    for hist in read_intervals(path).values():
        total.add(hist)
    return total


def _pname(p: float) -> str:
    return str(p).rstrip("0").rstrip(".").replace(".", "")


# ---------------------------------------------------------------------------------------- accounting

# What a producer knows of each record it sent, indexed by sequence number. IN_DOUBT: its
# transaction's commit was refused with an error the client holds as fatal and that is no fence
# (a finding about Kafka); the read_committed verifier's read tells the outcome, all or none.
PENDING, ACKED, FAILED, ABORTED, IN_DOUBT = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Accounting:
    """Every record id of a cell (producer index, sequence number), accounted for."""

    sent: int
    acked: int          # acknowledged, and for transactional producers in a committed transaction
    failed: int         # the producer was told the record was not written
    aborted: int        # written inside a transaction that was aborted
    consumed: int       # records the verifying consumer received, duplicates included
    duplicates: int     # receptions beyond the first of an id
    lost: int           # acked but never consumed
    unexpected: int     # consumed although never acked (a failed or aborted record that surfaced)
    in_doubt: int = 0       # in a transaction whose commit Kafka refused (IN_DOUBT): neither lost nor unexpected
    in_doubt_read: int = 0  # of those, read: the coordinator committed them after all

    @classmethod
    def reconcile(cls, producer_states: dict[int, np.ndarray], consumed_ids: dict[int, np.ndarray]) -> "Accounting":
        sent = acked = failed = aborted = consumed = duplicates = lost = unexpected = in_doubt = in_doubt_read = 0
        for producer in set(producer_states) | set(consumed_ids):
            states = producer_states.get(producer, np.zeros(0, dtype=np.uint8))
            seen = consumed_ids.get(producer, np.zeros(0, dtype=np.int64))
            counts = np.bincount(seen, minlength=len(states)) if len(seen) else np.zeros(len(states), dtype=np.int64)
            beyond = counts[len(states):]  # ids the producer never reported: foreign or corrupt
            counts = counts[: len(states)]
            sent += len(states)
            acked += int(np.count_nonzero(states == ACKED))
            failed += int(np.count_nonzero(states == FAILED))
            aborted += int(np.count_nonzero(states == ABORTED))
            consumed += int(len(seen))
            duplicates += int(np.clip(counts - 1, 0, None).sum() + np.clip(beyond - 1, 0, None).sum())
            lost += int(np.count_nonzero((states == ACKED) & (counts == 0)))
            doubt = states == IN_DOUBT
            unexpected += int(np.count_nonzero((states != ACKED) & ~doubt & (counts > 0)) + np.count_nonzero(beyond))
            in_doubt += int(np.count_nonzero(doubt))
            in_doubt_read += int(np.count_nonzero(doubt & (counts > 0)))
        return cls(sent, acked, failed, aborted, consumed, duplicates, lost, unexpected, in_doubt, in_doubt_read)

    @classmethod
    def of_topics(cls, producer_states: dict[int, np.ndarray], consumed_ids: dict[int, np.ndarray], topics: int) -> "Accounting":
        """Every record of every topic: with fan-out each event is one record per topic, so each
        topic's receptions are reconciled against the producers' events and the counts added up."""
        parts = [cls.reconcile(producer_states, {stream_producer(k): v for k, v in consumed_ids.items() if stream_topic(k) == t})
                 for t in range(topics)]
        return cls(*(sum(getattr(part, f.name) for part in parts) for f in fields(cls)))


def atomicity(producer_states: dict[int, np.ndarray], committed: dict[int, np.ndarray], consumed_ids: dict[int, np.ndarray],
              topics: int) -> dict[str, int]:
    """What a transaction-level checker finds (Jepsen's anomalies, beside the record-level ones):

    - torn_transactions: committed transactions (and those whose commit Kafka refused, which
      must be all or none as well) of which some records, but not all, were read (in any of the
      topics they wrote to);
    - partial_events: events read in some of their topics but not in all.
    Aborted reads are the accounting's `unexpected`, lost writes its `lost`.
    """
    torn = partial = 0
    for producer, states in producer_states.items():
        n = len(states)
        read_in = np.zeros(n, dtype=np.int64)  # per event: in how many topics it was read
        for t in range(topics):
            seqs = consumed_ids.get(stream(t, producer), np.zeros(0, dtype=np.int64))
            seen = np.zeros(n, dtype=bool)
            seen[seqs[(seqs >= 0) & (seqs < n)]] = True
            read_in += seen
        partial += int(np.count_nonzero((read_in > 0) & (read_in < topics)))
        ranges = committed.get(producer)
        if ranges is not None and len(ranges):
            total = np.concatenate([[0], np.cumsum(read_in)])
            # a record that never left the producer (its schema refused by the registry) is no part of its transaction
            sent = np.concatenate([[0], np.cumsum(states != FAILED)])
            first, end = ranges[0::2], ranges[1::2]
            got = total[end] - total[first]
            torn += int(np.count_nonzero((got > 0) & (got < (sent[end] - sent[first]) * topics)))
    return {"torn_transactions": torn, "partial_events": partial}


# The record format: every value begins with a fixed 24-byte prefix, big-endian: the cell's
# ordinal (int32), the producer's index (int32), the record's sequence number (int64), and its
# intended send time (int64, monotonic ns). The rest of the value is random payload. The id travels
# in the value, not in headers: confluent-kafka's produce_batch() takes no headers, and headers
# cost the generator ~1.1 us of its ~3.1 us per record (benchmarks/generator_cost.py).
RECORD_PREFIX = struct.Struct(">iiqq")
PREFIX_SIZE = RECORD_PREFIX.size
PREFIX_DTYPE = np.dtype([("cell", ">i4"), ("producer", ">i4"), ("seq", ">i8"), ("intended_ns", ">i8")])
SEQ_OFFSET = 8  # where the sequence number starts in the prefix


# A stateful processor's records are keyed (they are unkeyed otherwise, so producers batch as they
# would for an unkeyed topic): the key is the sequence number modulo a cell's key count, as 4 bytes
# big-endian, so the expected count of every key follows from the producers' acknowledgements, and
# the stateful processor's output value is its input value followed by the key's count (int64).
STATEFUL_KEYS = 1_000
KEY = struct.Struct(">i")
COUNT = struct.Struct(">q")


def record_keys(keys: int) -> list[bytes]:
    """Key i of a cell with `keys` keys, for the sequence numbers congruent to i."""
    return [KEY.pack(i) for i in range(keys)]


def expected_aggregates(states: dict[int, np.ndarray], keys: int) -> np.ndarray:
    """Per key, how many acknowledged records carry it: what a per-key count over the input is, exactly once."""
    total = np.zeros(keys, dtype=np.int64)
    for per_seq in states.values():
        total += np.bincount(np.flatnonzero(per_seq == ACKED) % keys, minlength=keys)
    return total


def read_counts(values: list[bytes]) -> np.ndarray:
    """The trailing count of each value of a stateful processor's output."""
    return np.frombuffer(b"".join([v[-COUNT.size:] for v in values]), dtype=">i8").astype(np.int64)


def record_value(cell_ordinal: int, producer: int, seq: int, intended_ns: int, payload: bytes) -> bytes:
    return RECORD_PREFIX.pack(cell_ordinal, producer, seq, intended_ns) + payload


def read_prefixes(values: list[bytes]) -> np.ndarray:
    """The prefixes of a batch of record values, parsed at once (numpy): fields cell, producer, seq, intended_ns."""
    return np.frombuffer(b"".join([v[:PREFIX_SIZE] for v in values]), dtype=PREFIX_DTYPE)


# With fan-out an event is one record per topic, all with the same id; readers keep ids per stream,
# a (topic index, producer index) pair: topic 0's streams are the producers' own indices.
_STREAMS_PER_TOPIC = 1 << 16


def stream(topic_index: int, producer: int) -> int:
    return topic_index * _STREAMS_PER_TOPIC + producer


def stream_topic(key: int) -> int:
    return key // _STREAMS_PER_TOPIC


def stream_producer(key: int) -> int:
    return key % _STREAMS_PER_TOPIC


def ids_by_stream(prefixes: np.ndarray, topic_indices: np.ndarray | None) -> dict[int, np.ndarray]:
    """Sequence numbers grouped by stream; `topic_indices` None: every record from topic 0."""
    if topic_indices is None or not topic_indices.any():
        return ids_by_producer(prefixes)
    keys = topic_indices.astype(np.int64) * _STREAMS_PER_TOPIC + prefixes["producer"].astype(np.int64)
    return {int(k): prefixes["seq"][keys == k].astype(np.int64) for k in np.unique(keys)}


def ids_by_producer(prefixes: np.ndarray) -> dict[int, np.ndarray]:
    """Sequence numbers grouped by producer index."""
    producers = prefixes["producer"]
    if len(producers) and (producers == producers[0]).all():
        return {int(producers[0]): prefixes["seq"].astype(np.int64)}
    return {int(p): prefixes["seq"][producers == p].astype(np.int64) for p in np.unique(producers)}
