package dev.sluice.model;

import dev.sluice.model.Feature.State;
import dev.sluice.model.SluiceValues.Encryption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The features a values file touches, and what Sluice makes of each on this machine. */
final class ValueFeatures {
    private ValueFeatures() {
    }

    /** @param warnings gets the problems a user must not miss: traffic left unencrypted, a proxy mode Sluice lacks */
    static List<Feature> of(ValuesFile file, SluiceValues values, KernelFeatures kernel, List<String> warnings) {
        List<Feature> features = new ArrayList<>();
        if (file.sets("kubeProxyReplacement")) {
            features.add(switch (values.kubeProxyReplacement()) {
                case STRICT -> new Feature("KubeProxyReplacement", State.ENABLED,
                        "Sluice load-balances every Service in eBPF; kube-proxy is not needed");
                case PARTIAL -> new Feature("KubeProxyReplacement", State.ENABLED,
                        "partial: Sluice load-balances ClusterIP Services; NodePort and LoadBalancer are left to kube-proxy");
                case DISABLED -> new Feature("KubeProxyReplacement", State.DISABLED,
                        "Services are left to kube-proxy, which Sluice does not provide");
            });
        }
        if (file.sets("socketLB")) {
            features.add(values.socketLb()
                    ? new Feature("SocketLB", State.ENABLED, "Services are resolved once, at connect(), in cgroup hooks")
                    : new Feature("SocketLB", State.DISABLED, "Services are translated packet by packet at tc"));
        }
        SluiceValues.Hubble hubble = values.hubble();
        if (file.sets("hubble.enabled") || file.sets("hubble.eventBufferCapacity") || file.sets("hubble.metrics")) {
            String metrics = hubble.metrics().isEmpty() ? "; metrics: all of Hubble's that Sluice has"
                    : "; metrics: " + String.join(", ", hubble.metrics());
            for (String m : hubble.unsupportedMetrics()) {
                warnings.add(file.file() + ": hubble.metrics.enabled: \"" + m + "\" is not available in Sluice (it has "
                        + String.join(", ", SluiceValues.Hubble.METRIC_FAMILIES) + "); ignored");
            }
            features.add(hubble.enabled()
                    ? new Feature("Hubble", State.ENABLED, "flow events kept in a ring of " + hubble.eventBufferCapacity()
                            + " per node, read with `sluice observe`" + metrics)
                    : new Feature("Hubble", State.DISABLED, "no flow events are recorded"));
        }
        if (file.sets("hubble.relay")) {
            features.add(!hubble.relay() ? new Feature("Hubble Relay", State.DISABLED, "flows are not gathered across nodes")
                    : hubble.enabled() ? new Feature("Hubble Relay", State.ENABLED, "`sluice relay` (started by the lab) serves every node's flows with Hubble's API on 127.0.0.1:4245")
                    : new Feature("Hubble Relay", State.DISABLED, "needs hubble.enabled: there are no flows to gather"));
        }
        if (file.sets("hubble.ui")) {
            features.add(hubble.ui()
                    ? new Feature("Hubble UI", State.ENABLED, "the lab runs `sluice ui`, the service map (http://127.0.0.1:12000 by default)")
                    : new Feature("Hubble UI", State.DISABLED, "not requested"));
        }
        if (file.sets("serviceMesh")) {
            features.add(serviceMesh(file, values, warnings));
        }
        if (file.sets("encryption")) {
            features.add(encryption(file, values.encryption(), kernel, warnings));
        }
        if (file.sets("routingMode") || file.sets("tunnelProtocol") || file.sets("tunnelPort") || file.sets("tunnel")) {
            SluiceValues.Routing routing = values.routing();
            features.add(new Feature("Routing", State.ENABLED, routing.mode() == SluiceValues.Routing.Mode.NATIVE
                    ? "native: each other node's pod CIDR is routed via that node's address"
                    : "tunnel: pod traffic between nodes is encapsulated in VXLAN (UDP port " + routing.port() + ")"));
        }
        return features;
    }

    private static Feature serviceMesh(ValuesFile file, SluiceValues values, List<String> warnings) {
        if (!values.serviceMesh()) {
            return new Feature("ServiceMesh", State.DISABLED, "no L7 proxy: traffic is handled at L3/L4 only");
        }
        String detail = "L7 traffic goes through one proxy per node, without sidecars";
        if (!values.proxyMode().equals(SluiceValues.SIDECAR_FREE)) {
            String ignored = "serviceMesh.proxy: " + FieldProblem.show(values.proxyMode()) + " is not supported: Sluice has"
                    + " only \"" + SluiceValues.SIDECAR_FREE + "\" (one proxy per node); using it";
            warnings.add(file.file() + ": " + ignored);
            detail += "; " + ignored;
        }
        return new Feature("ServiceMesh", State.ENABLED, detail);
    }

    private static Feature encryption(ValuesFile file, Encryption encryption, KernelFeatures kernel, List<String> warnings) {
        if (!encryption.enabled()) {
            return new Feature("Encryption", State.DISABLED, "traffic between nodes is not encrypted");
        }
        String mechanism = encryption.type() == Encryption.Type.WIREGUARD ? "WireGuard" : "IPsec (ESP)";
        Optional<String> missing = encryption.type() == Encryption.Type.WIREGUARD
                ? kernel.missing("CONFIG_WIREGUARD", "wireguard")
                : kernel.missing("CONFIG_INET_ESP", "esp4");
        if (missing.isEmpty()) {
            return new Feature("Encryption", State.ENABLED, "traffic between nodes is encrypted with " + mechanism);
        }
        if (encryption.type() == Encryption.Type.WIREGUARD && kernel.userspaceWireGuard()) {
            // The same protocol and keys, in a process of the agent's: slower than the module, not weaker.
            return new Feature("Encryption", State.ENABLED, "traffic between nodes is encrypted with WireGuard in user space"
                    + " (wireguard-go; " + missing.get() + ")");
        }
        String detail = mechanism + " requested but unavailable: " + missing.get() + "; traffic between nodes is NOT encrypted";
        warnings.add(file.file() + ": encryption: " + detail);
        return new Feature("Encryption", State.UNAVAILABLE, detail);
    }
}
