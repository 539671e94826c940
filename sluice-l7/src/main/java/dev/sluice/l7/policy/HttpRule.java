package dev.sluice.l7.policy;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One HTTP rule of an L7 policy as the proxy applies it (CiliumNetworkPolicy {@code toPorts.rules.http[i]}): plain
 * strings, so that the decision can cross a process boundary; the agent translates the policy module's rules into
 * these. A request matches when every condition set holds; method, path and host are regular expressions matched
 * against the whole value.
 *
 * @param method regex for the method, or null for any
 * @param path regex for {@code :path} as sent (query included), or null for any
 * @param host regex for {@code :authority} (HTTP/1.1: Host), or null for any
 * @param headers headers the request must carry (a null value: present with any value)
 * @param policy the policy and rule it comes from ({@code CiliumNetworkPolicy default/web spec.ingress[0]...http[1]}),
 *               named by denials
 */
public record HttpRule(String method, String path, String host, List<Header> headers, String policy) {
    /** Regexes compiled once: the same few rules are matched on every request. */
    private static final Map<String, Pattern> COMPILED = new ConcurrentHashMap<>();

    public record Header(String name, String value) {
        public Header {
            name = Objects.requireNonNull(name, "name").toLowerCase(Locale.ROOT);
        }
    }

    public HttpRule {
        headers = List.copyOf(headers);
        Objects.requireNonNull(policy, "policy");
        for (String regex : new String[] {method, path, host}) {
            if (regex != null) {
                compiled(regex); // refuse a bad one here, not on a request
            }
        }
    }

    /** Any request. */
    public static HttpRule any(String policy) {
        return new HttpRule(null, null, null, List.of(), policy);
    }

    /** @param header every value of a request header, by lower-case name (empty when absent) */
    public boolean matches(String requestMethod, String requestPath, String authority, Function<String, List<String>> header) {
        return full(method, requestMethod) && full(path, requestPath) && full(host, authority)
                && headers.stream().allMatch(h -> {
                    List<String> values = header.apply(h.name());
                    return h.value() == null ? !values.isEmpty() : values.contains(h.value());
                });
    }

    private static boolean full(String regex, String value) {
        return regex == null || compiled(regex).matcher(value == null ? "" : value).matches();
    }

    private static Pattern compiled(String regex) {
        Pattern p = COMPILED.get(regex);
        if (p == null) {
            p = Pattern.compile(regex);
            if (COMPILED.size() < 10_000) { // bounded: policies churn, the cache must not grow with them forever
                COMPILED.put(regex, p);
            }
        }
        return p;
    }
}
