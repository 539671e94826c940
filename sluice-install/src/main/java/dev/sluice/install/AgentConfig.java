package dev.sluice.install;

import dev.sluice.model.SluiceValues;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's ConfigMap: the values file as written (each agent reads it with {@code --values}, as in the lab: one
 * reading of every key), and beside it the settings in force under cilium-config's names, defaults included, so that
 * {@code kubectl get cm sluice-config -o yaml} answers "what does Sluice run with" and a diff shows what a change does.
 * Also the CNI plugin's conflist, which the init container copies to the host.
 */
final class AgentConfig {
    private AgentConfig() {
    }

    static ConfigMap agent(InstallValues values) {
        Map<String, String> data = new LinkedHashMap<>();
        data.put(Names.VALUES_FILE, values.text());
        data.putAll(settings(values));
        return new ConfigMapBuilder().withNewMetadata().withName(Names.CONFIG).withNamespace(values.namespace())
                .withLabels(Names.labels(Names.AGENT)).endMetadata().withData(data).build();
    }

    /** The settings in force, as cilium-config names them. */
    static Map<String, String> settings(InstallValues values) {
        SluiceValues a = values.agent();
        Map<String, String> s = new LinkedHashMap<>();
        s.put("cluster-name", values.clusterName());
        s.put("kube-proxy-replacement", a.kubeProxyReplacement().name().toLowerCase(Locale.ROOT));
        s.put("bpf-lb-sock", String.valueOf(a.socketLb()));
        s.put("bpf-lb-maglev-table-size", String.valueOf(a.maglevTableSize()));
        s.put("bpf-ct-global-tcp-max", String.valueOf(a.ctMapMax()));
        // Sluice's maps are never preallocated (BPF_F_NO_PREALLOC); a true in the values is reported instead.
        s.put("preallocate-bpf-maps", "false");
        s.put("enable-hubble", String.valueOf(a.hubble().enabled()));
        s.put("hubble-listen-address", a.hubble().listenPort() == 0 ? "" : ":" + a.hubble().listenPort());
        s.put("hubble-event-buffer-capacity", String.valueOf(a.hubble().eventBufferCapacity()));
        s.put("monitor-aggregation", a.hubble().monitorAggregation());
        s.put("enable-envoy-config", String.valueOf(a.serviceMesh()));
        s.put("proxy-mode", a.proxyMode());
        s.put("enable-wireguard", String.valueOf(values.wireguard()));
        s.put("enable-sockops", String.valueOf(a.sockops()));
        s.put("enable-xdp-prefilter", String.valueOf(a.prefilter().enabled()));
        return s;
    }

    /**
     * The CNI configuration kubelet reads: one plugin, {@code sluice-cni}, which asks the node's agent (over its unix
     * socket under /run/sluice) for the pod's address and registers the endpoint.
     */
    static ConfigMap cni(InstallValues values) {
        String conflist = """
                {
                  "cniVersion": "1.0.0",
                  "name": "sluice",
                  "plugins": [
                    {
                      "type": "%s"
                    }
                  ]
                }
                """.formatted(Names.CNI_BINARY);
        return new ConfigMapBuilder().withNewMetadata().withName(Names.CNI_CONFIG).withNamespace(values.namespace())
                .withLabels(Names.labels(Names.AGENT)).endMetadata().withData(Map.of(Names.CNI_CONFLIST, conflist)).build();
    }

    /** A digest of the configuration, set on the agent's pod template so that a changed ConfigMap rolls the agents. */
    static String checksum(ConfigMap... maps) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (ConfigMap m : maps) {
                new java.util.TreeMap<>(m.getData()).forEach((k, v) -> {
                    sha.update(k.getBytes(StandardCharsets.UTF_8));
                    sha.update((byte) 0);
                    sha.update(v.getBytes(StandardCharsets.UTF_8));
                    sha.update((byte) 0);
                });
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
