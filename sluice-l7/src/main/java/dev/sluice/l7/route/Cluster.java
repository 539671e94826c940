package dev.sluice.l7.route;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A cluster as the proxy runs it: its backends, resolved, and how to pick among them.
 *
 * @param name as routes name it ({@code default/product-service-v1})
 * @param http2 whether backends are spoken to in HTTP/2 (h2c prior knowledge); otherwise as the client spoke
 */
public record Cluster(String name, LbPolicy lbPolicy, Duration connectTimeout, List<Endpoint> endpoints, boolean http2,
                      OutlierDetection outlierDetection) {
    /** Without outlier detection (the proxy still ejects a backend it cannot connect to). */
    public Cluster(String name, LbPolicy lbPolicy, Duration connectTimeout, List<Endpoint> endpoints, boolean http2) {
        this(name, lbPolicy, connectTimeout, endpoints, http2, null);
    }

    public Cluster {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(lbPolicy, "lbPolicy");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        endpoints = List.copyOf(endpoints);
    }
}
