package dev.sluice.policy;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * Addresses in {@code cidr} but in none of {@code except}.
 *
 * <p>Which peers that takes in depends on who wrote it. Cilium matches CIDRs only against traffic that has no
 * other identity: pods, the host and other nodes are never matched by a CIDR, even one that covers their
 * addresses ({@code selectsPods} false, CiliumNetworkPolicy's default). Kubernetes' NetworkPolicy says an
 * {@code ipBlock} selects by address, whatever is at the address, so its CIDRs also match pods whose address
 * they cover ({@code selectsPods} true; a CiliumNetworkPolicy opts in with the annotation
 * {@value #SELECTS_PODS_ANNOTATION}). The nodes' own addresses stay reserved identities either way (README,
 * "Network policy").
 */
public record CidrRule(Cidr cidr, List<Cidr> except, boolean selectsPods) implements PeerMatch {
    /** The annotation by which a CiliumNetworkPolicy asks for NetworkPolicy's reading of its CIDRs. */
    public static final String SELECTS_PODS_ANNOTATION = "policy.sluice.dev/cidr-selects-pods";

    public CidrRule {
        Objects.requireNonNull(cidr, "cidr");
        except = List.copyOf(except);
        for (Cidr excluded : except) {
            if (!cidr.contains(excluded)) {
                throw new IllegalArgumentException(excluded + " is not within " + cidr);
            }
        }
    }

    /** Cilium's reading: addresses outside the cluster only. */
    public CidrRule(Cidr cidr, List<Cidr> except) {
        this(cidr, except, false);
    }

    public boolean matches(InetAddress address) {
        return cidr.contains(address) && except.stream().noneMatch(excluded -> excluded.contains(address));
    }

    /** Whether it takes in this pod: only a rule that selects pods, by the pod's address. */
    public boolean matches(Endpoint pod) {
        return selectsPods && pod.address() != null && matches(pod.address());
    }

    @Override
    public String toString() {
        return (except.isEmpty() ? cidr.toString() : cidr + " except " + except) + (selectsPods ? " (pods too)" : "");
    }
}
