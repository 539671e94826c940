package dev.sluice.l7.envoy;

import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.QueryMatch;
import dev.sluice.l7.route.RetryPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.StringMatch;
import dev.sluice.l7.route.WeightedCluster;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.PatternSyntaxException;

/**
 * Envoy v3 route and cluster protos to the proxy's route model: the one conversion both readers of Envoy config
 * use, {@link L7Compiler} (a CiliumEnvoyConfig or a Gateway API translation, where what Sluice cannot run is warned
 * about and left out) and {@code XdsRouteTable} (what the proxy is served over xDS, where it is refused and NACKed).
 * The two differ only in what they do with an {@link Unsupported} and with a {@link Lossy} part.
 *
 * <p>Envoy's defaults are applied here, once: a route without {@code timeout} gets 15 s (0 is none), a retry policy
 * without {@code num_retries} retries once, a cluster without {@code connect_timeout} gets 5 s.
 */
public final class RouteProtos {
    /** Envoy's route timeout when a route sets none. */
    public static final Duration DEFAULT_ROUTE_TIMEOUT = Duration.ofSeconds(15);
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** The typed_extension_protocol_options key that says how a cluster speaks to its backends. */
    public static final String HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

    private RouteProtos() {
    }

    /** Something a route or cluster asks for that the proxy cannot do: the route (or resource) cannot be run as written. */
    public static final class Unsupported extends Exception {
        public Unsupported(String message) {
            super(message);
        }
    }

    /**
     * What is done with a part of a route the proxy can run without (a retry condition, a back-off): the compiler
     * warns and runs the rest; the xDS reader refuses, since what the agent serves never holds one.
     */
    @FunctionalInterface
    public interface Lossy {
        void drop(String what) throws Unsupported;
    }

    /** The xDS reader's {@link Lossy}: nothing is dropped silently. */
    public static final Lossy REFUSE = what -> {
        throw new Unsupported(what);
    };

    /** The route a proto route stands for, named {@code name}; cluster resolution is the caller's. */
    public static Route route(String name, io.envoyproxy.envoy.config.route.v3.Route r, Lossy lossy) throws Unsupported {
        RouteMatch m = r.getMatch();
        Route.PathKind kind;
        String path;
        switch (m.getPathSpecifierCase()) {
            case PREFIX -> { kind = Route.PathKind.PREFIX; path = m.getPrefix(); }
            case PATH -> { kind = Route.PathKind.PATH; path = m.getPath(); }
            case SAFE_REGEX -> { kind = Route.PathKind.REGEX; path = m.getSafeRegex().getRegex(); }
            case PATH_SEPARATED_PREFIX -> { kind = Route.PathKind.SEPARATED_PREFIX; path = m.getPathSeparatedPrefix(); }
            default -> throw new Unsupported("path match " + m.getPathSpecifierCase() + " is not supported");
        }
        boolean caseSensitive = !m.hasCaseSensitive() || m.getCaseSensitive().getValue();
        List<HeaderMatch> headers = new ArrayList<>();
        for (HeaderMatcher h : m.getHeadersList()) {
            headers.add(header(h));
        }
        List<QueryMatch> queries = new ArrayList<>();
        for (QueryParameterMatcher q : m.getQueryParametersList()) {
            queries.add(query(q));
        }
        if (m.hasGrpc() || m.hasRuntimeFraction() || m.getDynamicMetadataCount() > 0 || m.hasTlsContext()) {
            throw new Unsupported("gRPC, runtime, dynamic metadata and TLS matches are not supported");
        }
        HeaderMutation mutation = mutation(r);
        if (r.getActionCase() != io.envoyproxy.envoy.config.route.v3.Route.ActionCase.ROUTE) {
            throw new Unsupported("action " + r.getActionCase() + " is not supported");
        }
        RouteAction action = r.getRoute();
        List<WeightedCluster> targets = new ArrayList<>();
        switch (action.getClusterSpecifierCase()) {
            case CLUSTER -> targets.add(new WeightedCluster(action.getCluster(), 1));
            case WEIGHTED_CLUSTERS -> {
                for (var c : action.getWeightedClusters().getClustersList()) {
                    targets.add(new WeightedCluster(c.getName(), c.hasWeight() ? c.getWeight().getValue() : 0));
                }
            }
            default -> throw new Unsupported("cluster specifier " + action.getClusterSpecifierCase() + " is not supported");
        }
        if (targets.stream().mapToInt(WeightedCluster::weight).sum() == 0) {
            throw new Unsupported("the weights of its clusters add up to 0");
        }
        int notFound = switch (action.getClusterNotFoundResponseCode()) {
            case SERVICE_UNAVAILABLE -> 503;
            case NOT_FOUND -> 404;
            case INTERNAL_SERVER_ERROR -> 500;
            default -> throw new Unsupported("cluster_not_found_response_code " + action.getClusterNotFoundResponseCodeValue()
                    + " is not supported");
        };
        RetryPolicy retry = action.hasRetryPolicy() ? retryPolicy(action.getRetryPolicy(), lossy) : null;
        // Envoy's default route timeout is 15 s; an explicit 0 disables it (the model's ZERO).
        Duration timeout = action.hasTimeout() ? duration(action.getTimeout()) : DEFAULT_ROUTE_TIMEOUT;
        try {
            return new Route(name, kind, path, caseSensitive, headers, queries, targets, mutation, timeout, notFound, retry);
        } catch (PatternSyntaxException e) {
            throw new Unsupported("safe_regex: " + e.getDescription());
        } catch (IllegalArgumentException e) {
            throw new Unsupported(e.getMessage());
        }
    }

