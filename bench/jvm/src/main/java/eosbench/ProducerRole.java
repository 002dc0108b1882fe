package eosbench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The load generator on Kafka's own Java producer: the {@code java} driver's twin of
 * bench/roles/producer.py, with the same spec (ProducerSpec), result (ProducerResult) and record
 * format (a 24-byte value prefix: cell, producer, sequence number, intended send time in monotonic
 * ns), so the verifying consumer and the accounting cannot tell the two drivers apart.
 *
 * <p>Closed loop ({@code rate} null) sends as fast as the producer's buffer takes records
 * ({@code buffer.memory} bounds what is outstanding; {@code send} blocks when it is full). Open
 * loop sends record i at start + i/rate; when it falls behind, the delay is recorded as
 * {@code send_delay} and the record keeps its intended time, so end-to-end latency includes the
 * stall (no coordinated omission). Transactions end at the first of {@code transaction_size}
 * events or {@code transaction_ms}; {@code abort_ratio} of them are aborted on purpose.
 *
 * <p>Against a broker with {@code transaction.version} 2 the Java producer speaks transactions v2
 * (KIP-890): no AddPartitionsToTxn round trip, an epoch bump at every commit.
 */
public final class ProducerRole {
    static final byte PENDING = 0, ACKED = 1, FAILED = 2, ABORTED = 3, IN_DOUBT = 4;  // bench.metrics
    private static final int PREFIX = 24;
    private static final int PAYLOADS = 64;

    /** Per sequence number, what the producer knows of the record: chunks that never move, so a callback can write while the sender grows it. */
    static final class States {
        private static final int CHUNK = 1 << 20;
        private final List<byte[]> chunks = new ArrayList<>();

        void ensure(long seq) {
            while ((long) chunks.size() * CHUNK <= seq) {
                chunks.add(new byte[CHUNK]);
            }
        }

        byte get(long seq) {
            return chunks.get((int) (seq / CHUNK))[(int) (seq % CHUNK)];
        }

        void set(long seq, byte state) {
            chunks.get((int) (seq / CHUNK))[(int) (seq % CHUNK)] = state;
        }

        void fill(long from, long to, byte state) {
            for (long s = from; s < to; s++) {
                set(s, state);
            }
        }

        long count(long from, long to, byte state) {
            long n = 0;
            for (long s = from; s < to; s++) {
                n += get(s) == state ? 1 : 0;
            }
            return n;
        }

        byte[] first(long n) {
            byte[] out = new byte[(int) n];
            for (int i = 0; i < n; i += CHUNK) {
                System.arraycopy(chunks.get(i / CHUNK), 0, out, i, (int) Math.min(CHUNK, n - i));
            }
            return out;
        }
    }

    private final RoleIo io;
    private final JsonNode spec;
    private final Properties config;
    private KafkaProducer<byte[], byte[]> producer;  // replaced by a new instance after a refused commit
    private final boolean transactional;
    private final List<String> topics = new ArrayList<>();
    private final States states = new States();
    private final States remaining = new States();  // fan-out: per event, records not yet acknowledged
    private final AtomicLong acks = new AtomicLong();
    private final List<Long> committed = new ArrayList<>();
    private final List<Long> refused = new ArrayList<>();  // [first, end) of every transaction whose commit Kafka refused
    private String refusal;  // the first refused commit's error
    private final Random rng;
    private RoleIo.Timeline timeline;
    private IntervalHistograms produceLatency, sendDelay, commitLatency;
    private long seq, windowFrom = Long.MAX_VALUE, txnFirst, txnStarted, backlog, transactions, aborts, abortsOnPurpose;
    private boolean inTxn, fenced;
    private Double cpuAtWindowStart;
    private Map<String, Object[]> threadsAtWindowStart;
    private long windowStartedAt;
    private Long ackedAtStart;

