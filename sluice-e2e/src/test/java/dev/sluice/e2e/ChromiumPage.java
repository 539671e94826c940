package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * A page in Debian's headless {@code chromium}, driven over the DevTools protocol (a WebSocket on loopback, the
 * JDK's own client): navigate, evaluate JavaScript, take a screenshot. The browser is started by this class, with a
 * profile directory of its own, and stopped by its PID on close.
 */
final class ChromiumPage implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Process browser;
    private final Path profile;
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

    private ChromiumPage(Process browser, Path profile, WebSocket socket) {
        this.browser = browser;
        this.profile = profile;
        this.socket = socket;
    }

    /** Chromium's path, when Debian's package is installed. */
    static boolean installed() {
        return Files.isExecutable(Path.of("/usr/bin/chromium"));
    }

    static ChromiumPage open(int width, int height) throws Exception {
        Path profile = Files.createTempDirectory("sluice-chromium");
        // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start. Port 0: Chromium picks one
        // and writes it to DevToolsActivePort in the profile.
        Process browser = new ProcessBuilder("/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--disable-background-networking", "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", "--user-data-dir=" + profile, "--window-size=" + width + "," + height, "about:blank")
                .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
        try {
            Path active = profile.resolve("DevToolsActivePort");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(active) || Files.readAllLines(active).size() < 2) {
                if (!browser.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("chromium did not start: " + Files.readString(profile.resolve("chromium.log")));
                }
                Thread.sleep(100);
            }
            int port = Integer.parseInt(Files.readAllLines(active).getFirst().trim());
            HttpClient http = HttpClient.newHttpClient();
            JsonNode targets = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list")).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            String pageSocket = null;
            for (JsonNode t : targets) {
                if (t.get("type").asText().equals("page")) {
                    pageSocket = t.get("webSocketDebuggerUrl").asText();
                }
            }
            if (pageSocket == null) {
                throw new IllegalStateException("chromium has no page target: " + targets);
            }
            ChromiumPage[] self = new ChromiumPage[1];
            StringBuilder message = new StringBuilder();
            WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10)).buildAsync(URI.create(pageSocket), new WebSocket.Listener() {
                @Override
                public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                    message.append(data);
                    if (last) {
                        String text = message.toString();
                        message.setLength(0);
                        try {
                            JsonNode reply = JSON.readTree(text);
                            if (reply.has("id")) {
                                CompletableFuture<JsonNode> f = self[0].pending.remove(reply.get("id").asInt());
                                if (f != null) {
                                    f.complete(reply);
                                }
                            }
                        } catch (IOException e) {
                            // not a reply: ignored
                        }
                    }
                    webSocket.request(1);
                    return null;
                }
            }).get(10, TimeUnit.SECONDS);
            self[0] = new ChromiumPage(browser, profile, ws);
            self[0].call("Page.enable", Map.of());
            self[0].call("Runtime.enable", Map.of());
            self[0].call("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height, "deviceScaleFactor", 1, "mobile", false));
            return self[0];
        } catch (Exception e) {
            browser.destroyForcibly();
            deleteTree(profile);
            throw e;
        }
    }

    /** One DevTools command; its result, or an error naming the method. */
    JsonNode call(String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        ObjectNode request = JSON.createObjectNode().put("id", id).put("method", method);
        request.set("params", JSON.valueToTree(params));
        socket.sendText(JSON.writeValueAsString(request), true).get(10, TimeUnit.SECONDS);
        JsonNode r = reply.get(30, TimeUnit.SECONDS);
        if (r.has("error")) {
            throw new IllegalStateException(method + ": " + r.get("error"));
        }
        return r.get("result");
    }

    void navigate(String url) throws Exception {
        call("Page.navigate", Map.of("url", url));
        await("document.readyState === 'complete' && location.href.startsWith(" + JSON.writeValueAsString(url) + ")", 15);
    }

    /** The value of a JavaScript expression (JSON-serialisable), as the page holds it now. */
    JsonNode eval(String expression) throws Exception {
        JsonNode result = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true, "awaitPromise", true));
        if (result.has("exceptionDetails")) {
            throw new IllegalStateException(expression + ": " + result.get("exceptionDetails"));
        }
        JsonNode value = result.get("result").get("value");
        return value == null ? JSON.nullNode() : value;
    }

    /** Waits until {@code expression} is true in the page, for at most {@code seconds}; the last value otherwise fails. */
    JsonNode await(String expression, int seconds) throws Exception {
        return awaitValue(expression, v -> v.asBoolean(false), seconds);
    }

    JsonNode awaitValue(String expression, Predicate<JsonNode> until, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        JsonNode value;
        do {
            value = eval(expression);
            if (until.test(value)) {
                return value;
            }
            Thread.sleep(200);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("within " + seconds + " s the page never had " + expression + " (last: " + value + ")");
    }

    /** A PNG of the page as laid out, down to {@code height} pixels. */
    byte[] screenshot(int width, int height) throws Exception {
        JsonNode shot = call("Page.captureScreenshot", Map.of("format", "png",
                "clip", Map.of("x", 0, "y", 0, "width", width, "height", height, "scale", 1)));
        return Base64.getDecoder().decode(shot.get("data").asText());
    }

    @Override
    public void close() {
        try {
            socket.abort();
        } finally {
            browser.destroy(); // by its PID, which this class started
            try {
                if (!browser.waitFor(5, TimeUnit.SECONDS)) {
                    browser.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            deleteTree(profile);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(files.sorted(Comparator.reverseOrder()).toList());
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a temporary profile left behind is not worth failing a test for
        }
    }
}
