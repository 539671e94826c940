package dev.sluice.agent.cni;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.cni.AgentMessages.Endpoint;
import dev.sluice.cni.CniError;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The node's pod addresses (host-scope IPAM, as Cilium's Kubernetes mode): each CNI ADD gets the lowest free address
 * of the node's PodCIDR, never its network address, its first host (the PodCIDR's gateway/router address by
 * convention, kept free although pods route through 169.254.1.1) or its broadcast address, nor one a pod the cluster
 * source knows already holds. Every change is written to {@code file} (a temporary file, fsync, atomic rename)
 * before the plugin is answered, so an agent that restarts never hands out an address twice. Thread-safe.
 *
 * <p>A state file that cannot be read is kept as it is and makes the IPAM refuse every allocation with the reason
 * (CNI error 11), rather than start empty and hand out addresses in use.
 */
public final class Ipam {
    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One address held.
     *
     * @param registered the pod's interface was made and the endpoint registered (ADD finished)
     */
    public record Allocation(Endpoint endpoint, boolean registered) {
    }

    /** What the state file holds. */
    record State(int version, List<Allocation> allocations) {
    }

    private final Path file;
    private final Map<String, Allocation> byOwner = new LinkedHashMap<>();
    private final String broken;
    private Cidr cidr;

    private Ipam(Path file, List<Allocation> loaded, String broken) {
        this.file = file;
        this.broken = broken;
        loaded.forEach(a -> byOwner.put(a.endpoint().owner(), a));
    }

    /** The IPAM of the state in {@code file} (none yet: empty). */
    public static Ipam load(Path file) {
        if (!Files.exists(file)) {
            return new Ipam(file, List.of(), null);
        }
        try {
            State s = JSON.readValue(file.toFile(), State.class);
            List<Allocation> list = s.allocations() == null ? List.of() : s.allocations();
            for (int i = 0; i < list.size(); i++) {
                Allocation a = list.get(i);
                if (a == null || a.endpoint() == null || a.endpoint().ip() == null || a.endpoint().containerId() == null
                        || a.endpoint().ifname() == null) {
                    throw new IOException("allocations[" + i + "] lacks endpoint.containerId, .ifname or .ip");
                }
                Cidr.parseIp(a.endpoint().ip(), "allocations[" + i + "].endpoint.ip");
            }
            return new Ipam(file, list, null);
        } catch (IOException | IllegalArgumentException e) {
            String why = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            return new Ipam(file, List.of(), "cannot read the IPAM state " + file + ": " + why
                    + " (no address is handed out until it is repaired or removed)");
        }
    }

    public Path file() {
        return file;
    }

    /** Why allocations are refused (an unreadable state file), if they are. */
    public Optional<String> broken() {
        return Optional.ofNullable(broken);
    }

    /** The node's PodCIDR, as the cluster source says; null until it does. */
    public synchronized void podCidr(String podCidr) {
        this.cidr = podCidr == null || podCidr.isEmpty() ? null : Cidr.parse(podCidr);
    }

    public synchronized Optional<String> podCidr() {
        return Optional.ofNullable(cidr).map(Cidr::toString);
    }