    /**
     * The retry policy's conditions Sluice implements; another condition, and the policy's other fields (back-off,
     * host predicates, ...), are {@link Lossy}: the compiler retries without them.
     */
    static RetryPolicy retryPolicy(io.envoyproxy.envoy.config.route.v3.RetryPolicy p, Lossy lossy) throws Unsupported {
        Set<String> on = new LinkedHashSet<>();
        for (String condition : p.getRetryOn().split(",")) {
            String c = condition.strip();
            if (c.isEmpty()) {
                continue;
            }
            if (RetryPolicy.CONDITIONS.contains(c)) {
                on.add(c);
            } else {
                lossy.drop("retryPolicy.retryOn \"" + c + "\" is not supported; not retried on it");
            }
        }
        if (p.getRetryHostPredicateCount() > 0 || p.hasRetryPriority()
                || p.getRetriableHeadersCount() > 0 || p.getRetriableRequestHeadersCount() > 0 || p.hasRateLimitedRetryBackOff()
                || p.getHostSelectionRetryMaxAttempts() != 0 || p.hasPerTryIdleTimeout()) {
            lossy.drop("retryPolicy: only retryOn, numRetries, perTryTimeout, retriableStatusCodes and retryBackOff are "
                    + "supported; the rest is not applied (retries go to another backend when there is one)");
        }
        Duration perTry = p.hasPerTryTimeout() ? duration(p.getPerTryTimeout()) : Duration.ZERO;
        // Envoy's default number of retries when a policy is given is 1.
        int retries = p.hasNumRetries() ? p.getNumRetries().getValue() : 1;
        RetryPolicy.BackOff backOff = RetryPolicy.BackOff.ENVOY_DEFAULT;
        if (p.hasRetryBackOff()) {
            Duration base = duration(p.getRetryBackOff().getBaseInterval());
            try {
                backOff = p.getRetryBackOff().hasMaxInterval()
                        ? new RetryPolicy.BackOff(base, duration(p.getRetryBackOff().getMaxInterval()))
                        : RetryPolicy.BackOff.withBase(base);
            } catch (IllegalArgumentException e) {
                throw new Unsupported("retryPolicy.retryBackOff: " + e.getMessage());
            }
        }
        return new RetryPolicy(on, retries, perTry, new HashSet<>(p.getRetriableStatusCodesList()), backOff);
    }

