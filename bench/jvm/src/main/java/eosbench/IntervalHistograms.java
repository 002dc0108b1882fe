package eosbench;

import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * One latency kind, one HdrHistogram per second of the measured window: the Java twin of
 * bench.metrics.IntervalRecorder, encoded the same way (compressed, base64, as HdrHistogram log
 * files hold them), so the cell runner merges a Java role's histograms with a Python role's.
 * Values are microseconds from 1 us to one hour; anything slower is counted as out of range.
 * A value lands in the second of the window during which it was recorded.
 */
final class IntervalHistograms {
    private static final long LOWEST_US = 1;
    private static final long HIGHEST_US = 3_600_000_000L;
    private static final int SIGNIFICANT_DIGITS = 3;

    private final long windowStartNanos;
    private final Map<Long, Histogram> intervals = new TreeMap<>();
    private long outOfRange;

    IntervalHistograms(long windowStartNanos) {
        this.windowStartNanos = windowStartNanos;
    }

    /** Called from a client's I/O thread as well as the role's own: synchronized. */
    synchronized void record(long nowNanos, long micros) {
        long index = Math.max(0, (nowNanos - windowStartNanos) / 1_000_000_000L);
        if (micros > HIGHEST_US) {
            outOfRange++;
            return;
        }
        intervals.computeIfAbsent(index, i -> new Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS))
                 .recordValue(Math.max(micros, LOWEST_US));
    }

    /** {"intervals": {second: base64 histogram}, "out_of_range": n}, as IntervalRecorder.encoded() gives. */
    synchronized Map<String, Object> encoded() {
        Map<String, String> encoded = new LinkedHashMap<>();
        for (Map.Entry<Long, Histogram> e : intervals.entrySet()) {
            Histogram hist = e.getValue();
            ByteBuffer buffer = ByteBuffer.allocate(hist.getNeededByteBufferCapacity());
            int length = hist.encodeIntoCompressedByteBuffer(buffer);
            encoded.put(Long.toString(e.getKey()), Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buffer.array(), length)));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("intervals", encoded);
        out.put("out_of_range", outOfRange);
        return out;
    }
}