    /**
     * The address for {@code want}'s container interface: the one it already holds, else the lowest free one.
     *
     * @param taken addresses the cluster source shows in use by pods this IPAM did not allocate
     * @throws CniError 11 when the PodCIDR is not known yet, the state is unreadable, or no address is free
     */
    public synchronized Endpoint allocate(Endpoint want, Set<String> taken) {
        if (broken != null) {
            throw new CniError(CniError.TRY_AGAIN_LATER, broken);
        }
        Allocation held = byOwner.get(want.owner());
        if (held != null) {
            return held.endpoint();
        }
        if (cidr == null) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "the agent does not know this node's PodCIDR yet");
        }
        Set<Long> used = new java.util.HashSet<>();
        byOwner.values().forEach(a -> used.add(Cidr.parseIp(a.endpoint().ip(), "ip")));
        taken.forEach(ip -> used.add(Cidr.parseIp(ip, "ip")));
        for (long a = cidr.firstUsable(); a <= cidr.lastUsable(); a++) {
            if (!used.contains(a)) {
                Endpoint e = want.withIp(Cidr.format(a));
                byOwner.put(e.owner(), new Allocation(e, false));
                persist();
                return e;
            }
        }
        throw new CniError(CniError.TRY_AGAIN_LATER, "no free pod address in this node's PodCIDR " + cidr + ": "
                + allocatedIn(cidr) + " of " + cidr.usable() + " allocated by the CNI plugin, "
                + (used.size() - allocatedIn(cidr)) + " held by other pods");
    }

    /** ADD made the interface: the endpoint (its veth, MAC, netns) is recorded as registered. */
    public synchronized Endpoint register(Endpoint endpoint) {
        Allocation held = byOwner.get(endpoint.owner());
        if (held == null || !held.endpoint().ip().equals(endpoint.ip())) {
            throw new CniError(CniError.INVALID_CONFIG, "container " + endpoint.containerId() + " interface " + endpoint.ifname()
                    + " holds no allocation of " + endpoint.ip() + " (ALLOCATE first)");
        }
        Allocation now = new Allocation(endpoint, true);
        if (!now.equals(held)) {
            byOwner.put(endpoint.owner(), now);
            persist();
        }
        return endpoint;
    }

    /** DEL: the address is free again; what was held, if anything (releasing nothing is not an error). */
    public synchronized Optional<Allocation> release(String owner) {
        Allocation gone = byOwner.remove(owner);
        if (gone != null) {
            persist();
        }
        return Optional.ofNullable(gone);
    }

    public synchronized Optional<Allocation> get(String owner) {
        return Optional.ofNullable(byOwner.get(owner));
    }

    /** The endpoints whose ADD finished, in allocation order. */
    public synchronized List<Endpoint> registered() {
        return byOwner.values().stream().filter(Allocation::registered).map(Allocation::endpoint).toList();
    }

    public synchronized int allocated() {
        return byOwner.size();
    }

    /** How many of {@code others} (addresses held by pods the IPAM did not allocate) lie in the PodCIDR's usable range. */
    public synchronized long heldIn(Set<String> others) {
        if (cidr == null) {
            return 0;
        }
        return others.stream().mapToLong(ip -> Cidr.parseIp(ip, "ip"))
                .filter(a -> a >= cidr.firstUsable() && a <= cidr.lastUsable()).count();
    }

    /** Addresses pods may get in the PodCIDR (0 while it is unknown). */
    public synchronized long capacity() {
        return cidr == null ? 0 : cidr.usable();
    }

    private long allocatedIn(Cidr c) {
        return byOwner.values().stream().filter(a -> c.contains(Cidr.parseIp(a.endpoint().ip(), "ip"))).count();
    }

    /** Temporary file, fsync, atomic rename: the file is always a whole state, the old or the new. */
    private void persist() {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(new State(1, new ArrayList<>(byOwner.values())));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // Not answered as done: the plugin fails (and its runtime retries) rather than the address being forgotten.
            throw new CniError(CniError.TRY_AGAIN_LATER, "cannot write the IPAM state " + file + ": " + e.getMessage());
        }
    }

    /** An IPv4 prefix. */
    record Cidr(long base, int bits) {
        static Cidr parse(String cidr) {
            int slash = cidr.indexOf('/');
            if (slash < 0) {
                throw new IllegalArgumentException("PodCIDR '" + cidr + "' is not ADDRESS/BITS");
            }
            int bits = Integer.parseInt(cidr.substring(slash + 1));
            if (bits < 0 || bits > 32) {
                throw new IllegalArgumentException("PodCIDR '" + cidr + "' has a prefix length outside 0..32");
            }
            long mask = bits == 0 ? 0 : (0xFFFFFFFFL << (32 - bits)) & 0xFFFFFFFFL;
            return new Cidr(parseIp(cidr.substring(0, slash), "PodCIDR") & mask, bits);
        }

        static long parseIp(String ip, String what) {
            String[] p = ip.split("\\.");
            if (p.length != 4) {
                throw new IllegalArgumentException(what + " '" + ip + "' is not an IPv4 address");
            }
            long v = 0;
            for (String o : p) {
                int b = Integer.parseInt(o);
                if (b < 0 || b > 255) {
                    throw new IllegalArgumentException(what + " '" + ip + "' is not an IPv4 address");
                }
                v = (v << 8) | b;
            }
            return v;
        }

        static String format(long a) {
            return ((a >> 24) & 255) + "." + ((a >> 16) & 255) + "." + ((a >> 8) & 255) + "." + (a & 255);
        }

        long size() {
            return 1L << (32 - bits);
        }

        /** After the network address and the first host (the gateway by convention). */
        long firstUsable() {
            return base + 2;
        }

        /** Before the broadcast address. */
        long lastUsable() {
            return base + size() - 2;
        }

        long usable() {
            return Math.max(0, lastUsable() - firstUsable() + 1);
        }

        boolean contains(long a) {
            return a >= base && a < base + size();
        }

        @Override
        public String toString() {
            return format(base) + "/" + bits;
        }
    }
}
