package dev.sluice.observe.metrics;

import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scrapes a registry the way Prometheus does: GET /metrics from a {@link MetricsServer} on loopback. */
final class Scrapes {
    private static final HttpClient CLIENT = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private Scrapes() {}

    static MetricsServer serve(PrometheusRegistry registry) {
        return MetricsServer.start(registry, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    /** The exposition's lines, comments included. */
    static List<String> scrape(MetricsServer server) throws IOException, InterruptedException {
        HttpResponse<String> response = CLIENT.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/metrics")).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
                "the text format when no Accept header asks otherwise");
        return response.body().lines().toList();
    }

    /** The sample lines whose metric name is {@code name} (exactly, or followed by labels). */
    static List<String> samples(List<String> lines, String name) {
        return lines.stream().filter(line -> line.startsWith(name + "{") || line.startsWith(name + " ")).toList();
    }
}
