package eosbench;

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.FinalizedVersionRange;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;

/**
 * What the brokers themselves say about a measured window, read at its start and at its end.
 *
 * <p>Started once per run by eosbench (bench/cell/resources.py), it answers each stdin line
 * {@code sample TOPIC[,TOPIC...]} with one JSON line on stdout:
 * <ul>
 *   <li>{@code log_bytes}: the size of every replica of the named topics' partitions, per broker,
 *       from the brokers' log-dir descriptions (DescribeLogDirs; works on any cluster);</li>
 *   <li>{@code jmx}: per JMX endpoint given with {@code --jmx NAME=HOST:PORT}, the JVM's process CPU
 *       time ({@code java.lang:type=OperatingSystem} ProcessCpuTime) and the broker's request
 *       counts by type ({@code kafka.network:type=RequestMetrics,name=RequestsPerSec}, summed over
 *       request versions, re-queried each time because a version's meter appears on first use;
 *       AddPartitionsToTxn of version 4 and later, which only brokers send (a partition leader
 *       adding a partition for a transactions-v2 producer, KIP-890), is counted apart as
 *       {@code AddPartitionsToTxnInterBroker}).</li>
 * </ul>
 * and {@code features} with the cluster's finalized feature levels ({@code features NAME LEVEL} sets
 * one first: an upgrade, or a safe downgrade, as Kafka's FeatureCommand does).
 * An endpoint that cannot be read answers {@code {"error": "..."}} for that sample, and is tried
 * again at the next one (a broker killed by a fault comes back).
 */
public final class ResourceProbe {
    private static final String REQUESTS = "kafka.network:type=RequestMetrics,name=RequestsPerSec,*";
    private static final String OS = "java.lang:type=OperatingSystem";

    private final Admin admin;
    private final Map<String, String> endpoints;
    private final Map<String, JMXConnector> connections = new HashMap<>();

