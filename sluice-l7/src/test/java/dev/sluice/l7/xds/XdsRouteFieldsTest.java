package dev.sluice.l7.xds;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.QueryMatch;
import dev.sluice.l7.route.RetryPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.StringMatch;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every field of the route model, one at a time: each value survives xDS, and each changes what is served (a field
 * the writer dropped would give two routes the same protos, and the reader could not tell them apart).
 */
class XdsRouteFieldsTest {
    private static final StringMatch EXACT = new StringMatch(StringMatch.Kind.EXACT, "v", false);
    private static final Route BASE = new Route("base", Route.PathKind.PREFIX, "/", true, List.of(), List.of(),
            List.of(new WeightedCluster("ns/a", 1)), HeaderMutation.NONE, Duration.ZERO, 503, null);

    private static Route with(UnaryOperator<Builder> change) {
        return change.apply(new Builder(BASE)).build();
    }

    /** The record's components as a mutable bag, so that a variant names only the field it changes. */
    private static final class Builder {
        String name; Route.PathKind kind; String path; boolean cs; List<HeaderMatch> headers; List<QueryMatch> queries;
        List<WeightedCluster> clusters; HeaderMutation mutation; Duration timeout; int notFound; RetryPolicy retry;

        Builder(Route r) {
            name = r.name(); kind = r.pathKind(); path = r.path(); cs = r.caseSensitive(); headers = r.headers();
            queries = r.queryParams(); clusters = r.clusters(); mutation = r.requestHeaders(); timeout = r.timeout();
            notFound = r.clusterNotFoundStatus(); retry = r.retry();
        }

        Builder name(String v) { name = v; return this; }
        Builder path(Route.PathKind k, String v) { kind = k; path = v; return this; }
        Builder caseInsensitive() { cs = false; return this; }
        Builder headers(HeaderMatch... v) { headers = List.of(v); return this; }
        Builder queries(QueryMatch... v) { queries = List.of(v); return this; }
        Builder clusters(WeightedCluster... v) { clusters = List.of(v); return this; }
        Builder mutation(HeaderMutation v) { mutation = v; return this; }
        Builder timeout(Duration v) { timeout = v; return this; }
        Builder notFound(int v) { notFound = v; return this; }
        Builder retry(RetryPolicy v) { retry = v; return this; }

        Route build() {
            return new Route(name, kind, path, cs, headers, queries, clusters, mutation, timeout, notFound, retry);
        }
    }

