package dev.sluice.testing;

import dev.sluice.linux.NetNs;

/**
 * Two fresh network namespaces joined by one veth pair: "a" (192.0.2.1/24) and "b" (192.0.2.2/24),
 * addresses from the documentation range that exist only inside these namespaces. Neither namespace
 * has any other interface or route, so nothing sent here can leave the machine.
 */
public final class VethPair implements AutoCloseable {
    public static final String ADDRESS_A = "192.0.2.1";
    public static final String ADDRESS_B = "192.0.2.2";

    public final NetNs a;
    public final NetNs b;
    public final String deviceA;
    public final String deviceB;

    public VethPair() {
        String base = Names.unique("st");
        a = NetNs.create(base + "a");
        NetNs created = null;
        try {
            created = NetNs.create(base + "b");
            deviceA = "va" + base.substring(Math.max(0, base.length() - 10));
            deviceB = "vb" + base.substring(Math.max(0, base.length() - 10));
            a.ip("link", "add", deviceA, "type", "veth", "peer", "name", deviceB, "netns", created.name());
            a.ip("addr", "add", ADDRESS_A + "/24", "dev", deviceA);
            a.ip("link", "set", deviceA, "up");
            created.ip("addr", "add", ADDRESS_B + "/24", "dev", deviceB);
            created.ip("link", "set", deviceB, "up");
        } catch (RuntimeException e) {
            a.close();
            if (created != null) {
                created.close();
            }
            throw e;
        }
        b = created;
    }

    public int ifindexA() {
        return a.ifindex(deviceA);
    }

    public int ifindexB() {
        return b.ifindex(deviceB);
    }

    @Override
    public void close() {
        try {
            a.close();
        } finally {
            b.close();
        }
    }
}
