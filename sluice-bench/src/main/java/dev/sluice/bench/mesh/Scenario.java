package dev.sluice.bench.mesh;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The six data paths of issue 16, each with the lab it runs in. Three labs, not six: a lab is reconfigured between
 * scenarios where that changes nothing but the path under test (iptables rules, sidecars, the canary), and gets its
 * own values where the agent must start differently (no Service load balancing at all; the socket bypass on).
 */
public enum Scenario {
    /** Client to one server pod's IP: no Service, no proxy; the floor. */
    NO_MESH("no-mesh", "no mesh", LabKind.PLAIN),
    /** ClusterIP through the iptables DNAT rules kube-proxy writes, in the node's namespace. */
    KUBE_PROXY("kube-proxy", "kube-proxy", LabKind.PLAIN),
    /** HAProxy in the client and every server pod, iptables REDIRECT of the pods' traffic: Istio's data path. */
    SIDECAR("sidecar", "sidecar", LabKind.PLAIN),
    /** Socket LB, a policy allowing the client, flow events on (the seed's values). */
    SLUICE_L4("sluice-l4", "Sluice L4", LabKind.SLUICE),
    /** The node proxy doing the seed's 90/10 canary (canary-routing.yaml applied for the run). */
    SLUICE_L7("sluice-l7", "Sluice L7", LabKind.SLUICE),
    /** Sluice L4 with the same-node sockmap bypass on. */
    SLUICE_BYPASS("sluice-bypass", "Sluice L4+bypass", LabKind.BYPASS);

    /** Which lab a scenario runs in: the values its agent starts with. */
    public enum LabKind {
        /** kubeProxyReplacement, socket LB, flows and the mesh off: the agent only keeps the (empty) policy programs. */
        PLAIN,
        /** The seed's values (cilium-values.yaml) with the demo's policy allowing the client. */
        SLUICE,
        /** The seed's values plus sockops.enabled: true. */
        BYPASS
    }

    private final String id;
    private final String title;
    private final LabKind lab;

    Scenario(String id, String title, LabKind lab) {
        this.id = id;
        this.title = title;
        this.lab = lab;
    }

    public String id() {
        return id;
    }

    public String title() {
        return title;
    }

    public LabKind lab() {
        return lab;
    }

    /** The scenario named {@code id}, or an error listing the names. */
    public static Scenario of(String id) {
        return Arrays.stream(values()).filter(s -> s.id.equals(id)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "unknown scenario '" + id + "': one of " + Arrays.stream(values()).map(Scenario::id).collect(Collectors.joining(", "))));
    }

    public static List<Scenario> all() {
        return List.of(values());
    }
}