    /** Route-level request header changes: remove, then set (OVERWRITE_IF_EXISTS_OR_ADD), then add (append). */
    static HeaderMutation mutation(io.envoyproxy.envoy.config.route.v3.Route r) throws Unsupported {
        List<Map.Entry<String, String>> set = new ArrayList<>();
        List<Map.Entry<String, String>> add = new ArrayList<>();
        for (HeaderValueOption o : r.getRequestHeadersToAddList()) {
            if (o.getAppendAction() == HeaderValueOption.HeaderAppendAction.ADD_IF_ABSENT
                    || o.getAppendAction() == HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS
                    || o.getAppendAction() == HeaderValueOption.HeaderAppendAction.UNRECOGNIZED) {
                throw new Unsupported("request headers: append action " + o.getAppendAction() + " of "
                        + o.getHeader().getKey() + " is not supported");
            }
            if (o.getKeepEmptyValue() || !o.getHeader().getRawValue().isEmpty()) {
                throw new Unsupported("request headers: keep_empty_value and raw_value of " + o.getHeader().getKey()
                        + " are not supported");
            }
            boolean append = o.hasAppend() ? o.getAppend().getValue()
                    : o.getAppendAction() == HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD;
            (append ? add : set).add(Map.entry(o.getHeader().getKey(), o.getHeader().getValue()));
        }
        try {
            return new HeaderMutation(set, add, r.getRequestHeadersToRemoveList());
        } catch (IllegalArgumentException e) {
            throw new Unsupported("request headers: " + e.getMessage());
        }
    }