    private static List<Route> variants() {
        List<Route> routes = new ArrayList<>(List.of(BASE,
                with(b -> b.name("other")),
                with(b -> b.path(Route.PathKind.PREFIX, "/api")),
                with(b -> b.path(Route.PathKind.SEPARATED_PREFIX, "/api")),
                with(b -> b.path(Route.PathKind.PATH, "/api")),
                with(b -> b.path(Route.PathKind.REGEX, "/api/[0-9]+")),
                with(b -> b.path(Route.PathKind.REGEX, "/api/[0-9]+").caseInsensitive()),
                with(b -> b.path(Route.PathKind.PATH, "/api").caseInsensitive()),
                with(b -> b.headers(new HeaderMatch("x-a", null, true, false))),
                with(b -> b.headers(new HeaderMatch("x-a", null, false, false))),
                with(b -> b.headers(new HeaderMatch("x-a", null, true, true))),
                with(b -> b.headers(new HeaderMatch("x-a", EXACT, true, false))),
                with(b -> b.headers(new HeaderMatch("x-a", EXACT, true, true))),
                with(b -> b.headers(new HeaderMatch(":method", EXACT, true, false), new HeaderMatch("x-a", EXACT, true, false))),
                with(b -> b.queries(new QueryMatch("v", null))),
                with(b -> b.queries(new QueryMatch("w", null))),
                with(b -> b.queries(new QueryMatch("v", EXACT), new QueryMatch("w", null))),
                with(b -> b.clusters(new WeightedCluster("ns/b", 1))),
                with(b -> b.clusters(new WeightedCluster("ns/a", 5))),
                with(b -> b.clusters(new WeightedCluster("ns/a", 90), new WeightedCluster("ns/b", 10))),
                with(b -> b.clusters(new WeightedCluster("ns/a", 100), new WeightedCluster("ns/b", 0))),
                with(b -> b.mutation(new HeaderMutation(List.of(Map.entry("x-env", "canary")), List.of(), List.of()))),
                with(b -> b.mutation(new HeaderMutation(List.of(), List.of(Map.entry("x-env", "canary")), List.of()))),
                with(b -> b.mutation(new HeaderMutation(List.of(), List.of(), List.of("x-env")))),
                with(b -> b.mutation(new HeaderMutation(List.of(Map.entry("x-a", "1"), Map.entry("x-b", "2")),
                        List.of(Map.entry("x-a", "3"), Map.entry("x-a", "4")), List.of("x-c", "x-d")))),
                with(b -> b.timeout(Duration.ofSeconds(15))),
                with(b -> b.timeout(Duration.ofMillis(1500))),
                with(b -> b.notFound(404)),
                with(b -> b.notFound(500)),
                with(b -> b.retry(new RetryPolicy(Set.of(), 1, Duration.ZERO, Set.of()))),
                with(b -> b.retry(new RetryPolicy(Set.of(), 0, Duration.ZERO, Set.of()))),
                with(b -> b.retry(new RetryPolicy(Set.of("5xx"), 1, Duration.ZERO, Set.of()))),
                with(b -> b.retry(new RetryPolicy(Set.of("unavailable", "reset", "cancelled"), 3, Duration.ZERO, Set.of()))),
                with(b -> b.retry(new RetryPolicy(Set.of(), 1, Duration.ofMillis(250), Set.of()))),
                with(b -> b.retry(new RetryPolicy(Set.of("retriable-status-codes"), 2, Duration.ofMillis(250), Set.of(409, 503)))),
                // retry_back_off: a base alone (max ten times it, as Envoy), and both
                with(b -> b.retry(new RetryPolicy(Set.of("5xx"), 2, Duration.ZERO, Set.of(),
                        RetryPolicy.BackOff.withBase(Duration.ofMillis(100))))),
                with(b -> b.retry(new RetryPolicy(Set.of("5xx"), 2, Duration.ZERO, Set.of(),
                        new RetryPolicy.BackOff(Duration.ofMillis(10), Duration.ofSeconds(2)))))));
        for (StringMatch.Kind kind : StringMatch.Kind.values()) {
            for (boolean ignoreCase : new boolean[] {false, true}) {
                StringMatch sm = new StringMatch(kind, "Ab", ignoreCase);
                routes.add(with(b -> b.headers(new HeaderMatch("x-a", sm, true, false))));
                routes.add(with(b -> b.queries(new QueryMatch("q", sm))));
            }
        }
        return routes;
    }

    private static RouteTable table(List<VirtualHost> hosts, Map<String, Cluster> clusters) {
        return new RouteTable(List.of(new ServiceRoutes("ns", "svc", 80, "10.96.0.10", "CiliumEnvoyConfig ns/svc", hosts)), clusters);
    }

    private static final Map<String, Cluster> CLUSTERS = Map.of(
            "ns/a", new Cluster("ns/a", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(5), List.of(new Endpoint("10.1.0.11", 8080, "ns/a-0")), true),
            "ns/b", new Cluster("ns/b", LbPolicy.LEAST_REQUEST, Duration.ofMillis(250),
                    List.of(new Endpoint("10.1.0.12", 8080, ""), new Endpoint("10.1.0.13", 8081, "ns/b-1")), false),
            "ns/c", new Cluster("ns/c", LbPolicy.RANDOM, Duration.ofSeconds(1), List.of(), false));

    @Test
    void everyValueOfEveryRouteFieldSurvivesXds() {
        List<Route> routes = variants();
        // One route per virtual host: each is read back on its own, in its place.
        List<VirtualHost> hosts = new ArrayList<>();
        for (int i = 0; i < routes.size(); i++) {
            hosts.add(new VirtualHost("vh" + i, List.of("host" + i), List.of(routes.get(i))));
        }
        XdsRoundTrip.assertSurvives(table(hosts, CLUSTERS));
        XdsRoundTrip.assertSurvives(table(List.of(new VirtualHost("all", List.of("*"), routes)), CLUSTERS));
    }

