package dev.sluice.model;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Service. Sluice load-balances every type as a ClusterIP; {@code type} keeps what the manifest asked for
 * (NodePort, LoadBalancer, ...) so that it can be reported.
 *
 * @param clusterIP null to have one allocated, {@code "None"} for a headless Service, or an IPv4 address
 * @param selector empty when the Service selects no pods
 * @param clientIpAffinity whether {@code sessionAffinity: ClientIP} keeps each client on one backend
 */
public record ServiceSpec(ObjectRef ref, String type, String clusterIP, List<ServicePort> ports,
                          Map<String, String> selector, boolean clientIpAffinity, Source source) {
    /** The clusterIP value that makes a Service headless: DNS names its pods, nothing is load-balanced. */
    public static final String HEADLESS = "None";

    public ServiceSpec {
        Objects.requireNonNull(ref, "ref");
        Objects.requireNonNull(type, "type");
        ports = Copies.list(ports);
        selector = Copies.map(selector);
    }

    public boolean headless() {
        return HEADLESS.equals(clusterIP);
    }
}
