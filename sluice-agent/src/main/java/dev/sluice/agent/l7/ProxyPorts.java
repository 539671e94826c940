package dev.sluice.agent.l7;

import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The proxy port of each redirected Service port: one listener per Service port, so the port a connection arrives
 * on names its original destination (Cilium gives each CiliumEnvoyConfig listener a proxy port the same way).
 * A Service port keeps its proxy port while it stays redirected, so a change elsewhere never moves its traffic;
 * a port freed is reused lowest first.
 */
final class ProxyPorts {
    /** The first proxy port; the one the first slice used for every Service port. */
    static final int FIRST = 15001;
    /** Up to 15999: below Envoy's admin (15000 is taken by convention) and Istio's 15xxx ports above. */
    static final int LAST = 15999;

    private final Map<String, Integer> byService = new LinkedHashMap<>();

    /**
     * Keeps the ports of the Service ports still redirected, frees the others, and gives new ones the lowest free.
     *
     * @return Service port ({@code ns/name:port}) to proxy port; a Service port for which no port is left is absent
     */
    Map<String, Integer> assign(Collection<String> services) {
        Set<String> wanted = new HashSet<>(services);
        byService.keySet().retainAll(wanted);
        TreeSet<Integer> free = new TreeSet<>();
        for (int p = FIRST; p <= LAST; p++) {
            free.add(p);
        }
        free.removeAll(byService.values());
        for (String s : services.stream().sorted().toList()) {
            if (!byService.containsKey(s) && !free.isEmpty()) {
                byService.put(s, free.pollFirst());
            }
        }
        return Map.copyOf(byService);
    }
}
