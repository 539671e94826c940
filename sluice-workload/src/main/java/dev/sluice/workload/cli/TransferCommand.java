package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.workload.Transfer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code sluice transfer}: checksummed transfers to a {@code sluice transfer-server} (the protocol is
 * {@link Transfer}'s): bulk in both directions, many connections at once, request/response rounds with their
 * latency, half-close (every connection ends with one: the server's digest arrives after the client's FIN) or reset.
 * One JSON line per connection; exits 1 if any connection failed or any byte was wrong.
 */
@Command(name = "transfer", mixinStandardHelpOptions = true,
        description = {"Checksummed transfers to a `sluice transfer-server`; one JSON line per connection.",
                "Exits 1 if any connection failed or any byte arrived wrong."})
public final class TransferCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--upload", defaultValue = "0", description = "Bytes the client sends per round (default: 0).")
    long upload;

    @Option(names = "--download", defaultValue = "0", description = "Bytes the server sends back per round (default: 0).")
    long download;

    @Option(names = "--rounds", defaultValue = "1", description = "Request/response rounds per connection (default: 1); latency is reported per round.")
    int rounds;

    @Option(names = "--connections", defaultValue = "1", description = "Connections, all at once (default: 1).")
    int connections;

    @Option(names = "--hold", defaultValue = "0s", converter = DurationConverter.class,
            description = "Keep each connection open this long after its rounds, before closing (default: 0s).")
    Duration hold;

    @Option(names = "--pause", defaultValue = "0s", converter = DurationConverter.class,
            description = "After the first round, print the connection as open and wait this long before the next (default: 0s).")
    Duration pause;

    @Option(names = "--reset", description = "End each connection with a reset (SO_LINGER 0) instead of a half-close.")
    boolean reset;

    @Option(names = "--no-check", description = "Check nothing (no byte checks, no digest): for benchmarks.")
    boolean noCheck;

    @Option(names = "--timeout", defaultValue = "10s", converter = DurationConverter.class,
            description = "Limit for connecting and for each read (default: 10s).")
    Duration timeout;

    @Parameters(paramLabel = "HOST:PORT", converter = HostPort.Converter.class, description = "The transfer server.")
    HostPort target;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<ObjectNode>> results = new ArrayList<>();
            for (int c = 0; c < connections; c++) {
                int index = c;
                results.add(pool.submit(() -> connection(index, out)));
            }
            boolean ok = true;
            for (Future<ObjectNode> f : results) {
                ObjectNode r = f.get();
                ok &= r.path("ok").asBoolean();
                synchronized (out) {
                    out.println(JSON.writeValueAsString(r));
                    out.flush();
                }
            }
            return ok ? 0 : 1;
        }
    }

    private ObjectNode connection(int index, PrintWriter out) {
        ObjectNode r = JSON.createObjectNode();
        r.put("connection", index);
        MessageDigest sent = Transfer.sha256();
        long[] latencyNs = new long[rounds];
        long started = System.nanoTime();
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(target.host(), target.port()), (int) timeout.toMillis());
            s.setSoTimeout((int) timeout.toMillis());
            r.put("local", s.getLocalAddress().getHostAddress() + ":" + s.getLocalPort());
            r.put("remote", s.getInetAddress().getHostAddress() + ":" + s.getPort());
            OutputStream o = new BufferedOutputStream(s.getOutputStream(), 256 * 1024);
            InputStream in = s.getInputStream();
            byte[] buffer = new byte[256 * 1024];
            long wrongAt = -1;
            long received = 0;
            // A write has no timeout of its own (a dropped connection blocks it once the send buffer is full): a round
            // that outlives --timeout has the socket closed under it, which ends the blocked write with an error.
            java.util.concurrent.atomic.AtomicLong deadline = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
            Thread watchdog = Thread.ofVirtual().start(() -> {
                try {
                    while (!s.isClosed()) {
                        if (System.nanoTime() > deadline.get()) {
                            s.close();
                        }
                        Thread.sleep(50);
                    }
                } catch (IOException | InterruptedException e) {
                    // closed or told to stop: nothing more to watch
                }
            });
            for (int round = 0; round < rounds; round++) {
                if (round == 1 && !pause.isZero()) {
                    opened(r, out);
                    Thread.sleep(pause.toMillis());
                }
                deadline.set(System.nanoTime() + timeout.toNanos());
                int seed = index * 7919 + round * 104729;
                ByteBuffer h = ByteBuffer.allocate(Transfer.HEADER_BYTES).putLong(upload).putLong(download).putInt(seed)
                        .putInt(noCheck ? Transfer.FLAG_NO_CHECK : 0);
                long t0 = System.nanoTime();
                o.write(h.array());
                sent.update(h.array());
                Transfer.writePayload(o, upload, seed, noCheck ? null : sent);
                o.flush();
                long wrong = Transfer.readPayload(in, download, ~seed, !noCheck, null, buffer);
                latencyNs[round] = System.nanoTime() - t0;
                if (wrong >= 0 && wrongAt < 0) {
                    wrongAt = received + wrong;
                }
                received += download;
                deadline.set(Long.MAX_VALUE);
            }
            watchdog.interrupt();
            long elapsed = System.nanoTime() - started - pause.toNanos();
            r.put("sent", rounds * (Transfer.HEADER_BYTES + upload));
            r.put("received", received);
            r.put("downloadOk", wrongAt < 0);
            if (wrongAt >= 0) {
                r.put("downloadWrongAt", wrongAt);
            }
            latency(r, latencyNs, elapsed);
            if (!hold.isZero()) {
                opened(r, out);
                Thread.sleep(hold.toMillis());
            }
            if (reset) {
                s.setSoLinger(true, 0);
                r.put("reset", true);
                r.put("ok", wrongAt < 0);
                return r;
            }
            s.shutdownOutput();
            byte[] digest = new byte[32];
            new DataInputStream(in).readFully(digest);
            boolean uploadOk = noCheck || Arrays.equals(digest, sent.digest());
            boolean eof = in.read() < 0;
            r.put("uploadOk", uploadOk);
            r.put("ok", wrongAt < 0 && uploadOk && eof);
        } catch (IOException e) {
            r.put("ok", false);
            r.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            r.put("ok", false);
            r.put("error", "interrupted");
        }
        return r;
    }

    /** Tells whoever watches (a test reading the map, changing policy) that the connection is open and idle. */
    private static void opened(ObjectNode r, PrintWriter out) {
        synchronized (out) {
            ObjectNode open = r.deepCopy();
            open.put("open", true);
            out.println(open.toString());
            out.flush();
        }
    }

    private void latency(ObjectNode r, long[] latencyNs, long elapsedNs) {
        long[] sorted = latencyNs.clone();
        Arrays.sort(sorted);
        r.put("rounds", rounds);
        r.put("p50us", sorted[(int) Math.min(sorted.length - 1, Math.round(0.50 * (sorted.length - 1)))] / 1000.0);
        r.put("p99us", sorted[(int) Math.min(sorted.length - 1, Math.round(0.99 * (sorted.length - 1)))] / 1000.0);
        r.put("roundsPerSec", rounds * 1e9 / elapsedNs);
        r.put("mbPerSec", rounds * (double) (upload + download) / 1e6 / (elapsedNs / 1e9));
    }

    /** Runs on its own (benchmarks start it in pods without the CLI on the class path). */
    public static void main(String[] args) {
        System.exit(new CommandLine(new TransferCommand()).execute(args));
    }
}
