package eosbench;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The verifying consumer on Kafka's own Java consumer: the {@code java} driver's twin of
 * bench/roles/consumer.py (spec ConsumerSpec, result ConsumerResult). It reads the cell's topics,
 * records end-to-end latency from each record's intended send time, and keeps every record id it
 * sees, per (topic, producer) stream, so the cell runner accounts for each record exactly as for
 * the librdkafka consumer. It is also the mode's consumer: offsets committed before processing a
 * batch in at_most_once, after it otherwise.
 *
 * <p>Its drain follows bench/roles/reading.py: stop once every expected id was seen and half a
 * second passed quietly, or after {@code quiet_s} of quiet with the position at the high watermark
 * of every partition (asked by a read_uncommitted probe: a read_committed consumer's own end
 * offsets are the last stable offset), or at the hard cap, saying it was cut off.
 */
public final class ConsumerRole {
    private static final long SETTLE_NANOS = 500_000_000L;
    private static final int STREAMS_PER_TOPIC = 1 << 16;  // bench.metrics.stream

    /** Sequence numbers of one stream, duplicates included, and which ones were seen. */
    static final class Stream {
        long[] seqs = new long[1024];
        int size;
        final BitSet seen = new BitSet();

        /** Adds a reception; returns whether the id is new. */
        boolean add(long seq) {
            if (size == seqs.length) {
                seqs = Arrays.copyOf(seqs, size * 2);
            }
            seqs[size++] = seq;
            if (seq < 0 || seq >= Integer.MAX_VALUE || seen.get((int) seq)) {
                return false;  // out of range: left to the accounting, as DistinctIds does
            }
            seen.set((int) seq);
            return true;
        }
    }

    private final RoleIo io;
    private final JsonNode spec;

    private ConsumerRole(RoleIo io) {
        this.io = io;
        this.spec = io.spec;
    }

    public static void main(String[] args) throws Exception {
        RoleIo.main(io -> new ConsumerRole(io).run());
    }

    private int run() throws Exception {
        Properties config = io.config("config");
        List<String> topics = new ArrayList<>();
        topics.add(spec.get("topic").asText());
        spec.get("fan_out_topics").forEach(t -> topics.add(t.asText()));
        Map<String, Integer> topicIndex = new HashMap<>();
        for (int i = 0; i < topics.size(); i++) {
            topicIndex.put(topics.get(i), i);
        }
        boolean commitFirst = spec.get("commit_offsets_before_processing").asBoolean();
        int aggregateKeys = spec.get("aggregate_keys").asInt();
        long[] aggregates = aggregateKeys > 0 ? new long[aggregateKeys] : null;
        Map<Integer, Stream> streams = new LinkedHashMap<>();
        long received = 0, windowReceived = 0, distinct = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             KafkaConsumer<byte[], byte[]> probe = new KafkaConsumer<>(probeConfig(config), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(topics);
            List<ConsumerRecords<byte[], byte[]>> early = new ArrayList<>();
            long joinDeadline = System.nanoTime() + 60_000_000_000L;
            while (consumer.assignment().isEmpty()) {  // records that already arrive are kept, not dropped
                if (System.nanoTime() > joinDeadline) {
                    throw new IllegalStateException("no partitions of " + topics + " assigned within 60s");
                }
                early.add(consumer.poll(Duration.ofMillis(100)));
            }
            io.send("ready", null);
            RoleIo.Timeline timeline = io.awaitGo();
            long measureStart = timeline.measureStart(), measureEnd = timeline.measureEnd();
            IntervalHistograms e2e = new IntervalHistograms(measureStart);
            Drain drain = new Drain();
            while (true) {
                ConsumerRecords<byte[], byte[]> batch = early.isEmpty() ? consumer.poll(Duration.ofMillis(100)) : early.remove(0);
                long now = System.nanoTime();
                int n = batch.count();
                if (n > 0) {
                    if (commitFirst) {
                        consumer.commitAsync();
                    }
                    for (ConsumerRecord<byte[], byte[]> record : batch) {
                        ByteBuffer value = ByteBuffer.wrap(record.value());
                        int producer = value.getInt(4);
                        long seq = value.getLong(8), intended = value.getLong(16);
                        int stream = topicIndex.get(record.topic()) * STREAMS_PER_TOPIC + producer;
                        if (streams.computeIfAbsent(stream, k -> new Stream()).add(seq)) {
                            distinct++;
                        }
                        if (intended >= measureStart) {
                            e2e.record(now, (now - intended) / 1000);
                        }
                        if (aggregates != null) {  // a count only grows: its highest value read is the key's final aggregate
                            int key = (int) Math.floorMod(seq, (long) aggregateKeys);
                            aggregates[key] = Math.max(aggregates[key], value.getLong(record.value().length - Long.BYTES));
                        }
                    }
                    if (measureStart <= now && now < measureEnd) {
                        windowReceived += n;
                    }
                    if (!commitFirst) {
                        consumer.commitAsync();
                    }
                }
                received += n;
                double pause = drain.listen();
                if (pause > 0) {  // a consumer_pause fault: stop reading and committing, stay in the group
                    Thread.sleep((long) (pause * 1000));
                }
                if (drain.done(now, distinct, n > 0, consumer, probe)) {
                    break;
                }
            }
            Map<String, Object> ids = new LinkedHashMap<>();
            streams.forEach((stream, s) -> ids.put(Integer.toString(stream), int64(Arrays.copyOf(s.seqs, s.size))));
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("ids", ids);
            result.put("received", received);
            result.put("cut_off", drain.cutOff);
            result.put("window_received", windowReceived);
            result.put("cpu_total_s", RoleIo.cpuSeconds());
            result.put("histograms", Map.of("e2e", e2e.encoded()));
            result.put("client_log", io.log.result());
            result.put("aggregates", aggregates == null ? null : int64(aggregates));
            io.send("result", result);
        }
        return 0;
    }