    @Test
    void everyFieldChangesWhatIsServed() {
        List<Route> routes = variants();
        assertEquals(routes.size(), new HashSet<>(routes).size(), "the variants differ");
        Set<io.envoyproxy.envoy.config.route.v3.Route> served = new HashSet<>();
        routes.forEach(r -> served.add(XdsResources.route(r)));
        assertEquals(routes.size(), served.size(), "two routes of the model were written the same");
    }

    @Test
    void whatEnvoyWouldReadIsWrittenAsEnvoyMeansIt() {
        var none = XdsResources.route(BASE).getRoute();
        // Unset would be Envoy's 15 s: "no timeout" is an explicit 0.
        assertTrue(none.hasTimeout());
        assertEquals(0, none.getTimeout().getSeconds());
        assertEquals(RouteAction.ClusterNotFoundResponseCode.SERVICE_UNAVAILABLE, none.getClusterNotFoundResponseCode());
        var r = XdsResources.route(with(b -> b.notFound(500).timeout(Duration.ofMillis(1500))
                .queries(new QueryMatch("version", EXACT), new QueryMatch("debug", null))
                .path(Route.PathKind.SEPARATED_PREFIX, "/api")
                .mutation(new HeaderMutation(List.of(Map.entry("x-env", "canary")), List.of(Map.entry("x-trace", "1")), List.of("x-debug")))
                .retry(new RetryPolicy(Set.of("unavailable", "5xx"), 2, Duration.ofMillis(500), Set.of(503)))));
        assertEquals("/api", r.getMatch().getPathSeparatedPrefix());
        assertEquals(RouteAction.ClusterNotFoundResponseCode.INTERNAL_SERVER_ERROR, r.getRoute().getClusterNotFoundResponseCode());
        assertEquals(1, r.getRoute().getTimeout().getSeconds());
        assertEquals(500_000_000, r.getRoute().getTimeout().getNanos());
        assertEquals(List.of(QueryParameterMatcher.newBuilder().setName("version")
                        .setStringMatch(io.envoyproxy.envoy.type.matcher.v3.StringMatcher.newBuilder().setExact("v")).build(),
                QueryParameterMatcher.newBuilder().setName("debug").setPresentMatch(true).build()), r.getMatch().getQueryParametersList());
        assertEquals(List.of(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD, HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD),
                r.getRequestHeadersToAddList().stream().map(HeaderValueOption::getAppendAction).toList());
        assertEquals(List.of("x-debug"), r.getRequestHeadersToRemoveList());
        assertEquals("5xx,unavailable", r.getRoute().getRetryPolicy().getRetryOn());
        assertEquals(2, r.getRoute().getRetryPolicy().getNumRetries().getValue());
        assertEquals(500_000_000, r.getRoute().getRetryPolicy().getPerTryTimeout().getNanos());
        assertEquals(List.of(503), r.getRoute().getRetryPolicy().getRetriableStatusCodesList());
        // Envoy ignores ignore_case with safe_regex: the expression carries it.
        var regex = XdsResources.route(with(b -> b.headers(new HeaderMatch("x-a", new StringMatch(StringMatch.Kind.REGEX, "ab", true), true, false))));
        assertEquals("(?i)ab", regex.getMatch().getHeaders(0).getStringMatch().getSafeRegex().getRegex());
    }

    @Test
    void virtualHostNamesEnvoyWouldRefuseAreRenamedAndReadBack() {
        Route r = BASE;
        RouteTable table = table(List.of(new VirtualHost("", List.of("a"), List.of(r)), new VirtualHost("dup", List.of("b"), List.of(r)),
                new VirtualHost("dup", List.of("c"), List.of(r)), new VirtualHost("", List.of("d"), List.of(r))), CLUSTERS);
        XdsRoundTrip.assertSurvives(table);
        RouteConfiguration rc = XdsResources.of(table, "10.1.0.1", Map.of("ns/svc:80", 15001)).routes().getFirst();
        assertEquals(List.of("default", "dup", "dup-2", "default-2"), rc.getVirtualHostsList().stream().map(v -> v.getName()).toList());
    }

