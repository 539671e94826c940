package dev.sluice.policy;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * Addresses outside the cluster in {@code cidr} but in none of {@code except}. Cilium matches CIDRs only against
 * traffic that has no other identity: pods, the host and other nodes are never matched by a CIDR, even one that
 * covers their addresses.
 */
public record CidrRule(Cidr cidr, List<Cidr> except) implements PeerMatch {
    public CidrRule {
        Objects.requireNonNull(cidr, "cidr");
        except = List.copyOf(except);
        for (Cidr excluded : except) {
            if (!cidr.contains(excluded)) {
                throw new IllegalArgumentException(excluded + " is not within " + cidr);
            }
        }
    }

    public boolean matches(InetAddress address) {
        return cidr.contains(address) && except.stream().noneMatch(excluded -> excluded.contains(address));
    }

    @Override
    public String toString() {
        return except.isEmpty() ? cidr.toString() : cidr + " except " + except;
    }
}