    private ProducerRole(RoleIo io) {
        this.io = io;
        this.spec = io.spec;
        this.config = io.config("config");
        this.transactional = config.containsKey("transactional.id");
        this.producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
        if (spec.path("turns").size() > 0) {  // order alternating: the profile refuses it for this driver
            throw new IllegalArgumentException("turns (order alternating) are taken by eosbench's Python producers only");
        }
        topics.add(spec.get("topic").asText());
        spec.get("fan_out_topics").forEach(t -> topics.add(t.asText()));
        rng = new Random(spec.get("producer_index").asLong());
    }

    public static void main(String[] args) throws Exception {
        RoleIo.main(io -> new ProducerRole(io).run());
    }

    private int run() throws Exception {
        if (transactional) {
            producer.initTransactions();
        }
        io.send("ready", null);
        timeline = io.awaitGo();
        produceLatency = new IntervalHistograms(timeline.measureStart());
        sendDelay = new IntervalHistograms(timeline.measureStart());
        commitLatency = new IntervalHistograms(timeline.measureStart());
        try {
            load();
        } catch (ProducerFencedException | InvalidProducerEpochException e) {
            fence();
        } catch (KafkaException e) {
            if (!(fencedCause(e) && transactional)) {
                throw e;
            }
            fence();
        }
        double cpuWindow = RoleIo.cpuSeconds() - (cpuAtWindowStart == null ? RoleIo.cpuSeconds() : cpuAtWindowStart);
        Map<String, Object> busiestThread = threadsAtWindowStart == null ? null
            : RoleIo.busiestThread(threadsAtWindowStart, RoleIo.threads(), (System.nanoTime() - windowStartedAt) / 1e9);
        long ackedDuringWindow = acks.get() - (ackedAtStart == null ? 0 : ackedAtStart);
        if (inTxn && !fenced) {
            endTransaction(true);
        }
        if (!fenced) {
            producer.flush();
        }
        long finished = System.nanoTime();
        producer.close(Duration.ofSeconds(fenced ? 5 : 60));
        Map<String, Object> result = result(cpuWindow, ackedDuringWindow, finished);
        result.put("busiest_thread", busiestThread);
        io.send("result", result);
        return 0;
    }

    private void load() {
        long start = timeline.start(), measureStart = timeline.measureStart(), measureEnd = timeline.measureEnd();
        int size = spec.get("message_size").asInt();
        byte[][] payloads = new byte[PAYLOADS][];
        Random random = new Random();
        for (int i = 0; i < PAYLOADS; i++) {
            payloads[i] = new byte[Math.max(size - PREFIX, 0)];
            random.nextBytes(payloads[i]);
        }
        double rate = spec.get("rate").isNull() ? 0 : spec.get("rate").asDouble();
        long interval = rate > 0 ? (long) (1e9 / rate) : 0;
        long txnSize = spec.get("transaction_size").isNull() ? 0 : spec.get("transaction_size").asLong();
        long txnNanos = spec.get("transaction_ms").isNull() ? 0 : (long) (spec.get("transaction_ms").asDouble() * 1e6);
        long budget = spec.get("max_records").asLong();
        int keys = spec.get("keys").asInt();
        int ordinal = spec.get("cell_ordinal").asInt(), index = spec.get("producer_index").asInt();
        long lastProgress = 0;
        for (long now = System.nanoTime(); now < start; now = System.nanoTime()) {
            LockSupport.parkNanos(Math.min(10_000_000L, start - now));
        }
        while (!fenced) {
            long now = System.nanoTime();
            if (ackedAtStart == null && now >= measureStart) {
                ackedAtStart = acks.get();
            }
            long intended;
            if (interval > 0) {
                intended = start + seq * interval;
                if (intended >= measureEnd || now >= measureEnd) {
                    // behind schedule at the window's end: the rest of the schedule is the backlog Kafka did not take
                    backlog = Math.max(0, Math.floorDiv(measureEnd - intended + interval - 1, interval));
                    break;
                }
                if (now < intended) {
                    LockSupport.parkNanos(intended - now);
                    continue;
                }
            } else {
                intended = now;
                if (now >= measureEnd || (budget > 0 && seq >= budget)) {
                    break;
                }
            }
            if (seq < windowFrom && intended >= measureStart) {
                windowFrom = seq;
                cpuAtWindowStart = RoleIo.cpuSeconds();
                threadsAtWindowStart = RoleIo.threads();
                windowStartedAt = System.nanoTime();
            }
            if (transactional && !inTxn) {
                producer.beginTransaction();
                inTxn = true;
                txnFirst = seq;
                txnStarted = now;
            }
            send(seq, intended, ordinal, index, payloads[(int) (seq % PAYLOADS)], keys);
            if (interval > 0 && seq >= windowFrom) {
                sendDelay.record(now, Math.max(0, (now - intended) / 1000));
            }
            seq++;
            if (inTxn && ((txnSize > 0 && seq - txnFirst >= txnSize) || (txnNanos > 0 && now - txnStarted >= txnNanos))) {
                endTransaction(seq - 1 >= windowFrom);
                inTxn = false;
            }
            if (now - lastProgress > 1_000_000_000L) {
                io.send("progress", seq);
                lastProgress = now;
            }
        }
    }

