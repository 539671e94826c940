package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 * Traffic for load-balancing tests and benchmarks, with plain blocking sockets (so that run inside a pod
 * every connection is the pod's). Three shapes:
 * <ul>
 *   <li>{@code --connections N}: N new TCP connections one after another, one HTTP/1.1 request each;</li>
 *   <li>{@code --keepalive C --duration D}: C long-lived connections sending requests for D;</li>
 *   <li>{@code --udp N}: N datagrams, each waiting for its reply.</li>
 * </ul>
 * Prints one JSON summary: requests, failures, answers by pod, and reply sources (UDP) or per-connection
 * results (keep-alive).
 */
@Command(name = "load", description = "Make test traffic to the echo workload and summarise who answered (JSON).")
public final class LoadCommand implements Callable<Integer> {
    private static final Pattern POD = Pattern.compile("\"pod\"\\s*:\\s*\"([^\"]*)\"");

    @Parameters(paramLabel = "HOST:PORT", converter = HostPort.Converter.class)
    HostPort target;
    @Option(names = "--connections", description = "New TCP connections, one request each.")
    int connections;
    @Option(names = "--keepalive", description = "Long-lived TCP connections.")
    int keepalive;
    @Option(names = "--duration", defaultValue = "5s", converter = DurationConverter.class, description = "With --keepalive (default ${DEFAULT-VALUE}).")
    Duration duration;
    @Option(names = "--udp", description = "UDP request/reply exchanges.")
    int udp;
    @Option(names = "--timeout", defaultValue = "2s", converter = DurationConverter.class)
    Duration timeout;
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
        Summary s;
        if (connections > 0) {
            s = newConnections();
        } else if (keepalive > 0) {
            s = keepAlive();
        } else if (udp > 0) {
            s = udp();
        } else {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --connections, --keepalive or --udp");
        }
        spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(s));
        spec.commandLine().getOut().flush();
        return s.failures() == 0 ? 0 : 1;
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
