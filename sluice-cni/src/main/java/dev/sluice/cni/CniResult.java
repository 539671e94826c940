package dev.sluice.cni;

import java.util.List;
import java.util.Map;

/**
 * The result of ADD (spec, "Success"): the interfaces made (the node's end, then the pod's with its sandbox), the
 * pod's address on the pod's interface, and its default route through the gateway the node's end owns.
 */
public record CniResult(String cniVersion, List<Interface> interfaces, List<Ip> ips, List<Route> routes, Map<String, Object> dns) {

    /** The pods' gateway: owned by every node-side veth end (as Calico and Cilium do), so no pod address is spent on it. */
    public static final String GATEWAY = "169.254.1.1";

    public record Interface(String name, String mac, String sandbox) {
    }

    /** @param interfaceIndex the index in {@code interfaces} of the interface that holds the address */
    public record Ip(String address, String gateway, int interfaceIndex) {
    }

    public record Route(String dst, String gw) {
    }

    /** As the plugin prints it. */
    public Map<String, Object> toMap() {
        return Json.object("cniVersion", cniVersion,
                "interfaces", interfaces.stream().map(i -> (Object) Json.object("name", i.name(), "mac", i.mac(), "sandbox", i.sandbox())).toList(),
                "ips", ips.stream().map(i -> (Object) Json.object("address", i.address(), "gateway", i.gateway(), "interface", i.interfaceIndex())).toList(),
                "routes", routes.stream().map(r -> (Object) Json.object("dst", r.dst(), "gw", r.gw())).toList(),
                "dns", dns);
    }

    /** The result for a pod at {@code ip} (a /32) behind host end {@code hostVeth}. */
    public static CniResult of(String cniVersion, String hostVeth, String hostMac, String ifname, String podMac, String netns, String ip) {
        return new CniResult(cniVersion,
                List.of(new Interface(hostVeth, hostMac, null), new Interface(ifname, podMac, netns)),
                List.of(new Ip(ip + "/32", GATEWAY, 1)),
                List.of(new Route("0.0.0.0/0", GATEWAY)),
                Map.of());
    }
}
