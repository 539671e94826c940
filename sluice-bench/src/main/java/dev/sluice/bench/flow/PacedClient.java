package dev.sluice.bench.flow;

import org.HdrHistogram.Histogram;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.locks.LockSupport;

/**
 * The latency benchmark's client: its own JVM, started by {@link FlowLatencyBench} inside the client pod's
 * namespace ({@code nsenter --net=/run/netns/NAME java ... PacedClient ...}), never in the machine's own
 * namespace. It stays up for the whole run and takes blocks from its standard input, so that every block
 * of either mode runs in the same warmed-up JVM:
 *
 * <pre>
 *   RUN n   -&gt;  n requests paced at RATE per second, then "HISTOGRAM &lt;base64&gt; LATE k"
 *   QUIT    -&gt;  exits
 * </pre>
 *
 * A request: a new blocking {@link Socket}, connect(), write one byte, read the one-byte answer (the last
 * octet of the server's address), close(); its time, from before the socket is created to after close()
 * returns, goes into an HdrHistogram (ns). Requests start on a fixed schedule (open loop); one that starts
 * more than a period behind it is counted late. Any error or unexpected answer prints "ERROR ..." and exits 1.
 *
 * <p>Arguments: TARGET_IP PORT RATE.
 */
public final class PacedClient {
    private static final int TIMEOUT_MILLIS = 3000;

    private PacedClient() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: PacedClient TARGET_IP PORT RATE");
            System.exit(2);
        }
        InetAddress address = InetAddress.getByName(args[0]);
        InetSocketAddress target = new InetSocketAddress(address, Integer.parseInt(args[1]));
        int expected = address.getAddress()[3] & 0xff;
        long period = 1_000_000_000L / Integer.parseInt(args[2]);
        BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("READY");
        System.out.flush();
        String line;
        while ((line = commands.readLine()) != null && !line.equals("QUIT")) {
            if (!line.startsWith("RUN ")) {
                fail("unknown command " + line);
            }
            int count = Integer.parseInt(line.substring(4).strip());
            Histogram histogram = new Histogram(60_000_000_000L, 3);
            int late = 0;
            long next = System.nanoTime();
            for (int i = 0; i < count; i++) {
                long now;
                while ((now = System.nanoTime()) < next) {
                    LockSupport.parkNanos(next - now);
                }
                if (now - next > period) {
                    late++;
                }
                long start = System.nanoTime();
                int answer = request(target, i);
                histogram.recordValue(System.nanoTime() - start);
                if (answer != expected) {
                    fail("request " + i + " to " + target + ": answer " + answer + ", expected " + expected);
                }
                next += period;
            }
            ByteBuffer buffer = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
            int length = histogram.encodeIntoCompressedByteBuffer(buffer);
            byte[] bytes = new byte[length];
            buffer.flip();
            buffer.get(bytes);
            System.out.println("HISTOGRAM " + Base64.getEncoder().encodeToString(bytes) + " LATE " + late);
            System.out.flush();
        }
    }

    private static int request(InetSocketAddress target, int i) {
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(TIMEOUT_MILLIS);
            s.connect(target, TIMEOUT_MILLIS);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write(1);
            return in.read();
        } catch (Exception e) {
            fail("request " + i + " to " + target + " failed: " + e);
            return -1;
        }
    }

    private static void fail(String message) {
        System.out.println("ERROR " + message);
        System.out.flush();
        System.exit(1);
    }
}
