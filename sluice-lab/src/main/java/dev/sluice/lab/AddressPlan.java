package dev.sluice.lab;

/**
 * Where lab addresses come from. Every address lives only inside the lab's namespaces: nodes have no
 * default route, so nothing addressed outside these ranges can leave a node.
 *
 * <ul>
 *   <li>nodes: 10.254.0.N/24 on the fabric bridge (node N, from 1)</li>
 *   <li>pods: 10.244.N.0/24 per node N, pods from .10 up, each a /32 routed by its node</li>
 *   <li>Services: ClusterIPs from 10.96.0.10 up in 10.96.0.0/16</li>
 *   <li>the pods' gateway: 169.254.1.1, owned by every node-side veth (as Calico and Cilium do)</li>
 * </ul>
 */
record AddressPlan(String nodeSubnet, String podCidrBase, String serviceCidr) {
    static final AddressPlan DEFAULT = new AddressPlan("10.254.0.0/24", "10.244.0.0/16", "10.96.0.0/16");
    static final String POD_GATEWAY = "169.254.1.1";
    static final int FIRST_POD_HOST = 10;
    static final int LAST_POD_HOST = 250;

    String nodeAddress(int node) {
        return Ipv4.parse(base(nodeSubnet)).plus(node).toString();
    }

    /** The /24 of node N, e.g. 10.244.1.0/24. */
    String podCidr(int node) {
        return Ipv4.parse(base(podCidrBase)).plus(node << 8) + "/24";
    }

    String podAddress(int node, int host) {
        return Ipv4.parse(base(podCidrBase)).plus((node << 8) + host).toString();
    }

    Ipv4 firstServiceIp() {
        return Ipv4.parse(base(serviceCidr)).plus(10);
    }

    boolean inServiceCidr(String ip) {
        int bits = Integer.parseInt(serviceCidr.substring(serviceCidr.indexOf('/') + 1));
        int mask = bits == 0 ? 0 : -1 << (32 - bits);
        return (Ipv4.parse(ip).value() & mask) == (Ipv4.parse(base(serviceCidr)).value() & mask);
    }

    private static String base(String cidr) {
        return cidr.substring(0, cidr.indexOf('/'));
    }
}
