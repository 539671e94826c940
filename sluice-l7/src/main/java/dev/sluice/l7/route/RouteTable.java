package dev.sluice.l7.route;

import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The node proxy's whole configuration: for each Service port the routes of its envoy configurations, and the
 * clusters those routes name, with their endpoints resolved. Immutable; a change is a new table.
 */
public record RouteTable(List<ServiceRoutes> services, Map<String, Cluster> clusters) {
    public RouteTable {
        services = List.copyOf(services);
        clusters = Map.copyOf(clusters);
    }

    public static RouteTable empty() {
        return new RouteTable(List.of(), Map.of());
    }

    /** The route chosen for a request, and the virtual host and Service port it was found under. */
    public record Match(ServiceRoutes service, VirtualHost virtualHost, Route route) {
    }

    /**
     * {@link #match} within the Service port {@code serviceKey} ({@code ns/name:port}, as a listener of the proxy
     * takes it): none when the table has no routes for it. A null key searches every Service.
     */
    public Optional<Match> matchOn(String serviceKey, String authority, String path, Function<String, String> headers) {
        if (serviceKey == null) {
            return match(null, authority, path, headers);
        }
        return services.stream().filter(s -> s.key().equals(serviceKey)).findFirst()
                .flatMap(s -> match(s, authority, path, headers));
    }

    /**
     * Picks the route for a request, as Envoy does: the virtual host by authority (exact domain, then the longest
     * suffix wildcard {@code *.example.com}, then the longest prefix wildcard {@code example.*}, then {@code *};
     * first with the authority as sent, then without its port), then the first of its routes that matches.
     *
     * @param service the Service port the request was sent to when the proxy knows it (its original
     *                destination), else null: every Service's virtual hosts are searched
     * @param headers a request header's first value by lower-case name
     */
    public Optional<Match> match(ServiceRoutes service, String authority, String path, Function<String, String> headers) {
        List<ServiceRoutes> candidates = service == null ? services : List.of(service);
        String host = authority == null ? "" : authority.toLowerCase(Locale.ROOT);
        Optional<Match> found = matchHost(candidates, host, path, headers);
        int colon = host.lastIndexOf(':');
        if (found.isEmpty() && colon > 0 && host.indexOf(']', colon) < 0) {
            found = matchHost(candidates, host.substring(0, colon), path, headers);
        }
        return found;
    }

    private static Optional<Match> matchHost(List<ServiceRoutes> candidates, String host, String path,
                                             Function<String, String> headers) {
        record Scored(ServiceRoutes service, VirtualHost vh, int rank, int length) {
        }
        Optional<Scored> best = candidates.stream()
                .flatMap(s -> s.virtualHosts().stream().flatMap(vh -> vh.domains().stream()
                        .map(d -> new Scored(s, vh, rank(d, host), d.length()))))
                .filter(sc -> sc.rank() >= 0)
                .min(Comparator.comparingInt(Scored::rank).thenComparing(Comparator.comparingInt(Scored::length).reversed()));
        return best.flatMap(sc -> sc.vh().routes().stream().filter(r -> r.matches(path, headers)).findFirst()
                .map(r -> new Match(sc.service(), sc.vh(), r)));
    }

    /** 0 exact, 1 suffix wildcard, 2 prefix wildcard, 3 "*", -1 no match. */
    private static int rank(String domain, String host) {
        if (domain.equals("*")) {
            return 3;
        }
        if (domain.equals(host)) {
            return 0;
        }
        if (domain.startsWith("*") && host.length() > domain.length() - 1 && host.endsWith(domain.substring(1))) {
            return 1;
        }
        if (domain.endsWith("*") && host.length() > domain.length() - 1
                && host.startsWith(domain.substring(0, domain.length() - 1))) {
            return 2;
        }
        return -1;
    }

    /** A one-line summary per Service port, for status and logs. */
    public String describe() {
        return services.stream().map(s -> s.key() + " -> " + s.virtualHosts().stream()
                        .flatMap(vh -> vh.routes().stream())
                        .flatMap(r -> r.clusters().stream())
                        .map(wc -> wc.cluster() + "=" + wc.weight() + " ("
                                + Optional.ofNullable(clusters.get(wc.cluster())).map(c -> c.endpoints().size()).orElse(0)
                                + " endpoints)")
                        .distinct().collect(Collectors.joining(", ")))
                .collect(Collectors.joining("; "));
    }
}