    /** A client of its own, read_uncommitted and in no group, that asks for high watermarks. */
    private static Properties probeConfig(Properties config) {
        Properties probe = new Properties();
        probe.putAll(config);
        probe.remove("group.id");
        probe.remove("group.instance.id");
        probe.remove("group.protocol");  // in no group: the consumer protocol would want a group.id
        probe.put("isolation.level", "read_uncommitted");
        probe.put("client.id", config.getProperty("client.id", "eosbench-consumer") + "-log-end");
        return probe;
    }

    private static Map<String, String> int64(long[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            buffer.putLong(v);
        }
        return Map.of("$int64", Base64.getEncoder().encodeToString(buffer.array()));
    }

    /** When the reader may stop, once the runner has said {@code drain} (bench.roles.reading.Drain). */
    private final class Drain {
        Long expected;
        long quietNanos, deadline = Long.MAX_VALUE, lastMessage = System.nanoTime();
        boolean draining, cutOff;

        double listen() throws InterruptedException {
            double pause = 0;
            for (JsonNode message = io.poll(0); message != null; message = io.poll(0)) {
                switch (message.get("kind").asText()) {
                    case "drain" -> {
                        JsonNode order = message.get("payload");
                        expected = order.get("expected").asLong();
                        quietNanos = (long) (order.get("quiet_s").asDouble() * 1e9);
                        deadline = System.nanoTime() + (long) (order.get("timeout_s").asDouble() * 1e9);
                        draining = true;
                    }
                    case "pause" -> pause += message.get("payload").asDouble();
                    default -> { }
                }
            }
            return pause;
        }

        boolean done(long now, long distinct, boolean gotMessages, KafkaConsumer<byte[], byte[]> consumer,
                     KafkaConsumer<byte[], byte[]> probe) {
            if (gotMessages) {
                lastMessage = now;
            }
            if (!draining) {
                return false;
            }
            long quiet = now - lastMessage;
            if (expected != null && distinct >= expected && quiet >= SETTLE_NANOS) {
                return true;
            }
            if (quiet >= quietNanos && atLogEnd(consumer, probe)) {
                return true;
            }
            cutOff = now >= deadline;
            return cutOff;
        }

        /** Whether the position is at the high watermark of every assigned partition (a broker that cannot be asked counts as not yet). */
        private boolean atLogEnd(KafkaConsumer<byte[], byte[]> consumer, KafkaConsumer<byte[], byte[]> probe) {
            try {
                Set<TopicPartition> assigned = consumer.assignment();
                Map<TopicPartition, Long> ends = probe.endOffsets(assigned, Duration.ofSeconds(2));
                for (TopicPartition tp : assigned) {
                    if (consumer.position(tp, Duration.ofSeconds(2)) < ends.get(tp)) {
                        return false;
                    }
                }
                return true;
            } catch (KafkaException e) {
                return false;
            }
        }
    }
}
