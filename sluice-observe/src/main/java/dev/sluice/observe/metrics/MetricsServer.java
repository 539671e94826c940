package dev.sluice.observe.metrics;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * Serves a registry's metrics over HTTP: {@code GET /metrics} in the Prometheus text format (or OpenMetrics or
 * protobuf, as the scraper's Accept header asks), and {@code /-/healthy}. Runs on the JDK's HTTP server, on
 * daemon threads, until closed.
 */
public final class MetricsServer implements AutoCloseable {
    private final HTTPServer server;

    private MetricsServer(HTTPServer server) {
        this.server = server;
    }

    /**
     * Serves GET /metrics (Prometheus text format) on {@code address}; port 0 picks a free one.
     *
     * @throws UncheckedIOException when the address cannot be bound, e.g. the port is taken
     */
    public static MetricsServer start(PrometheusRegistry registry, InetSocketAddress address) {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(address, "address");
        HTTPServer.Builder builder = HTTPServer.builder().registry(registry).port(address.getPort());
        // An unresolved address keeps its host name for the server to resolve; a resolved one binds as given
        // (the wildcard address listens everywhere, a loopback one only on this host).
        if (address.isUnresolved()) {
            builder.hostname(address.getHostString());
        } else {
            builder.inetAddress(address.getAddress());
        }
        try {
            return new MetricsServer(builder.buildAndStart());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on " + address, e);
        }
    }

    /** The port served, the one picked when started with port 0. */
    public int port() {
        return server.getPort();
    }

    @Override
    public void close() {
        server.close();
    }
}