    /** One event: a record in each of the cell's topics, the same id in all of them. */
    private void send(long s, long intended, int ordinal, int index, byte[] payload, int keys) {
        states.ensure(s);
        int fanOut = topics.size();
        if (fanOut > 1) {
            remaining.ensure(s);
            remaining.set(s, (byte) fanOut);
        }
        byte[] value = new byte[PREFIX + payload.length];
        ByteBuffer.wrap(value).putInt(ordinal).putInt(index).putLong(s).putLong(intended);
        System.arraycopy(payload, 0, value, PREFIX, payload.length);
        byte[] key = keys > 0 ? ByteBuffer.allocate(4).putInt((int) (s % keys)).array() : null;
        boolean inWindow = s >= windowFrom;
        for (String topic : topics) {
            long sentAt = System.nanoTime();
            Callback delivered = (metadata, exception) -> {
                long now = System.nanoTime();
                if (exception != null) {
                    states.set(s, FAILED);
                    return;
                }
                if (inWindow) {
                    produceLatency.record(now, (now - sentAt) / 1000);
                }
                if (fanOut == 1 || lastOfEvent(s)) {
                    if (states.get(s) != FAILED) {
                        states.set(s, ACKED);
                        acks.incrementAndGet();
                    }
                }
            };
            producer.send(new ProducerRecord<>(topic, null, key, value), delivered);
        }
    }

    /** An event is acknowledged once every one of its records is. */
    private synchronized boolean lastOfEvent(long s) {
        byte left = (byte) (remaining.get(s) - 1);
        remaining.set(s, left);
        return left == 0;
    }

    /** Commit (or abort, for {@code abort_ratio}), as bench/roles/producer.py classifies errors. */
    private void endTransaction(boolean inWindow) {
        long first = txnFirst, last = seq;
        if (rng.nextDouble() < spec.get("abort_ratio").asDouble()) {
            producer.flush();  // the aborted records really are in the log, so read_committed filtering is exercised
            producer.abortTransaction();
            states.fill(first, last, ABORTED);
            aborts++;
            abortsOnPurpose++;
            return;
        }
        if (spec.get("announce_transactions").asBoolean()) {
            io.send("txn", List.of(first, last));
        }
        long started = System.nanoTime();
        while (true) {
            try {
                producer.commitTransaction();
                break;
            } catch (TimeoutException e) {
                // the commit's outcome is unknown: calling commit again completes it (KafkaProducer's javadoc)
            } catch (ProducerFencedException | InvalidProducerEpochException e) {
                throw e;
            } catch (KafkaException e) {
                if (fencedCause(e)) {
                    throw e;
                }
                try {
                    producer.abortTransaction();  // an abortable error: the transaction's records never become visible
                } catch (KafkaException fatal) {
                    if (fencedCause(fatal)) {
                        throw fatal;
                    }
                    refused(first, last, e);
                    return;
                }
                states.fill(first, last, ABORTED);
                aborts++;
                return;
            }
        }
        long now = System.nanoTime();
        if (inWindow) {
            commitLatency.record(now, (now - started) / 1000);
        }
        transactions++;
        committed.add(first);
        committed.add(last);
    }

