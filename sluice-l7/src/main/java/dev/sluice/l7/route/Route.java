package dev.sluice.l7.route;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One route: a path condition, header and query conditions, and the clusters the request goes to, with what is
 * done to it on the way.
 *
 * @param pathKind PREFIX ("/" matches everything), SEPARATED_PREFIX (whole path segments: {@code /a} matches
 *                 {@code /a} and {@code /a/b}, not {@code /ab}; Envoy's {@code path_separated_prefix}, Gateway
 *                 API's PathPrefix), PATH (the whole path, query excluded) or REGEX
 * @param clusters one entry with any weight for a single cluster
 * @param requestHeaders header changes before the request is forwarded
 * @param timeout how long the response may take once the request has ended (Envoy's route {@code timeout});
 *                zero for none
 * @param clusterNotFoundStatus the HTTP status when the chosen cluster is not configured (Envoy's
 *                              {@code cluster_not_found_response_code}: 503 by default, 500 for a Gateway API
 *                              backendRef that does not resolve)
 * @param retry when a request that failed is tried again, or null: only connect failures are retried
 */
public record Route(String name, PathKind pathKind, String path, boolean caseSensitive, List<HeaderMatch> headers,
                    List<QueryMatch> queryParams, List<WeightedCluster> clusters, HeaderMutation requestHeaders,
                    Duration timeout, int clusterNotFoundStatus, RetryPolicy retry) {
    public enum PathKind { PREFIX, SEPARATED_PREFIX, PATH, REGEX }

    public Route {
        Objects.requireNonNull(pathKind, "pathKind");
        Objects.requireNonNull(path, "path");
        headers = List.copyOf(headers);
        queryParams = List.copyOf(queryParams);
        clusters = List.copyOf(clusters);
        requestHeaders = requestHeaders == null ? HeaderMutation.NONE : requestHeaders;
        timeout = timeout == null ? Duration.ZERO : timeout;
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, got " + timeout);
        }
        if (clusterNotFoundStatus != 503 && clusterNotFoundStatus != 404 && clusterNotFoundStatus != 500) {
            // The three statuses Envoy's cluster_not_found_response_code can say.
            throw new IllegalArgumentException("clusterNotFoundStatus must be 503, 404 or 500, got " + clusterNotFoundStatus);
        }
        if (clusters.isEmpty()) {
            throw new IllegalArgumentException("a route needs a cluster");
        }
        if (pathKind == PathKind.REGEX) {
            Pattern.compile(path);
        }
    }

    /** A route with path and header conditions only, no header changes and no timeout. */
    public Route(String name, PathKind pathKind, String path, boolean caseSensitive, List<HeaderMatch> headers,
                 List<WeightedCluster> clusters) {
        this(name, pathKind, path, caseSensitive, headers, List.of(), clusters, HeaderMutation.NONE, Duration.ZERO, 503, null);
    }

    /** @param requestPath {@code :path}, with its query, which path conditions ignore and query conditions read */
    public boolean matches(String requestPath, Function<String, String> requestHeaders) {
        String full = requestPath == null ? "" : requestPath;
        String p = full;
        int query = p.indexOf('?');
        if (query >= 0) {
            p = p.substring(0, query);
        }
        String candidate = caseSensitive ? p : p.toLowerCase(Locale.ROOT);
        String want = caseSensitive ? path : path.toLowerCase(Locale.ROOT);
        boolean pathOk = switch (pathKind) {
            case PREFIX -> candidate.startsWith(want);
            case SEPARATED_PREFIX -> {
                // Envoy's path_separated_prefix has no trailing slash; Gateway API ignores one.
                String base = want.endsWith("/") ? want.substring(0, want.length() - 1) : want;
                yield base.isEmpty() || candidate.equals(base) || candidate.startsWith(base + "/");
            }
            case PATH -> candidate.equals(want);
            case REGEX -> Pattern.compile(path, caseSensitive ? 0 : Pattern.CASE_INSENSITIVE).matcher(p).matches();
        };
        return pathOk && headers.stream().allMatch(h -> h.matches(requestHeaders))
                && queryParams.stream().allMatch(q -> q.matches(full));
    }

    public int totalWeight() {
        return clusters.stream().mapToInt(WeightedCluster::weight).sum();
    }
}
