package dev.sluice.policy;

import java.net.Inet4Address;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/** The other side of a connection: a pod, a reserved entity, or an address outside the cluster. */
public sealed interface Peer permits Endpoint, Peer.Reserved, Peer.External {
    /** The labels selectors and entities are matched against. */
    Labels labels();

    /**
     * A peer known only by its reserved identity: the host, another node, the health endpoint, ... or
     * {@link ReservedIdentity#WORLD} for an outside address the caller does not give.
     */
    record Reserved(ReservedIdentity identity) implements Peer {
        /** Identities traffic never carries in an IPv4-only cluster. */
        private static final Set<ReservedIdentity> NOT_PEERS =
                EnumSet.of(ReservedIdentity.UNKNOWN, ReservedIdentity.WORLD_IPV4, ReservedIdentity.WORLD_IPV6);

        public Reserved {
            Objects.requireNonNull(identity, "identity");
            if (NOT_PEERS.contains(identity)) {
                throw new IllegalArgumentException(identity.label() + " is not a peer in an IPv4-only cluster");
            }
        }

        @Override
        public Labels labels() {
            return identity.identity().labels();
        }

        @Override
        public String toString() {
            return "reserved:" + identity.label();
        }
    }

    /**
     * An IPv4 address outside the cluster. It is the world to entities and selectors, and CIDR rules match it by
     * address.
     */
    record External(Inet4Address address) implements Peer {
        public External {
            Objects.requireNonNull(address, "address");
        }

        /** {@code 203.0.113.7}: dotted-quad only, never resolved through DNS. */
        public static External of(String address) {
            if (!(Cidr.address(address) instanceof Inet4Address v4)) {
                throw new IllegalArgumentException("not an IPv4 address: " + address);
            }
            return new External(v4);
        }

        @Override
        public Labels labels() {
            return ReservedIdentity.WORLD.identity().labels();
        }

        @Override
        public String toString() {
            return address.getHostAddress();
        }
    }
}
