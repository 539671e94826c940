package dev.sluice.observe.ui;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.cli.ObserveFilters;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.GetFlowsRequest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The service-map web UI: the page and its script (from this jar, nothing from a CDN), and two server-sent event
 * streams the page opens: {@code /events/graph?namespace=NS} (the {@link ServiceMap} of the namespace's flows, sent
 * again whenever it changes and every second for the rates, and the namespaces seen so far) and
 * {@code /events/flows?namespace=NS&filter=FLAGS} (matching flows as table rows; FLAGS are {@code sluice observe}'s
 * filter flags, read by the same code). Each stream is one {@link FlowSource} subscription, closed when the page goes.
 * Served by the JDK's HttpServer on loopback only; requests naming another host are refused (DNS rebinding).
 */
public final class UiServer implements AutoCloseable {
    /** Flows a new graph stream starts from: every node's whole ring, at the default ring size. */
    static final int GRAPH_HISTORY = 4095;
    /** Rows a new table stream starts from, unless the filter says --last. */
    static final int TABLE_HISTORY = 200;
    private static final long TICK_MS = 250;
    /** Flows a stream holds for a page that has not taken them yet. */
    static final int MAX_QUEUED = 50_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final FlowSource source;
    private final FlowFormat format = new FlowFormat(ZoneId.systemDefault());
    /** Namespaces seen in any flow, for the picker: fed by a subscription of its own to every flow. */
    private final Set<String> namespaces = java.util.Collections.synchronizedSet(new TreeSet<>());
    private final FlowSource.Subscription allFlows;

    /** Whether requests must name loopback in their Host (they must unless the UI serves a pod's own address). */
    private final boolean loopbackOnly;

    private UiServer(HttpServer server, FlowSource source, boolean loopbackOnly) {
        this.server = server;
        this.loopbackOnly = loopbackOnly;
        this.source = source;
        this.allFlows = source.subscribe(GetFlowsRequest.newBuilder().setNumber(GRAPH_HISTORY).setFollow(true).build(), flow -> {
            if (!flow.getSource().getNamespace().isEmpty()) {
                namespaces.add(flow.getSource().getNamespace());
            }
            if (!flow.getDestination().getNamespace().isEmpty()) {
                namespaces.add(flow.getDestination().getNamespace());
            }
        }, problem -> { });
        server.setExecutor(executor);
        server.createContext("/", this::serve);
        server.start();
    }

    /**
     * Serves the UI on {@code address}, which must be a loopback address (flows name pods and policies).
     *
     * @throws IOException when the address cannot be bound (the port is taken, say)
     */
    public static UiServer start(InetSocketAddress address, FlowSource source) throws IOException {
        if (!address.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("the UI serves loopback only, not " + address.getAddress().getHostAddress());
        }
        return new UiServer(HttpServer.create(address, 64), source, true);
    }

    /**
     * Serves the UI on any address, for a Kubernetes pod, whose network namespace is its own and whose Service must
     * reach it (requests then name the Service, so the Host check is off). Never for this machine's own namespace.
     */
    public static UiServer startInPod(InetSocketAddress address, FlowSource source) throws IOException {
        return new UiServer(HttpServer.create(address, 64), source, false);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        allFlows.close();
        server.stop(0);
        executor.shutdownNow();
    }

    private void serve(HttpExchange exchange) throws IOException {
        try (exchange) {
            String host = exchange.getRequestHeaders().getFirst("Host");
            if (loopbackOnly && (host == null || !(host.equals("127.0.0.1:" + port()) || host.equals("localhost:" + port())
                    || host.equals("[::1]:" + port())))) {
                send(exchange, 403, "text/plain", "the Sluice UI answers to 127.0.0.1:" + port() + " only\n");
                return;
            }
            if (!exchange.getRequestMethod().equals("GET")) {
                send(exchange, 405, "text/plain", "GET only\n");
                return;
            }
            String path = exchange.getRequestURI().getPath();
            Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
            switch (path) {
                case "/", "/index.html" -> resource(exchange, "index.html", "text/html; charset=utf-8");
                case "/app.js" -> resource(exchange, "app.js", "text/javascript; charset=utf-8");
                case "/events/graph" -> graphStream(exchange, query.getOrDefault("namespace", ""));
                case "/events/flows" -> flowStream(exchange, query.getOrDefault("namespace", ""), query.getOrDefault("filter", ""));
                default -> send(exchange, 404, "text/plain", "not found: " + path + "\n");
            }
        }
    }

    private void graphStream(HttpExchange exchange, String namespace) throws IOException {
        GetFlowsRequest.Builder request = GetFlowsRequest.newBuilder().setNumber(GRAPH_HISTORY).setFollow(true);
        if (!namespace.isEmpty()) {
            request.addWhitelist(FlowFilter.newBuilder().addNamespace(namespace));
        }
        ServiceMap map = new ServiceMap();
        stream(exchange, request.build(), new Sink() {
            List<String> sentNamespaces; // null: none sent yet, so that the first (even empty) list goes out
            ServiceMap.Snapshot sent;
            long sentAt;

            @Override
            public void tick(List<Flow> flows, Events out) throws IOException {
                flows.forEach(map::add);
                List<String> now;
                synchronized (namespaces) {
                    now = List.copyOf(namespaces);
                }
                if (!now.equals(sentNamespaces)) {
                    out.send("namespaces", now);
                    sentNamespaces = now;
                }
                long nowMs = System.currentTimeMillis();
                ServiceMap.Snapshot snapshot = map.snapshot(nowMs * 1_000_000L);
                if (!snapshot.equals(sent) || nowMs - sentAt >= 1000) {
                    out.send("graph", snapshot);
                    sent = snapshot;
                    sentAt = nowMs;
                }
            }
        });
    }

