package eosbench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/**
 * A Java role's side of eosbench's role protocol (bench/roles/protocol.py), shared by every role
 * of this module: the spec is the first line on stdin, the runner's messages ({@code go},
 * {@code drain}, {@code pause}) follow as JSON lines and wait in an inbox; the role's messages go to
 * stdout as JSON lines, and stdout carries nothing else (Kafka's own logging goes to the result's
 * client log, WARN and above).
 */
final class RoleIo {
    static final ObjectMapper JSON = new ObjectMapper();
    /** What a role does once its stdin is open and its spec read; returns the process's exit code. */
    interface Body {
        int run(RoleIo io) throws Exception;
    }

    final JsonNode spec;
    final ClientLog log;
    private final PrintStream out;
    private final BlockingQueue<JsonNode> inbox = new LinkedBlockingQueue<>();

    private RoleIo(PrintStream out, JsonNode spec, ClientLog log) {
        this.out = out;
        this.spec = spec;
        this.log = log;
    }

    /** Reads the spec, runs the role, reports an exception as {@code error}, and exits. */
    static void main(Body body) throws Exception {
        // stdout is the protocol's alone: whatever else writes there (a library's print) goes to stderr
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        ClientLog log = ClientLog.install();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String first = in.readLine();
        if (first == null) {
            System.err.println("no spec on stdin");
            System.exit(2);
        }
        RoleIo io = new RoleIo(out, JSON.readTree(first), log);
        Thread reader = new Thread(() -> io.readMessages(in), "eosbench-stdin");
        reader.setDaemon(true);
        reader.start();
        int code;
        try {
            code = body.run(io);
        } catch (Throwable t) {
            io.error(t);
            code = 1;
        }
        System.exit(code);
    }

