package dev.sluice.l7.xds;

/**
 * Where the proxy listens for one Listener resource, and for which Service port.
 *
 * @param name the Listener's name
 * @param serviceKey the Service port it takes ({@code ns/name:port}); requests on it are routed within that
 *                   Service's virtual hosts only
 * @param freebind whether the address may be bound before it exists on the node (Envoy's {@code freebind})
 */
public record ListenerBinding(String name, String serviceKey, String address, int port, boolean freebind) {
}
