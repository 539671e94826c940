package dev.sluice.l7.route;

import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One route: a path condition, header conditions, and the clusters the request goes to.
 *
 * @param pathKind PREFIX ("/" matches everything), PATH (the whole path, query excluded) or REGEX
 * @param clusters one entry with any weight for a single cluster
 */
public record Route(String name, PathKind pathKind, String path, boolean caseSensitive, List<HeaderMatch> headers,
                    List<WeightedCluster> clusters) {
    public enum PathKind { PREFIX, PATH, REGEX }

    public Route {
        Objects.requireNonNull(pathKind, "pathKind");
        Objects.requireNonNull(path, "path");
        headers = List.copyOf(headers);
        clusters = List.copyOf(clusters);
        if (clusters.isEmpty()) {
            throw new IllegalArgumentException("a route needs a cluster");
        }
        if (pathKind == PathKind.REGEX) {
            Pattern.compile(path);
        }
    }

    /** @param requestPath {@code :path}, with its query, which path conditions ignore */
    public boolean matches(String requestPath, Function<String, String> requestHeaders) {
        String p = requestPath == null ? "" : requestPath;
        int query = p.indexOf('?');
        if (query >= 0) {
            p = p.substring(0, query);
        }
        String candidate = caseSensitive ? p : p.toLowerCase(Locale.ROOT);
        String want = caseSensitive ? path : path.toLowerCase(Locale.ROOT);
        boolean pathOk = switch (pathKind) {
            case PREFIX -> candidate.startsWith(want);
            case PATH -> candidate.equals(want);
            case REGEX -> Pattern.compile(path, caseSensitive ? 0 : Pattern.CASE_INSENSITIVE).matcher(p).matches();
        };
        return pathOk && headers.stream().allMatch(h -> h.matches(requestHeaders));
    }

    public int totalWeight() {
        return clusters.stream().mapToInt(WeightedCluster::weight).sum();
    }
}
