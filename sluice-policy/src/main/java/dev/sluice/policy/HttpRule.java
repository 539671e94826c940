package dev.sluice.policy;

import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One entry of a port rule's {@code rules.http}: a request is allowed by it when every condition it sets holds.
 * Method, path and host are extended regular expressions matched against the whole value (anchored, as Cilium's
 * Envoy filter does; Java's regex syntax stands in for POSIX ERE / RE2, which agree on what policies use);
 * a condition left out matches anything.
 *
 * @param rule where it is written ({@code spec.ingress[0].toPorts[0].rules.http[1]}), named by denials
 * @param method the request method, or null for any
 * @param path {@code :path} as sent, query included (what Envoy matches Cilium's path against), or null for any
 * @param host {@code :authority} (the Host header), or null for any
 * @param headers every one must hold ({@code headers} and {@code headerMatches} together)
 */
public record HttpRule(String rule, Pattern method, Pattern path, Pattern host, List<HeaderRule> headers) {
    public HttpRule {
        Objects.requireNonNull(rule, "rule");
        headers = List.copyOf(headers);
    }

    /**
     * A header the request must carry: with {@code value} null it must be present, else one of its values must equal
     * {@code value}. Names compare without regard to case, as HTTP's do.
     */
    public record HeaderRule(String name, String value) {
        public HeaderRule {
            Objects.requireNonNull(name, "name");
            name = name.toLowerCase(Locale.ROOT);
        }

        boolean matches(HttpRequest request) {
            List<String> values = request.header(name);
            return value == null ? !values.isEmpty() : values.contains(value);
        }

        @Override
        public String toString() {
            return value == null ? name : name + ": " + value;
        }
    }

    public boolean matches(HttpRequest request) {
        return (method == null || method.matcher(request.method()).matches())
                && (path == null || path.matcher(request.path()).matches())
                && (host == null || host.matcher(request.host()).matches())
                && headers.stream().allMatch(h -> h.matches(request));
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("{");
        if (method != null) {
            s.append("method: ").append(method.pattern()).append(", ");
        }
        if (path != null) {
            s.append("path: ").append(path.pattern()).append(", ");
        }
        if (host != null) {
            s.append("host: ").append(host.pattern()).append(", ");
        }
        if (!headers.isEmpty()) {
            s.append("headers: ").append(headers).append(", ");
        }
        return (s.length() > 1 ? s.substring(0, s.length() - 2) : s) + "}";
    }
}