    private ResourceProbe(Admin admin, Map<String, String> endpoints) {
        this.admin = admin;
        this.endpoints = endpoints;
    }

    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        Map<String, String> endpoints = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--bootstrap-server" -> config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[i + 1]);
                case "--command-config" -> {
                    try (FileInputStream in = new FileInputStream(args[i + 1])) {
                        config.load(in);
                    }
                }
                case "--jmx" -> {
                    String[] kv = args[i + 1].split("=", 2);
                    endpoints.put(kv[0], kv[1]);
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        config.putIfAbsent(AdminClientConfig.CLIENT_ID_CONFIG, "eosbench-resource-probe");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (Admin admin = Admin.create(config)) {
            ResourceProbe probe = new ResourceProbe(admin, endpoints);
            out.println("{\"ready\": true}");
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("sample")) {
                    String names = line.substring("sample".length()).trim();
                    out.println(probe.sample(names.isEmpty() ? Set.of() : Set.of(names.split(","))));
                } else if (line.startsWith("features")) {
                    String[] words = line.trim().split("\\s+");
                    out.println(words.length == 3 ? probe.setFeature(words[1], Short.parseShort(words[2])) : probe.features());
                }
            }
            probe.close();
        }
    }

    private String sample(Set<String> topics) {
        StringBuilder json = new StringBuilder("{\"log_bytes\": ").append(logBytes(topics));
        json.append(", \"jmx\": {");
        String sep = "";
        for (Map.Entry<String, String> endpoint : endpoints.entrySet()) {
            json.append(sep).append(quote(endpoint.getKey())).append(": ").append(jmx(endpoint.getKey(), endpoint.getValue()));
            sep = ", ";
        }
        return json.append("}}").toString();
    }

    /** {"finalized": {feature: max level}}: the cluster's finalized feature levels (transaction.version among them). */
    private String features() {
        try {
            Map<String, FinalizedVersionRange> finalized =
                admin.describeFeatures().featureMetadata().get(10, TimeUnit.SECONDS).finalizedFeatures();
            StringBuilder json = new StringBuilder("{\"finalized\": {");
            String sep = "";
            for (Map.Entry<String, FinalizedVersionRange> f : new TreeMap<>(finalized).entrySet()) {
                json.append(sep).append(quote(f.getKey())).append(": ").append(f.getValue().maxVersionLevel());
                sep = ", ";
            }
            return json.append("}}").toString();
        } catch (Exception e) {
            return error(e);
        }
    }

    /**
     * Upgrades or (safely) downgrades one feature to {@code level}, then answers as {@link #features()}
     * once a broker reports the new level: the controller commits the update before the brokers'
     * metadata images apply it, and a describe in between still answers the old level (seen in CI).
     */
    private String setFeature(String name, short level) {
        try {
            short current = finalizedLevel(name);
            if (current != level) {
                FeatureUpdate.UpgradeType type = level > current ? FeatureUpdate.UpgradeType.UPGRADE : FeatureUpdate.UpgradeType.SAFE_DOWNGRADE;
                admin.updateFeatures(Map.of(name, new FeatureUpdate(level, type)), new UpdateFeaturesOptions())
                     .all().get(30, TimeUnit.SECONDS);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                while (finalizedLevel(name) != level && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
            }
            return features();
        } catch (Exception e) {
            return error(e);
        }
    }

    private short finalizedLevel(String name) throws Exception {
        FinalizedVersionRange range = admin.describeFeatures().featureMetadata().get(10, TimeUnit.SECONDS)
            .finalizedFeatures().get(name);
        return range == null ? 0 : range.maxVersionLevel();
    }

    /** {topic: {partition: {broker: bytes}}}, or {"error": ...} when the cluster cannot be asked. */
    private String logBytes(Set<String> topics) {
        try {
            List<Integer> brokers = new ArrayList<>();
            for (Node node : admin.describeCluster().nodes().get(10, TimeUnit.SECONDS)) {
                brokers.add(node.id());
            }
            Map<Integer, Map<String, LogDirDescription>> dirs =
                admin.describeLogDirs(brokers).allDescriptions().get(10, TimeUnit.SECONDS);
            Map<String, Map<Integer, Map<Integer, Long>>> sizes = new TreeMap<>();
            for (Map.Entry<Integer, Map<String, LogDirDescription>> broker : dirs.entrySet()) {
                for (LogDirDescription dir : broker.getValue().values()) {
                    for (Map.Entry<TopicPartition, ReplicaInfo> replica : dir.replicaInfos().entrySet()) {
                        TopicPartition tp = replica.getKey();
                        if (topics.contains(tp.topic())) {
                            sizes.computeIfAbsent(tp.topic(), t -> new TreeMap<>())
                                 .computeIfAbsent(tp.partition(), p -> new TreeMap<>())
                                 .merge(broker.getKey(), replica.getValue().size(), Long::sum);
                        }
                    }
                }
            }
            StringBuilder json = new StringBuilder("{");
            String ts = "";
            for (var topic : sizes.entrySet()) {
                json.append(ts).append(quote(topic.getKey())).append(": {");
                String ps = "";
                for (var partition : topic.getValue().entrySet()) {
                    json.append(ps).append('"').append(partition.getKey()).append("\": {");
                    String bs = "";
                    for (var broker : partition.getValue().entrySet()) {
                        json.append(bs).append('"').append(broker.getKey()).append("\": ").append(broker.getValue());
                        bs = ", ";
                    }
                    json.append('}');
                    ps = ", ";
                }
                json.append('}');
                ts = ", ";
            }
            return json.append('}').toString();
        } catch (Exception e) {
            return error(e);
        }
    }

    /** {"cpu_ns": N, "requests": {type: count}} of one broker JVM, or {"error": ...}. */
    private String jmx(String name, String address) {
        try {
            MBeanServerConnection server = connection(name, address).getMBeanServerConnection();
            long cpu = (Long) server.getAttribute(new ObjectName(OS), "ProcessCpuTime");
            Map<String, Long> requests = new TreeMap<>();
            Set<ObjectName> meters = new HashSet<>(server.queryNames(new ObjectName(REQUESTS), null));
            for (ObjectName meter : meters) {
                String type = meter.getKeyProperty("request");
                String version = meter.getKeyProperty("version");
                if ("AddPartitionsToTxn".equals(type) && version != null && version.matches("\\d+") && Integer.parseInt(version) >= 4) {
                    type = "AddPartitionsToTxnInterBroker";  // versions 4+ are brokers' own (KIP-890), not a client's round trip
                }
                if (type != null) {
                    requests.merge(type, ((Number) server.getAttribute(meter, "Count")).longValue(), Long::sum);
                }
            }
            StringBuilder json = new StringBuilder("{\"cpu_ns\": ").append(cpu).append(", \"requests\": {");
            String sep = "";
            for (Map.Entry<String, Long> r : requests.entrySet()) {
                json.append(sep).append(quote(r.getKey())).append(": ").append(r.getValue());
                sep = ", ";
            }
            return json.append("}}").toString();
        } catch (Exception e) {
            JMXConnector stale = connections.remove(name);
            if (stale != null) {
                try {
                    stale.close();
                } catch (IOException ignored) {
                    // the broker is gone; nothing to close cleanly
                }
            }
            return error(e);
        }
    }

    private JMXConnector connection(String name, String address) throws IOException {
        JMXConnector connector = connections.get(name);
        if (connector == null) {
            JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + address + "/jmxrmi");
            connector = JMXConnectorFactory.connect(url, Map.of("jmx.remote.x.request.waiting.timeout", 10_000L));
            connections.put(name, connector);
        }
        return connector;
    }

    private void close() {
        for (JMXConnector connector : connections.values()) {
            try {
                connector.close();
            } catch (IOException ignored) {
                // closing at exit: nothing left to do
            }
        }
    }

    /** The deepest cause that says something: JMX wraps "Connection refused" three levels down. */
    private static String error(Exception e) {
        Throwable said = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                said = t;
            }
        }
        return "{\"error\": " + quote(said.getClass().getSimpleName() + ": " + said.getMessage()) + "}";
    }

    private static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : String.valueOf(text).toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
