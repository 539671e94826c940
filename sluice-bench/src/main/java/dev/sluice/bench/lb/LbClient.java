package dev.sluice.bench.lb;

import org.HdrHistogram.Histogram;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The latency benchmark's client, run as its own JVM inside a client namespace
 * ({@code nsenter --net=/run/netns/NAME java ... LbClient ...}), never in the machine's own namespace.
 * If given a cgroup it first moves itself there (where the socket-LB programs are attached). Then it
 * makes WARMUP + COUNT new TCP connections to TARGET one after another, each: a new blocking
 * {@link Socket}, connect(), write one byte, read the one-byte answer, close(); the time of each of the
 * last COUNT, from before the socket is created to after close() returns, goes into an HdrHistogram.
 *
 * <p>Arguments: CGROUP|- TARGET_IP PORT WARMUP COUNT EXPECTED_ANSWERS (e.g. "10,11,12,13": the last octets
 * of the backends that may answer; any other answer, a timeout or an error fails the run).
 *
 * <p>Prints {@code ANSWERS 10=..,11=..}, and {@code HISTOGRAM <base64>} (the compressed histogram, in
 * nanoseconds, for the parent to merge and report).
 */
public final class LbClient {
    private static final int TIMEOUT_MILLIS = 3000;

    private LbClient() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: LbClient CGROUP|- TARGET_IP PORT WARMUP COUNT EXPECTED_ANSWERS");
            System.exit(2);
        }
        if (!args[0].equals("-")) {
            // Writing 0 to cgroup.procs moves the writing process (all its threads) into the cgroup.
            Files.writeString(Path.of(args[0], "cgroup.procs"), "0");
        }
        InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2]));
        int warmup = Integer.parseInt(args[3]);
        int count = Integer.parseInt(args[4]);
        Set<Integer> expected = Stream.of(args[5].split(",")).map(Integer::parseInt).collect(Collectors.toSet());

        Histogram histogram = new Histogram(60_000_000_000L, 3);
        TreeMap<Integer, Integer> answers = new TreeMap<>();
        for (int i = 0; i < warmup + count; i++) {
            long start = System.nanoTime();
            int answer;
            try (Socket s = new Socket()) {
                s.setTcpNoDelay(true);
                s.setSoTimeout(TIMEOUT_MILLIS);
                s.connect(target, TIMEOUT_MILLIS);
                OutputStream out = s.getOutputStream();
                InputStream in = s.getInputStream();
                out.write(1);
                answer = in.read();
            } catch (Exception e) {
                System.err.println("connection " + i + " to " + target + " failed: " + e);
                System.exit(1);
                return;
            }
            long elapsed = System.nanoTime() - start;
            if (!expected.contains(answer)) {
                System.err.println("connection " + i + " to " + target + ": unexpected answer " + answer + " (expected one of " + expected + ")");
                System.exit(1);
            }
            if (i >= warmup) {
                histogram.recordValue(elapsed);
                answers.merge(answer, 1, Integer::sum);
            }
        }
        System.out.println("ANSWERS " + answers.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(",")));
        ByteBuffer buffer = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        int length = histogram.encodeIntoCompressedByteBuffer(buffer);
        byte[] bytes = new byte[length];
        buffer.flip();
        buffer.get(bytes);
        System.out.println("HISTOGRAM " + Base64.getEncoder().encodeToString(bytes));
    }
}
