package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.workload.load.LoadReport;
import dev.sluice.workload.load.LoadResult;
import dev.sluice.workload.load.LoadRunner;
import dev.sluice.workload.load.LoadSpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Traffic for load-balancing tests and benchmarks. Two families:
 * <ul>
 *   <li>fortio's load test ({@code sluice load -grpc -qps 1000 -t 60s -c 50 HOST:PORT}, or an {@code http://} URL):
 *       an open loop at a constant rate, each connection on its own schedule, latency from each request's intended
 *       send time (corrected for coordinated omission) and from its actual send time, in HdrHistograms; prints
 *       fortio's text summary, writes fortio-like JSON with {@code -json FILE} ({@code -} for stdout, the text then
 *       going to stderr), a progress line on stderr every 5 s ({@link dev.sluice.workload.load.LoadRunner});</li>
 *   <li>with plain blocking sockets (so that run inside a pod every connection is the pod's), for the datapath
 *       tests: {@code --connections N}: N new TCP connections one after another, one HTTP/1.1 request each;
 *       {@code --keepalive C --duration D}: C long-lived connections sending requests for D; {@code --udp N}: N
 *       datagrams, each waiting for its reply. These print one JSON summary: requests, failures, answers by pod,
 *       and reply sources (UDP) or per-connection results (keep-alive).</li>
 * </ul>
 */
@Command(name = "load", description = {
        "Load test in fortio's terms: sluice load [-grpc [-ping] [-payload-size N]] [-qps Q] [-t D] [-c C] [-p LIST] [-json FILE|-] [-timeout D] [-warmup D] HOST:PORT|http://HOST:PORT/path",
        "  open loop at Q requests/s over C connections (-qps 0: closed loop, maximum rate); latency corrected for coordinated omission and uncorrected.",
        "Test traffic: sluice load --connections N | --keepalive C --duration D | --udp N HOST:PORT (JSON summary of who answered)."})
public final class LoadCommand implements Callable<Integer> {
    private static final Pattern POD = Pattern.compile("\"pod\"\\s*:\\s*\"([^\"]*)\"");

    @Parameters(paramLabel = "HOST:PORT|URL", description = "HOST:PORT (gRPC with -grpc, and the socket modes) or http://HOST:PORT/path.")
    String targetText;
    private HostPort target;
    @Option(names = "--connections", description = "New TCP connections, one request each.")
    int connections;
    @Option(names = "--keepalive", description = "Long-lived TCP connections.")
    int keepalive;
    @Option(names = "--duration", defaultValue = "5s", converter = DurationConverter.class, description = "With --keepalive (default ${DEFAULT-VALUE}).")
    Duration duration;
    @Option(names = "--udp", description = "UDP request/reply exchanges.")
    int udp;
    @Option(names = {"--timeout", "-timeout"}, converter = DurationConverter.class,
            description = "Limit for each request (default: 2s for the socket modes, 3s for load tests as fortio's).")
    Duration timeout;

    // fortio's flags, with single dashes as fortio spells them.
    @Option(names = "-grpc", description = "gRPC over h2c: grpc.health.v1.Health/Check, as fortio's -grpc.")
    boolean grpc;
    @Option(names = "-ping", description = "With -grpc: sluice.echo.v1.Echo/Ping (the echo workload's ping) instead of the health check.")
    boolean ping;
    @Option(names = "-payload-size", paramLabel = "BYTES", defaultValue = "0", description = "With -ping: bytes of message in each ping, echoed back (default: 0).")
    int payloadSize;
    @Option(names = "-qps", paramLabel = "Q", defaultValue = "8", description = "Requests per second over all connections; 0 for the maximum rate, closed loop (default: ${DEFAULT-VALUE}).")
    double qps;
    @Option(names = "-t", paramLabel = "DURATION", defaultValue = "5s", converter = DurationConverter.class, description = "How long to send (default: ${DEFAULT-VALUE}).")
    Duration loadDuration;
    @Option(names = "-c", paramLabel = "C", defaultValue = "4", description = "Connections, each with its own schedule of qps/c (default: ${DEFAULT-VALUE}).")
    int loadConnections;
    @Option(names = "-p", paramLabel = "LIST", defaultValue = "50,75,90,99,99.9", description = "Percentiles to report (default: ${DEFAULT-VALUE}).")
    String percentiles;
    @Option(names = "-json", paramLabel = "FILE", description = "Write the result as JSON to FILE (fortio's fields; - for stdout).")
    String json;
    @Option(names = "-warmup", paramLabel = "DURATION", defaultValue = "0s", converter = DurationConverter.class,
            description = "Sluice's own: send at the same rate for DURATION first, not counted (default: none; a new JVM's first seconds are slow).")
    Duration warmup;
    @Option(names = "-labels", paramLabel = "TEXT", defaultValue = "", description = "Free text for the result's Labels.")
    String labels;
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** What one run measured. */
    public record Summary(long requests, long failures, Map<String, Long> byPod, Map<String, Long> replySources,
                          List<ConnectionResult> keepalive, List<String> errors) {
    }

    /** One long-lived connection: the pod it reached, requests answered, and the first failure if any. */
    public record ConnectionResult(String pod, long ok, long failed, String error) {
    }

    @Override
    public Integer call() throws Exception {
        if (connections <= 0 && keepalive <= 0 && udp <= 0) {
            return loadTest();
        }
        target = hostPort(targetText);
        if (timeout == null) {
            timeout = Duration.ofSeconds(2);
        }
        Summary s;
        if (connections > 0) {
            s = newConnections();
        } else if (keepalive > 0) {
            s = keepAlive();
        } else {
            s = udp();
        }
        spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(s));
        spec.commandLine().getOut().flush();
        return s.failures() == 0 ? 0 : 1;
    }

    private HostPort hostPort(String text) {
        try {
            return HostPort.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** fortio's load test: the spec from the flags, the run, the text summary and the JSON. */
    private int loadTest() throws InterruptedException {
        LoadSpec load = loadSpec();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean jsonToStdout = "-".equals(json);
        PrintWriter text = jsonToStdout ? err : out;
        text.println(LoadReport.starting(load));
        text.flush();
        LoadResult result = LoadRunner.run(load, err);
        text.print(LoadReport.summary(result));
        text.flush();
        if (jsonToStdout) {
            out.println(result.toJson());
            out.flush();
        } else if (json != null) {
            try {
                result.write(Path.of(json));
            } catch (IOException e) {
                err.println("sluice load: cannot write -json " + json + ": " + e.getMessage());
                err.flush();
                return 1;
            }
            text.println("Successfully wrote " + json);
            text.flush();
        }
        // A run where nothing got through (target down, wrong port) fails; errors beside successes are measured.
        return result.durationHistogram().count() > 0 ? 0 : 1;
    }

    LoadSpec loadSpec() {
        try {
            LoadSpec.Target t;
            if (targetText.regionMatches(true, 0, "http://", 0, 7)) {
                if (grpc) {
                    throw new IllegalArgumentException("-grpc takes HOST:PORT, not a URL (\"" + targetText + "\")");
                }
                t = new LoadSpec.Http(URI.create(targetText));
            } else if (grpc) {
                HostPort hp = HostPort.parse(targetText);
                t = new LoadSpec.Grpc(hp.host(), hp.port(), ping, payloadSize);
            } else {
                throw new IllegalArgumentException("\"" + targetText + "\": give -grpc for a gRPC HOST:PORT, an http://HOST:PORT/path URL, "
                        + "or --connections, --keepalive or --udp");
            }
            if (!grpc && (ping || payloadSize != 0)) {
                throw new IllegalArgumentException("-ping and -payload-size are for -grpc");
            }
            return new LoadSpec(t, qps, loadDuration, loadConnections, percentileList(percentiles),
                    timeout == null ? Duration.ofSeconds(3) : timeout, labels, warmup);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    private static List<Double> percentileList(String text) {
        List<Double> list = new ArrayList<>();
        for (String part : text.split(",")) {
            try {
                list.add(Double.parseDouble(part.strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-p must be percentiles separated by commas, e.g. 50,99.9; got \"" + text + "\"");
            }
        }
        return list;
    }

    private Summary newConnections() {
        Map<String, Long> byPod = new TreeMap<>();
        List<String> errors = new ArrayList<>();
        long failures = 0;
        for (int i = 0; i < connections; i++) {
            try (Socket socket = connect()) {
                byPod.merge(request(socket, true), 1L, Long::sum);
            } catch (IOException e) {
                failures++;
                if (errors.size() < 10) {
                    errors.add(e.toString());
                }
            }
        }
        return new Summary(connections, failures, byPod, Map.of(), List.of(), errors);
    }

    private Summary keepAlive() throws InterruptedException {
        long deadline = System.nanoTime() + duration.toNanos();
        List<ConnectionResult> results = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        Map<Integer, ConnectionResult> byIndex = new ConcurrentHashMap<>();
        for (int c = 0; c < keepalive; c++) {
            int index = c;
            threads.add(Thread.ofPlatform().start(() -> byIndex.put(index, runConnection(deadline))));
        }
        for (Thread t : threads) {
            t.join();
        }
        Map<String, Long> byPod = new TreeMap<>();
        long requests = 0;
        long failures = 0;
        for (int c = 0; c < keepalive; c++) {
            ConnectionResult r = byIndex.get(c);
            results.add(r);
            requests += r.ok() + r.failed();
            failures += r.failed();
            if (r.pod() != null) {
                byPod.merge(r.pod(), r.ok(), Long::sum);
            }
        }
        return new Summary(requests, failures, byPod, Map.of(), results, List.of());
    }

    // One connection for the whole run; a failed request ends it (a reconnect would hide the failure).
    private ConnectionResult runConnection(long deadline) {
        String pod = null;
        long ok = 0;
        try (Socket socket = connect()) {
            while (System.nanoTime() < deadline) {
                String answered = request(socket, false);
                if (pod == null) {
                    pod = answered;
                }
                ok++;
                Thread.sleep(10);
            }
            return new ConnectionResult(pod, ok, 0, null);
        } catch (IOException e) {
            return new ConnectionResult(pod, ok, 1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new ConnectionResult(pod, ok, 0, null);
        }
    }

    private Summary udp() throws IOException {
        Map<String, Long> byPod = new TreeMap<>();
        Map<String, Long> sources = new TreeMap<>();
        List<String> errors = new ArrayList<>();
        AtomicLong failures = new AtomicLong();
        InetSocketAddress to = new InetSocketAddress(target.host(), target.port());
        for (int i = 0; i < udp; i++) {
            // A socket per exchange, unconnected: sendto/recvfrom, as a DNS client does.
            try (DatagramChannel channel = DatagramChannel.open()) {
                channel.socket().setSoTimeout((int) timeout.toMillis());
                channel.send(ByteBuffer.wrap(("ping " + i).getBytes(StandardCharsets.UTF_8)), to);
                ByteBuffer in = ByteBuffer.allocate(4096);
                SocketAddress from = receive(channel, in);
                if (from == null) {
                    failures.incrementAndGet();
                    continue;
                }
                in.flip();
                String body = StandardCharsets.UTF_8.decode(in).toString();
                byPod.merge(pod(body), 1L, Long::sum);
                InetSocketAddress source = (InetSocketAddress) from;
                sources.merge(source.getAddress().getHostAddress() + ":" + source.getPort(), 1L, Long::sum);
            } catch (IOException e) {
                failures.incrementAndGet();
                if (errors.size() < 10) {
                    errors.add(e.toString());
                }
            }
        }
        return new Summary(udp, failures.get(), byPod, sources, List.of(), errors);
    }

    private SocketAddress receive(DatagramChannel channel, ByteBuffer in) throws IOException {
        channel.configureBlocking(false);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            SocketAddress from = channel.receive(in);
            if (from != null) {
                return from;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(target.host(), target.port()), (int) timeout.toMillis());
        socket.setSoTimeout((int) timeout.toMillis());
        return socket;
    }

    // One HTTP/1.1 GET; reads exactly the response (Content-Length) so the connection can be reused.
    private String request(Socket socket, boolean close) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(("GET / HTTP/1.1\r\nHost: " + target.host() + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed before the response");
            }
            head.append((char) b);
        }
        Matcher length = Pattern.compile("(?i)content-length:\\s*(\\d+)").matcher(head);
        if (!head.toString().startsWith("HTTP/1.1 200") || !length.find()) {
            throw new IOException("unexpected response: " + head.toString().lines().findFirst().orElse(""));
        }
        byte[] body = in.readNBytes(Integer.parseInt(length.group(1)));
        return pod(new String(body, StandardCharsets.UTF_8));
    }

    private static String pod(String body) {
        Matcher m = POD.matcher(body);
        return m.find() ? m.group(1) : "?";
    }
}