    /**
     * Kafka refused the commit with an error the producer holds as fatal that is no fence (the
     * coordinator's INVALID_TXN_STATE: "state is COMPLETE_COMMIT, but received transaction marker
     * result to send: COMMIT"), so neither commit nor abort can be called again. That is a finding
     * about Kafka, not the end of the cell: the transaction's records are IN_DOUBT (what the
     * read_committed verifier reads of them tells their outcome, all or none), and a new instance
     * with the same transactional.id takes over (its initTransactions ends whatever the coordinator
     * still holds open) and the load goes on.
     */
    private void refused(long first, long last, KafkaException e) {
        refused.add(first);
        refused.add(last);
        if (refusal == null) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            refusal = root.getClass().getSimpleName() + ": " + root.getMessage();
        }
        producer.close(Duration.ZERO);
        producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
        producer.initTransactions();
        states.fill(first, last, IN_DOUBT);  // after the close, whose callbacks could still mark a record
    }

    /** A newer instance with this transactional.id took over (a zombie): the open transaction can never commit. */
    private void fence() {
        if (inTxn) {
            states.fill(txnFirst, seq, ABORTED);  // what was sent of it fails or stays invisible
            aborts++;
        }
        fenced = true;
        inTxn = false;
    }

    private static boolean fencedCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ProducerFencedException || t instanceof InvalidProducerEpochException) {
                return true;
            }
        }
        return false;
    }

    private Map<String, Object> result(double cpuWindow, long ackedDuringWindow, long finished) {
        long first = Math.min(windowFrom, seq);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("producer_index", spec.get("producer_index").asInt());
        result.put("states", Map.of("$bytes", Base64.getEncoder().encodeToString(states.first(seq))));
        result.put("sent", seq);
        result.put("elapsed_s", (finished - timeline.start()) / 1e9);
        result.put("window_acked", states.count(first, seq, ACKED));
        result.put("acked_during_window", ackedDuringWindow);
        result.put("backlog", backlog);
        result.put("transactions", transactions);
        result.put("aborts", aborts);
        result.put("aborts_on_purpose", abortsOnPurpose);
        result.put("cpu_window_s", cpuWindow);
        result.put("cpu_total_s", RoleIo.cpuSeconds());
        result.put("throttle_ms", throttleMs());
        Map<String, Object> histograms = new LinkedHashMap<>();
        histograms.put("produce", produceLatency.encoded());
        histograms.put("send_delay", sendDelay.encoded());
        histograms.put("commit", commitLatency.encoded());
        result.put("histograms", histograms);
        result.put("client_log", io.log.result());
        if (transactional) {
            ByteBuffer ranges = ByteBuffer.allocate(committed.size() * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            committed.forEach(ranges::putLong);
            result.put("committed", Map.of("$int64", Base64.getEncoder().encodeToString(ranges.array())));
            ByteBuffer refusedRanges = ByteBuffer.allocate(refused.size() * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            refused.forEach(refusedRanges::putLong);
            result.put("refused", Map.of("$int64", Base64.getEncoder().encodeToString(refusedRanges.array())));
            result.put("refusal", refusal);
        }
        result.put("fenced", fenced);
        return result;
    }

    /**
     * How long brokers held this producer back for a quota: the Java producer keeps only a windowed
     * average and maximum of the throttle time per response, not a total; a non-zero maximum is
     * reported (as the cell's flag needs), zero otherwise.
     */
    private double throttleMs() {
        return producer.metrics().entrySet().stream()
            .filter(e -> e.getKey().name().equals("produce-throttle-time-max") && e.getKey().group().equals("producer-metrics"))
            .map(e -> e.getValue().metricValue())
            .filter(v -> v instanceof Number n && Double.isFinite(n.doubleValue()))
            .mapToDouble(v -> ((Number) v).doubleValue()).sum();
    }
}
