package dev.sluice.bench.lb;

import dev.sluice.linux.NetNs;

import java.util.List;

/**
 * Two fresh network namespaces joined by one veth pair, made entirely inside them (the machine's own
 * namespace never gains an interface): the client ({@link Workload#CLIENT_ADDRESS}/24) and the server
 * (the 4 {@link Workload#SERVER_ADDRESSES}/24), plus a route for the ClusterIP range 10.96.0.0/16 on the
 * client's veth (connect() needs one before anything translates it), and the client's ephemeral port range
 * widened to 10000-65000. Neither namespace has any other
 * interface, route or default route, so nothing sent in them can leave them. IPv6 is disabled in both,
 * so that every connect() is an IPv4 one (the socket LB hooks connect4).
 */
public final class NsPair implements AutoCloseable {
    public final NetNs client;
    public final NetNs server;
    public final String label;

    private NsPair(String label, NetNs client, NetNs server) {
        this.label = label;
        this.client = client;
        this.server = server;
    }

    /** Makes the pair; {@code cleanup} deletes both namespaces (and with them the veth). */
    public static NsPair create(String label, Cleanup cleanup) {
        String base = Names.unique("lb" + label);
        NetNs client = NetNs.create(base + "c");
        cleanup.add("namespace " + client.name(), client);
        NetNs server = NetNs.create(base + "s");
        cleanup.add("namespace " + server.name(), server);
        String suffix = base.substring(Math.max(0, base.length() - 12));
        String devClient = "c" + suffix;
        String devServer = "s" + suffix;
        client.ip("link", "add", devClient, "type", "veth", "peer", "name", devServer, "netns", server.name());
        for (NetNs ns : List.of(client, server)) {
            ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1").orThrow();
            ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1").orThrow();
        }
        // The client closes first, so its TIME_WAIT sockets (60 s) hold ephemeral ports: a wider range keeps
        // the kernel's port search short when a cell makes thousands of connections to one backend.
        client.exec("sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000").orThrow();
        client.ip("addr", "add", Workload.CLIENT_ADDRESS + "/24", "dev", devClient);
        client.ip("link", "set", devClient, "up");
        client.ip("route", "add", "10.96.0.0/16", "dev", devClient);
        for (String address : Workload.SERVER_ADDRESSES) {
            server.ip("addr", "add", address + "/24", "dev", devServer);
        }
        server.ip("link", "set", devServer, "up");
        return new NsPair(label, client, server);
    }

    @Override
    public void close() {
        try {
            client.close();
        } finally {
            server.close();
        }
    }
}