    private void readMessages(BufferedReader in) {
        try {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                inbox.put(JSON.readTree(line));
            }
        } catch (Exception e) {
            // the runner is gone: treated as end of input below
        }
        inbox.add(JSON.createObjectNode().put("kind", "eof"));
    }

    /** The runner's next message, or null after {@code timeoutMs}; the runner gone is an exception. */
    JsonNode poll(long timeoutMs) throws InterruptedException {
        JsonNode message = inbox.poll(timeoutMs, TimeUnit.MILLISECONDS);
        if (message != null && message.get("kind").asText().equals("eof")) {
            throw new IllegalStateException("the cell runner went away (stdin closed)");
        }
        return message;
    }

    /** Waits for {@code go}: its payload is the cell's timeline. */
    Timeline awaitGo() throws InterruptedException {
        while (true) {
            JsonNode message = poll(1000);
            if (message != null && message.get("kind").asText().equals("go")) {
                return new Timeline(message.get("payload"));
            }
        }
    }

    /** The spec's {@code config} as Java client properties. */
    Properties config(String field) {
        Properties config = new Properties();
        spec.get(field).fields().forEachRemaining(e -> config.put(e.getKey(), e.getValue().asText()));
        return config;
    }

    synchronized void send(String kind, Object payload) {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("kind", kind);
        if (payload != null) {
            message.put("payload", payload);
        }
        try {
            out.println(JSON.writeValueAsString(message));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        out.flush();
    }

    void error(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        StringWriter trace = new StringWriter();
        t.printStackTrace(new PrintWriter(trace));
        String message = t.getClass().getSimpleName() + ": " + t.getMessage()
            + (root != t ? ": " + root.getClass().getSimpleName() + ": " + root.getMessage() : "");
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("message", message);
        payload.put("traceback", trace.toString());
        try {
            send("error", payload);
        } catch (Exception ignored) {
            // the runner is gone; the exit code says the rest
        }
    }

    /**
     * Every thread of this process now: tid -> {name, ns on a CPU, ns runnable waiting for one}, from
     * /proc/self/task/TID/schedstat (empty where the kernel keeps none); bench/roles/threads.py
     * says why a thread's demand, not the process's CPU, tells whether the generator set the pace.
     */
    static Map<String, Object[]> threads() {
        Map<String, Object[]> out = new LinkedHashMap<>();
        java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
        for (java.io.File task : tasks == null ? new java.io.File[0] : tasks) {
            try {
                String[] stat = java.nio.file.Files.readString(task.toPath().resolve("schedstat")).trim().split("\\s+");
                String name = java.nio.file.Files.readString(task.toPath().resolve("comm")).trim();
                out.put(task.getName(), new Object[] {name, Long.parseLong(stat[0]), Long.parseLong(stat[1])});
            } catch (java.io.IOException | RuntimeException e) {
                // a thread that ended in between
            }
        }
        return out;
    }

    /** The thread that most wanted a CPU between two {@link #threads()} snapshots, as shares of {@code seconds}; null if none kept. */
    static Map<String, Object> busiestThread(Map<String, Object[]> before, Map<String, Object[]> after, double seconds) {
        Map<String, Object> busiest = null;
        double most = -1;
        for (Map.Entry<String, Object[]> t : after.entrySet()) {
            Object[] was = before.getOrDefault(t.getKey(), new Object[] {t.getValue()[0], 0L, 0L});
            double onCpu = ((Long) t.getValue()[1] - (Long) was[1]) / 1e9 / seconds;
            double waiting = ((Long) t.getValue()[2] - (Long) was[2]) / 1e9 / seconds;
            if (seconds > 0 && onCpu + waiting > most) {
                most = onCpu + waiting;
                busiest = new LinkedHashMap<>();
                busiest.put("name", t.getValue()[0]);
                busiest.put("on_cpu", Math.round(onCpu * 1000) / 1000.0);
                busiest.put("waiting", Math.round(waiting * 1000) / 1000.0);
            }
        }
        return busiest;
    }

    /** The process's CPU time, every thread (the client's I/O threads, the JIT and the GC) included. */
    static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }

    /** The phases of a cell on the shared monotonic clock (System.nanoTime is CLOCK_MONOTONIC, as Python's monotonic_ns). */
    record Timeline(long start, long measureStart, long measureEnd) {
        Timeline(JsonNode payload) {
            this(payload.get("start_ns").asLong(), payload.get("measure_start_ns").asLong(), payload.get("measure_end_ns").asLong());
        }
    }

    /** WARN and above of Kafka's own logging, kept like eosbench's ClientLog: lines (up to a cap) and counts. */
    static final class ClientLog extends AbstractAppender {
        private static final int MAX_LINES = 5_000;
        final List<String> lines = new ArrayList<>();
        final Map<String, Integer> counts = new LinkedHashMap<>();
        int dropped;

        ClientLog() {
            super("eosbench", null, null, false, Property.EMPTY_ARRAY);
        }

        @Override
        public synchronized void append(LogEvent event) {
            String logger = event.getLoggerName();
            String facility = logger == null ? "-" : logger.substring(logger.lastIndexOf('.') + 1);
            counts.merge(event.getLevel() + "/" + facility, 1, Integer::sum);
            if (lines.size() < MAX_LINES) {
                lines.add(java.time.LocalTime.now() + " " + event.getLevel() + " " + facility + ": "
                          + event.getMessage().getFormattedMessage());
            } else {
                dropped++;
            }
        }

        synchronized Map<String, Object> result() {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("lines", new ArrayList<>(lines));
            out.put("counts", new LinkedHashMap<>(counts));
            out.put("dropped", dropped);
            return out;
        }

        static ClientLog install() {
            LoggerContext context = (LoggerContext) LogManager.getContext(false);
            Configuration config = context.getConfiguration();
            ClientLog log = new ClientLog();
            log.start();
            config.addAppender(log);
            LoggerConfig root = config.getRootLogger();
            for (String name : new ArrayList<>(root.getAppenders().keySet())) {
                root.removeAppender(name);
            }
            root.addAppender(log, Level.WARN, null);
            root.setLevel(Level.WARN);
            context.updateLoggers();
            return log;
        }
    }
}
