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
 * <p>Identity-preserving forwarding (docs/l7.md, "Identity-preserving forwarding"): when {@code clientSource} is
 * set, the proxy opens its connection to the backend from the client's own address, so the backend's datapath
 * judges the client by its identity (ipcache) as it would a direct connection, and the L4 decision is the
 * kernel's, not the proxy's. {@code datapathDrop} then says, when not empty, that the agent expects the backend's
 * datapath to drop the connection and why: the proxy still connects (the kernel decides, and reports the drop with
 * the client's identity), waits only briefly, and answers the client with that reason if the connect fails.
 *
 * @param reason why not, when not allowed (naming the policy); else a short why
 * @param clientSource connect from the client's address (IP_TRANSPARENT) rather than the node's
 * @param datapathDrop when {@code clientSource}: why the backend's datapath is expected to drop the client; else empty
 */
public record Admitted(boolean allowed, String reason, List<HttpRule> httpRules, boolean clientSource, String datapathDrop) {
    /** No policy restricts anything. */
    public static final Admitted ANY_REQUEST = new Admitted(true, "no L7 policy", List.of());

    public Admitted {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(datapathDrop, "datapathDrop");
        httpRules = List.copyOf(httpRules);
        if (!allowed && !httpRules.isEmpty()) {
            throw new IllegalArgumentException("a client denied at L4 has no HTTP rules to apply");
        }
        if (!datapathDrop.isEmpty() && (!clientSource || !allowed || !httpRules.isEmpty())) {
            throw new IllegalArgumentException("an expected datapath drop needs a client-source connection without HTTP rules");
        }
    }

    /** Forwarded from the node's address: the proxy decides L4 for the backend (no identity reaches it). */
    public Admitted(boolean allowed, String reason, List<HttpRule> httpRules) {
        this(allowed, reason, httpRules, false, "");
    }

    /** Forwarded from the client's address: the backend's datapath decides L4 by the client's identity. */
    public static Admitted fromClient(String reason, String datapathDrop) {
        return new Admitted(true, reason, List.of(), true, datapathDrop);
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