    private void flowStream(HttpExchange exchange, String namespace, String filter) throws IOException {
        GetFlowsRequest request;
        try {
            List<String> words = new ArrayList<>(ObserveFilters.words(filter));
            if (!namespace.isEmpty() && !words.contains("-n") && !words.contains("--namespace")) {
                words.addAll(List.of("-n", namespace));
            }
            request = ObserveFilters.request(words);
        } catch (IllegalArgumentException e) {
            // The page shows the reason next to the filter box; the stream ends, so the browser would reconnect: it is told not to.
            exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
            exchange.sendResponseHeaders(200, 0);
            OutputStream body = exchange.getResponseBody();
            body.write(("event: invalid\ndata: " + JSON.writeValueAsString(Map.of("message", e.getMessage())) + "\n\n")
                    .getBytes(StandardCharsets.UTF_8));
            body.flush();
            return;
        }
        GetFlowsRequest followed = request.toBuilder().setFollow(true)
                .setNumber(request.getNumber() > 0 ? request.getNumber() : request.hasSince() ? 0 : TABLE_HISTORY).build();
        stream(exchange, followed, (flows, out) -> {
            if (!flows.isEmpty()) {
                out.send("flows", flows.stream().map(this::row).toList());
            }
        });
    }

    /** A flow as a table row: {@code sluice observe -o dict}'s fields, plus the time in ms for ordering. */
    private Map<String, Object> row(Flow flow) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("epochMs", flow.getTime().getSeconds() * 1000 + flow.getTime().getNanos() / 1_000_000);
        for (String line : format.dict(flow, true)) {
            int colon = line.indexOf(": ");
            if (colon > 0) {
                row.put(line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT), line.substring(colon + 2));
            }
        }
        row.put("verdict", flow.getVerdict().name());
        return row;
    }

    /** What a stream does with the flows that arrived since its last tick. */
    private interface Sink {
        void tick(List<Flow> flows, Events out) throws IOException;
    }

    /** Writes server-sent events. */
    private record Events(OutputStream body) {
        void send(String event, Object data) throws IOException {
            body.write(("event: " + event + "\ndata: " + JSON.writeValueAsString(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
            body.flush();
        }
    }

    /** Opens the subscription and feeds {@code sink} every tick until the page goes away (a write fails). */
    private void stream(HttpExchange exchange, GetFlowsRequest request, Sink sink) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.sendResponseHeaders(200, 0);
        Events out = new Events(exchange.getResponseBody());
        ConcurrentLinkedQueue<Flow> arrived = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        // A page that stops reading (a stalled tab) must not make the server hold every flow since: beyond MAX_QUEUED
        // waiting flows, new ones are left out and the page is told how many.
        java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicLong skipped = new java.util.concurrent.atomic.AtomicLong();
        java.util.function.Consumer<Flow> take = flow -> {
            if (queued.incrementAndGet() > MAX_QUEUED) {
                queued.decrementAndGet();
                skipped.incrementAndGet();
            } else {
                arrived.add(flow);
            }
        };
        try (FlowSource.Subscription subscription = source.subscribe(request, take, problems::add)) {
            out.body().write("retry: 1000\n\n".getBytes(StandardCharsets.UTF_8));
            long lastWrite = System.currentTimeMillis();
            while (!Thread.currentThread().isInterrupted()) {
                List<Flow> flows = new ArrayList<>();
                for (Flow f; (f = arrived.poll()) != null; ) {
                    queued.decrementAndGet();
                    flows.add(f);
                }
                long left = skipped.getAndSet(0);
                if (left > 0) {
                    out.send("problem", Map.of("message", left + " flow(s) left out: this page fell behind the stream"));
                }
                for (String p; (p = problems.poll()) != null; ) {
                    out.send("problem", Map.of("message", p));
                }
                sink.tick(flows, out);
                if (System.currentTimeMillis() - lastWrite > 10_000) {
                    // A comment line: how a page that went away is noticed when nothing else is sent.
                    out.body().write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                    out.body().flush();
                    lastWrite = System.currentTimeMillis();
                }
                Thread.sleep(TICK_MS);
            }
        } catch (IOException e) {
            // The page closed the stream (a namespace or filter change, or the tab went away): nothing to report.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void resource(HttpExchange exchange, String name, String type) throws IOException {
        try (InputStream in = UiServer.class.getResourceAsStream(name)) {
            if (in == null) {
                send(exchange, 500, "text/plain", name + " is missing from the jar\n");
                return;
            }
            byte[] body = in.readAllBytes();
            exchange.getResponseHeaders().set("Content-Type", type);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        }
    }

    private static void send(HttpExchange exchange, int status, String type, String text) throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body.length);
        exchange.getResponseBody().write(body);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> query = new LinkedHashMap<>();
        if (raw == null) {
            return query;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            query.put(key, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return query;
    }
}
