package dev.sluice.l7.route;

import java.util.List;
import java.util.Locale;

/** Envoy's virtual host: the authorities it answers for, and its routes in order (the first match wins). */
public record VirtualHost(String name, List<String> domains, List<Route> routes) {
    public VirtualHost {
        domains = domains.stream().map(d -> d.toLowerCase(Locale.ROOT)).toList();
        routes = List.copyOf(routes);
    }
}
