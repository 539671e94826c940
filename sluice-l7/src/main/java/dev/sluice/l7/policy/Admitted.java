package dev.sluice.l7.policy;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The proxy's answer from policy for one client and one backend: whether the client may reach the backend at all
 * (the L4 part, judged by its identity as the datapath would a direct connection), and if so which HTTP rules
 * restrict what it may send (any one allows a request; none means any request). A plain record, so that it can be
 * carried from the agent to a proxy in another process.
 *
 * @param reason why not, when not allowed (naming the policy); else a short why
 */
public record Admitted(boolean allowed, String reason, List<HttpRule> httpRules) {
    /** No policy restricts anything. */
    public static final Admitted ANY_REQUEST = new Admitted(true, "no L7 policy", List.of());

    public Admitted {
        Objects.requireNonNull(reason, "reason");
        httpRules = List.copyOf(httpRules);
        if (!allowed && !httpRules.isEmpty()) {
            throw new IllegalArgumentException("a client denied at L4 has no HTTP rules to apply");
        }
    }

    public static Admitted denied(String reason) {
        return new Admitted(false, reason, List.of());
    }

    /**
     * Why this request is denied by the HTTP rules, or empty when it may pass (or no rule restricts the client).
     * The reason names the policies whose rules apply, since none of them allowed it.
     */
    public Optional<String> denies(String method, String path, String authority, Function<String, List<String>> header) {
        if (httpRules.isEmpty() || httpRules.stream().anyMatch(r -> r.matches(method, path, authority, header))) {
            return Optional.empty();
        }
        return Optional.of(method + " " + path + " is not allowed by the HTTP rules of "
                + httpRules.stream().map(HttpRule::policy).map(Admitted::policyOnly).distinct().collect(Collectors.joining(", ")));
    }

    /** {@code CiliumNetworkPolicy ns/name spec.ingress[0]...} -> {@code CiliumNetworkPolicy ns/name}. */
    private static String policyOnly(String origin) {
        String[] words = origin.split(" ");
        return words.length >= 3 ? words[0] + " " + words[1] : origin;
    }
}