    static HeaderMatch header(HeaderMatcher h) throws Unsupported {
        boolean invert = h.getInvertMatch();
        if (h.getTreatMissingHeaderAsEmpty()) {
            throw new Unsupported("header match on " + h.getName() + ": treat_missing_header_as_empty is not supported");
        }
        try {
            return switch (h.getHeaderMatchSpecifierCase()) {
                case EXACT_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.EXACT, h.getExactMatch(), false), true, invert);
                case PREFIX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.PREFIX, h.getPrefixMatch(), false), true, invert);
                case SUFFIX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.SUFFIX, h.getSuffixMatch(), false), true, invert);
                case CONTAINS_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.CONTAINS, h.getContainsMatch(), false), true, invert);
                case SAFE_REGEX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.REGEX, h.getSafeRegexMatch().getRegex(), false), true, invert);
                case PRESENT_MATCH -> new HeaderMatch(h.getName(), null, h.getPresentMatch(), invert);
                case STRING_MATCH -> new HeaderMatch(h.getName(), stringMatch("header", h.getName(), h.getStringMatch()), true, invert);
                case HEADERMATCHSPECIFIER_NOT_SET -> new HeaderMatch(h.getName(), null, true, invert);
                default -> throw new Unsupported("header match on " + h.getName() + " (" + h.getHeaderMatchSpecifierCase()
                        + ") is not supported");
            };
        } catch (PatternSyntaxException e) {
            throw new Unsupported("header match on " + h.getName() + ": regex: " + e.getDescription());
        }
    }

    static QueryMatch query(QueryParameterMatcher q) throws Unsupported {
        try {
            return switch (q.getQueryParameterMatchSpecifierCase()) {
                case STRING_MATCH -> new QueryMatch(q.getName(), stringMatch("query", q.getName(), q.getStringMatch()));
                case PRESENT_MATCH -> {
                    if (!q.getPresentMatch()) {
                        // Envoy's present_match: false matches nothing useful; Sluice has no "absent" query match.
                        throw new Unsupported("query match on " + q.getName() + ": present_match false is not supported");
                    }
                    yield new QueryMatch(q.getName(), null);
                }
                case QUERYPARAMETERMATCHSPECIFIER_NOT_SET -> new QueryMatch(q.getName(), null);
            };
        } catch (PatternSyntaxException e) {
            throw new Unsupported("query match on " + q.getName() + ": regex: " + e.getDescription());
        }
    }

    private static StringMatch stringMatch(String what, String name, StringMatcher s) throws Unsupported {
        boolean ic = s.getIgnoreCase();
        return switch (s.getMatchPatternCase()) {
            case EXACT -> new StringMatch(StringMatch.Kind.EXACT, s.getExact(), ic);
            case PREFIX -> new StringMatch(StringMatch.Kind.PREFIX, s.getPrefix(), ic);
            case SUFFIX -> new StringMatch(StringMatch.Kind.SUFFIX, s.getSuffix(), ic);
            case CONTAINS -> new StringMatch(StringMatch.Kind.CONTAINS, s.getContains(), ic);
            // Envoy ignores ignore_case for safe_regex; a case-insensitive regex is written with RE2's (?i), which
            // StringMatch reads as ignoreCase.
            case SAFE_REGEX -> new StringMatch(StringMatch.Kind.REGEX, s.getSafeRegex().getRegex(), ic);
            default -> throw new Unsupported(what + " match on " + name + " (" + s.getMatchPatternCase() + ") is not supported");
        };
    }

    /** RE2's (and Java's) flag for a case-insensitive expression. */
    public static final String INSENSITIVE = "(?i)";

    public static LbPolicy lbPolicy(Cluster c) throws Unsupported {
        return switch (c.getLbPolicy()) {
            case ROUND_ROBIN -> LbPolicy.ROUND_ROBIN;
            case LEAST_REQUEST -> LbPolicy.LEAST_REQUEST;
            case RANDOM -> LbPolicy.RANDOM;
            default -> throw new Unsupported("lb_policy " + c.getLbPolicy() + " is not supported");
        };
    }

    /**
     * The cluster's {@code outlier_detection}: consecutive 5xx, base ejection time and max ejection percent, with
     * Envoy's defaults (5, 30 s, 10 %); null without one, or when its 5xx detection is not enforced
     * ({@code enforcing_consecutive_5xx: 0}). Its other detectors (gateway failures, success rate, failure
     * percentage, local-origin splitting) are not run.
     */
    public static dev.sluice.l7.route.OutlierDetection outlierDetection(Cluster c) throws Unsupported {
        if (!c.hasOutlierDetection()) {
            return null;
        }
        var o = c.getOutlierDetection();
        if (o.hasEnforcingConsecutive5Xx() && o.getEnforcingConsecutive5Xx().getValue() == 0) {
            return null;
        }
        try {
            return new dev.sluice.l7.route.OutlierDetection(o.hasConsecutive5Xx() ? o.getConsecutive5Xx().getValue() : 5,
                    o.hasBaseEjectionTime() ? duration(o.getBaseEjectionTime()) : Duration.ofSeconds(30),
                    o.hasMaxEjectionPercent() ? o.getMaxEjectionPercent().getValue() : 10);
        } catch (IllegalArgumentException e) {
            throw new Unsupported("outlier_detection: " + e.getMessage());
        }
    }

    public static Duration connectTimeout(Cluster c) {
        return c.hasConnectTimeout() ? duration(c.getConnectTimeout()) : DEFAULT_CONNECT_TIMEOUT;
    }

    /** Whether the cluster speaks HTTP/2 to its backends. */
    public static boolean http2(Cluster c) {
        return c.hasHttp2ProtocolOptions() || c.containsTypedExtensionProtocolOptions(HTTP_PROTOCOL_OPTIONS);
    }

    public static Duration duration(com.google.protobuf.Duration d) {
        return Duration.ofSeconds(d.getSeconds(), d.getNanos());
    }

    public static com.google.protobuf.Duration duration(Duration d) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }
}
