package dev.sluice.observe.ui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.Flows;
import dev.sluice.observe.ObserverServer;
import dev.sluice.observe.v1.Flow;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The UI server over two real Observer API servers (unix sockets, as the agents serve them) through
 * {@link NodeMergeFlowSource}: the page and script are served, the graph stream merges both nodes and follows new
 * flows, the flows stream applies observe's flags and reports bad ones.
 */
class UiServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;
    private final FlowRing node1 = new FlowRing(100);
    private final FlowRing node2 = new FlowRing(100);
    private ObserverServer server1;
    private ObserverServer server2;
    private UiServer ui;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        server1 = ObserverServer.start(node1, "node-1", dir.resolve("node-1.sock"), OptionalInt.empty());
        server2 = ObserverServer.start(node2, "node-2", dir.resolve("node-2.sock"), OptionalInt.empty());
        List<String> targets = List.of("unix://" + server1.socket(), "unix://" + server2.socket(), "unix://" + dir.resolve("node-3.sock"));
        ui = UiServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), new NodeMergeFlowSource(() -> targets));
    }

    @AfterEach
    void stop() {
        ui.close();
        server1.close();
        server2.close();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + ui.port() + path);
    }

    @Test
    void servesThePageAndItsScriptFromTheJarAndRefusesOtherHosts() throws Exception {
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(uri("/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("<script src=\"app.js\">"), page.body());
        assertTrue(!page.body().matches("(?s).*(src|href)=\"(https?:)?//.*"), "nothing loaded from elsewhere");
        HttpResponse<String> script = http.send(HttpRequest.newBuilder(uri("/app.js")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, script.statusCode());
        assertTrue(script.body().contains("new EventSource("));
        // A page of another site whose name was rebound to 127.0.0.1 sends its own Host: refused (HttpClient cannot forge one).
        try (java.net.Socket socket = new java.net.Socket(InetAddress.getLoopbackAddress(), ui.port())) {
            socket.getOutputStream().write(("GET / HTTP/1.1\r\nHost: evil.example:" + ui.port() + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            assertEquals("HTTP/1.1 403 Forbidden", status);
        }
    }

    /** Server-sent events of a stream, read on a thread of their own: (event, parsed data). */
    private record Event(String name, JsonNode data) {}

    private BlockingQueue<Event> events(String path) throws Exception {
        BlockingQueue<Event> events = new ArrayBlockingQueue<>(10_000);
        HttpResponse<java.io.InputStream> response = http.send(HttpRequest.newBuilder(uri(path)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals("text/event-stream", response.headers().firstValue("Content-Type").orElse(""));
        Thread.ofVirtual().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                String event = null;
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("event: ")) {
                        event = line.substring(7);
                    } else if (line.startsWith("data: ") && event != null) {
                        events.add(new Event(event, JSON.readTree(line.substring(6))));
                        event = null;
                    }
                }
            } catch (Exception e) {
                // the test is over
            }
        });
        return events;
    }

    /**
     * Every event of each stream seen so far: an await looks at those after the last one it matched of the same name,
     * so an event of one name that came while another was awaited is not missed.
     */
    private final java.util.Map<BlockingQueue<Event>, java.util.List<Event>> seen = new java.util.HashMap<>();
    private final java.util.Map<String, Integer> matched = new java.util.HashMap<>();

    private Event await(BlockingQueue<Event> events, String name, java.util.function.Predicate<JsonNode> until) throws InterruptedException {
        List<Event> history = seen.computeIfAbsent(events, k -> new java.util.ArrayList<>());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String cursor = System.identityHashCode(events) + "/" + name;
        int next = matched.getOrDefault(cursor, 0);
        while (true) {
            for (; next < history.size(); next++) {
                Event e = history.get(next);
                if (e.name().equals(name) && until.test(e.data())) {
                    matched.put(cursor, next + 1);
                    return e;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + name + " event as expected within 10 s; seen: " + history);
            }
            Event e = events.poll(100, TimeUnit.MILLISECONDS);
            if (e != null) {
                history.add(e);
            }
        }
    }

    private static boolean hasEdge(JsonNode graph, String from, String to, String state) {
        for (JsonNode e : graph.get("edges")) {
            if (e.get("from").asText().equals(from) && e.get("to").asText().equals(to) && e.get("state").asText().equals(state)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void theGraphMergesTheNodesAndFollowsNewFlows() throws Exception {
        node2.add(Flows.forwarded().toBuilder().setEventType("policy-verdict").build());
        BlockingQueue<Event> events = events("/events/graph?namespace=default");
        await(events, "namespaces", ns -> ns.toString().equals("[\"default\"]"));
        await(events, "graph", g -> hasEdge(g, "default/fortio-client-xxxxx", "svc:default/product-service", "forwarded"));
        // A drop seen by the other node, after the stream opened, reaches the page as a red edge.
        node1.add(Flows.dropped());
        Event red = await(events, "graph", g -> hasEdge(g, "default/some-rogue-pod-zzzzz", "svc:default/product-service", "dropped"));
        assertTrue(red.data().toString().contains("Policy denied by default/product-service-allow-fortio"), red.data().toString());
        // The socket that does not exist is said to be unreadable; the others were read all the same.
        await(events, "problem", p -> p.get("message").asText().contains("node-3.sock"));
        // The node comes (its agent started late): asked again every second, its flows join and the page hears it is back.
        FlowRing node3 = new FlowRing(10);
        node3.add(Flows.udpToService());
        try (ObserverServer server3 = ObserverServer.start(node3, "node-3", dir.resolve("node-3.sock"), OptionalInt.empty())) {
            await(events, "problem", p -> p.get("message").asText().equals("unix://" + server3.socket() + ": " + NodeMergeFlowSource.RECOVERED));
        }
    }

    @Test
    void theFlowsStreamTakesObservesFlagsAndRefusesBadOnesSayingWhy() throws Exception {
        node2.add(Flows.forwarded());
        node1.add(Flows.dropped().toBuilder().setNodeName("node-1").build());
        String filter = URLEncoder.encode("--verdict DROPPED --from-pod some-rogue", StandardCharsets.UTF_8);
        BlockingQueue<Event> events = events("/events/flows?namespace=default&filter=" + filter);
        Event rows = await(events, "flows", r -> r.size() == 1);
        JsonNode row = rows.data().get(0);
        assertEquals("DROPPED", row.get("verdict").asText());
        assertEquals("node-1", row.get("node").asText());
        assertTrue(row.get("source").asText().startsWith("default/some-rogue-pod-zzzzz"), row.toString());
        assertNotNull(row.get("summary"));
        // Followed: a new matching flow comes, one that does not match never does.
        node2.add(Flows.forwarded());
        Flow again = Flows.dropped().toBuilder().setTime(Flows.at(Flows.T0.plusSeconds(5))).build();
        node2.add(again);
        Event next = await(events, "flows", r -> r.size() >= 1);
        assertEquals(1, next.data().size(), next.data().toString());
        assertEquals("node-2", next.data().get(0).get("node").asText());

        BlockingQueue<Event> bad = events("/events/flows?namespace=default&filter=" + URLEncoder.encode("--verdict SIDEWAYS", StandardCharsets.UTF_8));
        Event invalid = await(bad, "invalid", m -> true);
        assertTrue(invalid.data().get("message").asText().contains("--verdict: unknown verdict \"SIDEWAYS\""), invalid.data().toString());
    }

    @Test
    void inAPodAnyHostIsAnswered() throws Exception {
        try (UiServer pod = UiServer.startInPod(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), new NodeMergeFlowSource(List::of));
             java.net.Socket socket = new java.net.Socket(InetAddress.getLoopbackAddress(), pod.port())) {
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: sluice-ui.kube-system.svc\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            assertEquals("HTTP/1.1 200 OK", status);
        }
    }

    @Test
    void onlyLoopbackIsServed() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> UiServer.start(new InetSocketAddress(InetAddress.getByName("10.1.2.3"), 0), new NodeMergeFlowSource(List::of)));
    }
}