    @Test
    void whatTheProxyCannotRunExactlyIsRefusedNotNarrowedOrBroadened() {
        XdsSnapshot good = XdsResources.of(table(List.of(new VirtualHost("vh", List.of("*"), List.of(BASE))), CLUSTERS),
                "10.1.0.1", Map.of("ns/svc:80", 15001));
        record Case(String expected, UnaryOperator<io.envoyproxy.envoy.config.route.v3.Route.Builder> change) {
        }
        List<Case> cases = List.of(
                new Case("retryPolicy.retryOn \"refused-stream\" is not supported; not retried on it", b -> b.setRoute(
                        b.getRoute().toBuilder().setRetryPolicy(io.envoyproxy.envoy.config.route.v3.RetryPolicy.newBuilder().setRetryOn("refused-stream")))),
                new Case("retryPolicy: only retryOn, numRetries, perTryTimeout, retriableStatusCodes and retryBackOff are supported; "
                        + "the rest is not applied (retries go to another backend when there is one)", b -> b.setRoute(b.getRoute().toBuilder().setRetryPolicy(
                        io.envoyproxy.envoy.config.route.v3.RetryPolicy.newBuilder().setRetryOn("5xx").setHostSelectionRetryMaxAttempts(3)))),
                new Case("retryPolicy.retryBackOff: retry back-off max interval (5 ms) must not be below its base interval (10 ms)",
                        b -> b.setRoute(b.getRoute().toBuilder().setRetryPolicy(io.envoyproxy.envoy.config.route.v3.RetryPolicy.newBuilder()
                                .setRetryOn("5xx").setRetryBackOff(io.envoyproxy.envoy.config.route.v3.RetryPolicy.RetryBackOff.newBuilder()
                                        .setBaseInterval(com.google.protobuf.Duration.newBuilder().setNanos(10_000_000))
                                        .setMaxInterval(com.google.protobuf.Duration.newBuilder().setNanos(5_000_000)))))),
                new Case("request headers: append action ADD_IF_ABSENT of x-a is not supported", b -> b.addRequestHeadersToAdd(
                        HeaderValueOption.newBuilder().setHeader(io.envoyproxy.envoy.config.core.v3.HeaderValue.newBuilder().setKey("x-a").setValue("1"))
                                .setAppendAction(HeaderValueOption.HeaderAppendAction.ADD_IF_ABSENT))),
                new Case("request headers: header \":path\" cannot be modified", b -> b.addRequestHeadersToRemove(":path")),
                new Case("query match on q: present_match false is not supported", b -> b.setMatch(b.getMatch().toBuilder()
                        .addQueryParameters(QueryParameterMatcher.newBuilder().setName("q").setPresentMatch(false)))),
                new Case("path match PATH_MATCH_POLICY is not supported", b -> b.setMatch(b.getMatch().toBuilder()
                        .setPathMatchPolicy(io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig.newBuilder().setName("x")))));
        for (Case c : cases) {
            RouteConfiguration rc = good.routes().getFirst();
            var vh = rc.getVirtualHosts(0);
            RouteConfiguration bad = rc.toBuilder().setVirtualHosts(0, vh.toBuilder().setRoutes(0, c.change().apply(vh.getRoutes(0).toBuilder()))).build();
            XdsSnapshot snapshot = new XdsSnapshot(good.listeners(), List.of(bad), good.clusters(), good.endpoints());
            XdsException e = assertThrows(XdsException.class, () -> XdsRouteTable.toProxyConfig(snapshot), c.expected());
            assertEquals("RouteConfiguration ns/svc:80 virtual_host vh route base: " + c.expected(), e.getMessage());
        }
    }

    @Test
    void aRouteThatAnswersAMissingClusterItselfDoesNotHoldTheSetBack() {
        Route gateway = with(b -> b.notFound(500).clusters(new WeightedCluster("ns/unresolved", 1)));
        Route cec = with(b -> b.clusters(new WeightedCluster("ns/unserved", 1)));
        XdsSnapshot s = XdsResources.of(table(List.of(new VirtualHost("vh", List.of("*"), List.of(gateway, cec))), CLUSTERS),
                "10.1.0.1", Map.of("ns/svc:80", 15001));
        // A 503 route waits for its cluster (Envoy warms it); a 500 one names a backend that does not exist, on purpose.
        assertEquals(List.of("Cluster ns/unserved"), XdsRouteTable.missing(s));
    }
}
