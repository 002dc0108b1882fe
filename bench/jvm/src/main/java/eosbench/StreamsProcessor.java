package eosbench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The processor of topology {@code process} as a real Kafka Streams application: eosbench's roles
 * {@code streams_at_least_once} and {@code streams_exactly_once_v2} (bench/modes.py).
 *
 * <p>It speaks eosbench's role protocol (bench/roles/protocol.py) as newline-delimited JSON: its
 * spec is the first line on stdin, then {@code go} and {@code drain} arrive on stdin; it answers
 * {@code ready} once the application is RUNNING, then {@code result} (a ProcessorResult) or
 * {@code error}. stdout carries nothing else: Kafka's own logging goes to the result's client log.
 *
 * <p>Two topologies, both keeping the input value (its 24-byte eosbench prefix: cell, producer,
 * sequence number, intended send time) so the verifying consumer accounts for every record:
 * <ul>
 *   <li>stateless: each record passed through to the output topic;</li>
 *   <li>stateful: a running count per key in a persistent (RocksDB) store with a changelog topic,
 *       every update forwarded (the store's cache is off): the output value is the input value
 *       followed by the key's count as 8 big-endian bytes, so exactly-once also covers state.</li>
 * </ul>
 */
public final class StreamsProcessor {
    static final String STORE = "counts";
    private static final int PREFIX = 24;

    /** Distinct record ids processed, one bit per (producer, sequence number), for the drain. */
    static final class Seen {
        private final Map<Integer, BitSet> bits = new ConcurrentHashMap<>();
        final AtomicLong distinct = new AtomicLong();
        final AtomicLong processed = new AtomicLong();
        final AtomicLong inWindow = new AtomicLong();
        volatile long lastNanos = System.nanoTime();
        // the measured window on the runner's clock (System.nanoTime is CLOCK_MONOTONIC, as Python's monotonic_ns)
        volatile long windowStart = Long.MAX_VALUE;
        volatile long windowEnd = Long.MAX_VALUE;

        void record(byte[] value) {
            processed.incrementAndGet();
            long now = System.nanoTime();
            lastNanos = now;
            if (now >= windowStart && now < windowEnd) {
                inWindow.incrementAndGet();
            }
            if (value == null || value.length < PREFIX) {
                return;
            }
            ByteBuffer prefix = ByteBuffer.wrap(value);
            int producer = prefix.getInt(4);
            long seq = prefix.getLong(8);
            if (seq < 0 || seq >= Integer.MAX_VALUE) {
                return;  // left to the accounting, as bench.roles.reading.DistinctIds does
            }
            BitSet set = bits.computeIfAbsent(producer, p -> new BitSet());
            synchronized (set) {
                if (!set.get((int) seq)) {
                    set.set((int) seq);
                    distinct.incrementAndGet();
                }
            }
        }
    }

    /** The stateful topology's processor: count per key, forward every update. */
    static final class Counter implements Processor<byte[], byte[], byte[], byte[]> {
        private final Seen seen;
        private ProcessorContext<byte[], byte[]> context;
        private KeyValueStore<Bytes, Long> store;

        Counter(Seen seen) {
            this.seen = seen;
        }

        @Override
        public void init(ProcessorContext<byte[], byte[]> context) {
            this.context = context;
            this.store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            if (record.key() == null) {
                throw new IllegalStateException("a record without a key reached the stateful topology (producers key its records)");
            }
            seen.record(record.value());
            Bytes key = Bytes.wrap(record.key());
            Long before = store.get(key);
            long count = (before == null ? 0 : before) + 1;
            store.put(key, count);
            byte[] in = record.value();
            byte[] out = Arrays.copyOf(in, in.length + Long.BYTES);
            ByteBuffer.wrap(out).putLong(in.length, count);
            context.forward(record.withValue(out));
        }
    }

    private final RoleIo io;
    private final JsonNode spec;
    private final Seen seen = new Seen();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountDownLatch running = new CountDownLatch(1);
    private final AtomicLong firstCommitNs = new AtomicLong();  // 0 until the first commit

    private StreamsProcessor(RoleIo io) {
        this.io = io;
        this.spec = io.spec;
    }

    public static void main(String[] args) throws Exception {
        RoleIo.main(io -> new StreamsProcessor(io).run());
    }

    private int run() throws Exception {
        Properties config = io.config("config");
        KafkaStreams streams = new KafkaStreams(topology(), config);
        streams.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING) {
                running.countDown();
            }
        });
        try (Admin admin = Admin.create(adminConfig(config))) {
            streams.start();
            Thread firstCommit = watchFirstCommit(streams);
            if (!running.await(90, TimeUnit.SECONDS)) {
                throw new IllegalStateException("Kafka Streams did not reach RUNNING within 90s (state " + streams.state() + ")");
            }
            io.send("ready", null);
            // what a kill would otherwise take with it: the runner adds the last count to its successor's
            Thread progress = new Thread(() -> {
                try {
                    while (true) {
                        Thread.sleep(1000);
                        io.send("progress", seen.inWindow.get());
                    }
                } catch (Exception e) {
                    // interrupted, or the runner is gone
                }
            }, "eosbench-progress");
            progress.setDaemon(true);
            progress.start();
            boolean cutOff = drain(admin, config.getProperty(StreamsConfig.APPLICATION_ID_CONFIG));
            progress.interrupt();
            firstCommit.interrupt();
            if (failure.get() != null) {
                throw new IllegalStateException("Kafka Streams failed", failure.get());
            }
            long transactions = StreamsConfig.AT_LEAST_ONCE.equals(config.getProperty(StreamsConfig.PROCESSING_GUARANTEE_CONFIG))
                ? 0 : (long) sum(streams, "commit-total");
            if (!streams.close(Duration.ofSeconds(60))) {  // a clean close commits what was processed
                throw new IllegalStateException("Kafka Streams did not close within 60s");
            }
            if (failure.get() != null) {
                throw new IllegalStateException("Kafka Streams failed", failure.get());
            }
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("processed", seen.processed.get());
            result.put("cut_off", cutOff);
            result.put("window_committed", null);  // Streams commits on its own schedule, unseen by the application
            result.put("window_processed", seen.inWindow.get());
            result.put("transactions", transactions);
            result.put("aborts", 0);
            result.put("rewinds", 0);
            result.put("cpu_total_s", RoleIo.cpuSeconds());
            result.put("histograms", Map.of());
            result.put("client_log", io.log.result());
            result.put("first_commit_ns", firstCommitNs.get() == 0 ? null : firstCommitNs.get());
            io.send("result", result);
            return 0;
        } finally {
            streams.close(Duration.ofSeconds(10));
        }
    }

    /**
     * When the application first committed (System.nanoTime, the monotonic clock the cell's
     * timeline runs on): a restarted instance's recovery ends there. Streams commits on its own
     * thread and tells no listener, so its thread-level commit count (which counts only commits
     * that committed something) is read every 10 ms until it moves.
     */
    private Thread watchFirstCommit(KafkaStreams streams) {
        Thread watcher = new Thread(() -> {
            try {
                while (sum(streams, "commit-total") == 0) {
                    Thread.sleep(10);
                }
                firstCommitNs.set(System.nanoTime());
            } catch (InterruptedException e) {
                // drained before any commit: no first commit to report
            }
        }, "eosbench-first-commit");
        watcher.setDaemon(true);
        watcher.start();
        return watcher;
    }

    private org.apache.kafka.streams.Topology topology() {
        StreamsBuilder builder = new StreamsBuilder();
        KStream<byte[], byte[]> input = builder.stream(spec.get("input_topic").asText(),
                                                       Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()));
        KStream<byte[], byte[]> output;
        if (spec.get("stateful").asBoolean()) {
            builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.Bytes(), Serdes.Long())
                                        .withCachingDisabled());
            output = input.process(() -> new Counter(seen), STORE);
        } else {
            output = input.mapValues(value -> {
                seen.record(value);
                return value;
            });
        }
        output.to(spec.get("output_topic").asText(), Produced.with(Serdes.ByteArray(), Serdes.ByteArray()));
        return builder.build();
    }

    /**
     * Waits for {@code drain}, then until every expected record id was processed (and a moment
     * of quiet), or until quiet for {@code quiet_s} with the group's committed offsets at the end
     * of every input partition (a mode that lost records costs a quiet period, never a hang), or
     * the hard cap ({@code timeout_s}): then it says it was cut off.
     */
    private boolean drain(Admin admin, String group) throws Exception {
        long expected = -1;
        long quietNanos = 0;
        long deadline = Long.MAX_VALUE;
        while (true) {
            JsonNode message = io.poll(100);
            if (message != null) {
                switch (message.get("kind").asText()) {
                    case "drain" -> {
                        JsonNode order = message.get("payload");
                        expected = order.get("expected").asLong();
                        quietNanos = (long) (order.get("quiet_s").asDouble() * 1e9);
                        deadline = System.nanoTime() + (long) (order.get("timeout_s").asDouble() * 1e9);
                    }
                    case "go" -> {
                        JsonNode timeline = message.get("payload");
                        seen.windowEnd = timeline.get("measure_end_ns").asLong();
                        seen.windowStart = timeline.get("measure_start_ns").asLong();
                    }
                    default -> { }
                }
            }
            if (failure.get() != null) {
                return false;
            }
            if (expected < 0) {
                continue;
            }
            long now = System.nanoTime();
            long quiet = now - seen.lastNanos;
            if (seen.distinct.get() >= expected && quiet >= 500_000_000L) {
                return false;
            }
            if (quiet >= quietNanos && atEnd(admin, group)) {
                return false;
            }
            if (now >= deadline) {
                return true;
            }
        }
    }

    /** Whether the application's committed offsets reached the end of every input partition. */
    private boolean atEnd(Admin admin, String group) {
        try {
            Map<TopicPartition, OffsetAndMetadata> committed =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            String topic = spec.get("input_topic").asText();
            Set<TopicPartition> partitions = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS)
                .get(topic).partitions().stream().map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toSet());
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            partitions.forEach(tp -> latest.put(tp, OffsetSpec.latest()));
            var ends = admin.listOffsets(latest).all().get(10, TimeUnit.SECONDS);
            for (TopicPartition tp : partitions) {
                OffsetAndMetadata offset = committed.get(tp);
                if (ends.get(tp).offset() > 0 && (offset == null || offset.offset() < ends.get(tp).offset())) {
                    return false;
                }
            }
            return true;
        } catch (Exception e) {
            return false;  // a broker that cannot be asked counts as not yet
        }
    }

    /** What an admin client takes of the application's properties: where the cluster is and how to reach it. */
    private static Properties adminConfig(Properties streams) {
        Properties admin = new Properties();
        for (String name : streams.stringPropertyNames()) {
            if (name.equals("bootstrap.servers") || name.startsWith("security.") || name.startsWith("sasl.") || name.startsWith("ssl.")) {
                admin.put(name, streams.getProperty(name));
            }
        }
        admin.put("client.id", streams.getProperty("client.id", "eosbench-streams") + "-drain");
        return admin;
    }

    private static double sum(KafkaStreams streams, String name) {
        double total = 0;
        for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
            if (e.getKey().name().equals(name) && e.getKey().group().equals("stream-thread-metrics")) {
                Object value = e.getValue().metricValue();
                if (value instanceof Number n) {
                    total += n.doubleValue();
                }
            }
        }
        return total;
    }
}
