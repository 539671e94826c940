package dev.sluice.install;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.model.KernelFeatures;
import dev.sluice.model.SluiceValues;
import dev.sluice.model.SluiceValues.Encryption;
import dev.sluice.model.ValuesException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A values file read for installing: the agent's settings as the agent reads them ({@link SluiceValues}, one
 * reading), the keys only the installer reads, and what became of every key the file sets.
 *
 * @param text the file as written: it goes into the ConfigMap verbatim, and each agent reads it again from there
 * @param agent what each agent will make of the file
 * @param namespace where the namespaced objects go ({@code --namespace}, Cilium's kube-system by default)
 * @param operatorReplicas {@code operator.replicas}: Sluice has no operator, so anything above 0 is reported
 * @param privileged {@code securityContext.privileged}: false gives the agent the capabilities it needs instead
 * @param clusterName {@code cluster.name}, handed to each agent as {@code --cluster}
 * @param k8sServiceHost {@code k8sServiceHost}: with kube-proxy replaced, the agent reaches the API server here
 *        rather than through the kubernetes Service, which nothing has programmed before the agent starts
 * @param report one outcome per key the file sets, in file order
 */
public record InstallValues(Path file, String text, SluiceValues agent, String namespace, Image image, int operatorReplicas,
                            boolean privileged, String clusterName, Optional<String> k8sServiceHost, int k8sServicePort,
                            List<KeyOutcome> report) {
    public static final String DEFAULT_NAMESPACE = "kube-system";

    public InstallValues {
        Objects.requireNonNull(agent, "agent");
        Objects.requireNonNull(image, "image");
        report = List.copyOf(report);
    }

    /** Whether the relay is rendered: asked for, with flows to gather. */
    public boolean relay() {
        return agent.hubble().enabled() && agent.hubble().relay();
    }

    /** Whether the UI is rendered: asked for, with a relay to read flows from. */
    public boolean ui() {
        return relay() && agent.hubble().ui();
    }

    /** Whether WireGuard tunnels are set up between nodes (IPsec is not rendered: it needs a key Secret). */
    public boolean wireguard() {
        return agent.encryption().enabled() && agent.encryption().type() == Encryption.Type.WIREGUARD;
    }

    /** The keys reported as unsupported. */
    public List<KeyOutcome.Unsupported> unsupported() {
        return report.stream().filter(KeyOutcome.Unsupported.class::isInstance).map(KeyOutcome.Unsupported.class::cast).toList();
    }

    /**
     * @throws ValuesException naming the file and the key when a value has the wrong type or is out of range
     */
    public static InstallValues load(Path file, String namespace) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new ValuesException(file, null, "cannot be read: " + e.getMessage());
        }
        if (!namespace.matches("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")) {
            throw new IllegalArgumentException("--namespace '" + namespace + "' is not a Kubernetes namespace name (a DNS label)");
        }
        // The nodes' kernels, not this machine's, decide whether WireGuard can run: each agent reports that in
        // `sluice status`. Here every kernel feature is taken as present, so the file alone decides what is rendered.
        KernelFeatures nodes = (option, module) -> Optional.empty();
        SluiceValues agent = SluiceValues.load(file, nodes);
        RawValues raw = RawValues.read(file);

        String repository = raw.string("image.repository", Image.DEFAULT.repository());
        if (!repository.matches("[a-z0-9]+([._/:-][a-z0-9]+)*")) {
            throw new ValuesException(file, "image.repository", "'" + repository + "' is not an image repository (e.g. registry.example/sluice)");
        }
        String tag = raw.string("image.tag", Image.DEFAULT.tag());
        String digest = raw.string("image.digest", "");
        if (!digest.isEmpty()) {
            if (!digest.matches("sha256:[0-9a-f]{64}")) {
                throw new ValuesException(file, "image.digest", "must be sha256: and 64 hex digits, got '" + digest + "'");
            }
            tag = digest;
        } else if (!tag.matches("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")) {
            throw new ValuesException(file, "image.tag", "'" + tag + "' is not an image tag");
        }
        String pullPolicy = raw.string("image.pullPolicy", Image.DEFAULT.pullPolicy());
        if (!Image.PULL_POLICIES.contains(pullPolicy)) {
            throw new ValuesException(file, "image.pullPolicy", "must be one of " + Image.PULL_POLICIES + ", got '" + pullPolicy + "'");
        }
        int operatorReplicas = raw.integer("operator.replicas", 0, 0, 100);
        boolean privileged = raw.bool("securityContext.privileged", false);
        String cluster = raw.string("cluster.name", "default");
        if (!cluster.matches("[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?")) {
            throw new ValuesException(file, "cluster.name", "must be lower-case letters, digits and '-' (at most 32), got '" + cluster + "'");
        }
        Optional<String> apiHost = raw.value("k8sServiceHost").map(v -> raw.string("k8sServiceHost", ""));
        int apiPort = raw.integer("k8sServicePort", 6443, 1, 65535);

        // The report describes what the values render, so it is made from them, read first without it.
        InstallValues partial = new InstallValues(file, text, agent, namespace, new Image(repository, tag, pullPolicy),
                operatorReplicas, privileged, cluster, apiHost, apiPort, List.of());
        return new InstallValues(file, text, agent, namespace, partial.image, operatorReplicas, privileged, cluster, apiHost, apiPort,
                report(raw, partial));
    }

    /** One outcome per key the file sets: what the installer renders from it, or why it cannot. */
    private static List<KeyOutcome> report(RawValues raw, InstallValues v) {
        List<KeyOutcome> outcomes = new ArrayList<>();
        for (Map.Entry<String, JsonNode> leaf : raw.leaves().entrySet()) {
            outcomes.add(outcome(leaf.getKey(), v));
        }
        return outcomes;
    }

    private static KeyOutcome outcome(String key, InstallValues v) {
        SluiceValues a = v.agent;
        String cm = "ConfigMap " + Names.CONFIG + " ";
        return switch (key) {
            case "kubeProxyReplacement" -> new KeyOutcome.Rendered(key, cm + "kube-proxy-replacement: "
                    + a.kubeProxyReplacement().name().toLowerCase(Locale.ROOT)
                    + (a.kubeProxyReplacement() == SluiceValues.KubeProxyReplacement.DISABLED ? " (kube-proxy stays)"
                    : v.k8sServiceHost.isEmpty() ? " (set k8sServiceHost before removing kube-proxy: the agent reaches the API server through the kubernetes Service until then)"
                    : ""));
            case "socketLB.enabled" -> new KeyOutcome.Rendered(key, cm + "bpf-lb-sock: " + a.socketLb());
            case "hubble.enabled" -> new KeyOutcome.Rendered(key, cm + "enable-hubble: " + a.hubble().enabled()
                    + (a.hubble().enabled() ? "; Service " + Names.PEER_SERVICE + " (observer API, " + Names.OBSERVER_PORT + ")" : ""));
            case "hubble.relay.enabled" -> a.hubble().relay() && !a.hubble().enabled()
                    ? new KeyOutcome.Unsupported(key, "needs hubble.enabled: without flows there is nothing to relay; no relay rendered")
                    : new KeyOutcome.Rendered(key, v.relay() ? "Deployment and Service " + Names.RELAY + " (" + Names.RELAY_PORT + ")" : "no relay");
            case "hubble.ui.enabled" -> a.hubble().ui() && !v.relay()
                    ? new KeyOutcome.Unsupported(key, "needs hubble.relay.enabled: the UI reads flows through the relay; no UI rendered")
                    : new KeyOutcome.Rendered(key, v.ui() ? "Deployment and Service " + Names.UI + " (" + Names.UI_PORT + ")" : "no UI");
            case "securityContext.privileged" -> new KeyOutcome.Rendered(key, "DaemonSet " + Names.AGENT + " securityContext: "
                    + (v.privileged ? "privileged" : "not privileged, with capabilities " + String.join(", ", AgentDaemonSet.capabilities(v))));
            case "bpf.preallocateMaps" -> a.preallocateMaps()
                    ? new KeyOutcome.Unsupported(key, "Sluice's hash maps are always created without preallocation (BPF_F_NO_PREALLOC)"
                    + " and grow with use; the agent ignores this key")
                    : new KeyOutcome.Rendered(key, cm + "preallocate-bpf-maps: false");
            case "operator.replicas" -> v.operatorReplicas > 0
                    ? new KeyOutcome.Unsupported(key, "Sluice has no operator: each agent allocates identities (CiliumIdentity"
                    + " objects) and releases unused ones itself; no operator Deployment rendered")
                    : new KeyOutcome.Rendered(key, "no operator Deployment (0 replicas)");
            case "serviceMesh.enabled" -> new KeyOutcome.Rendered(key, cm + "enable-envoy-config: " + a.serviceMesh()
                    + (a.serviceMesh() ? "; CRDs ciliumenvoyconfigs, ciliumclusterwideenvoyconfigs" : ""));
            case "serviceMesh.proxy" -> a.proxyMode().equals(SluiceValues.SIDECAR_FREE)
                    ? new KeyOutcome.Rendered(key, cm + "proxy-mode: " + SluiceValues.SIDECAR_FREE + " (one L7 proxy per node, in the agent's pod)")
                    : new KeyOutcome.Unsupported(key, "'" + a.proxyMode() + "': Sluice has only \"" + SluiceValues.SIDECAR_FREE
                    + "\" (one proxy per node); the agent uses it");
            case "encryption.enabled", "encryption.type" -> a.encryption().enabled() && !v.wireguard()
                    ? new KeyOutcome.Unsupported(key, "IPsec is not rendered: it needs a key Secret (cilium-ipsec-keys) that sluice install"
                    + " does not manage; use encryption.type: wireguard")
                    : new KeyOutcome.Rendered(key, cm + "enable-wireguard: " + v.wireguard()
                    + (v.wireguard() ? "; DaemonSet " + Names.AGENT + ": UDP " + Names.WIREGUARD_PORT + ", /lib/modules, CAP_SYS_MODULE" : ""));
            case "image.repository", "image.tag", "image.digest", "image.pullPolicy" ->
                    new KeyOutcome.Rendered(key, "the image of every Sluice pod: " + v.image.reference() + " (" + v.image.pullPolicy() + ")");
            case "cluster.name" -> new KeyOutcome.Rendered(key, "DaemonSet " + Names.AGENT + " --cluster " + v.clusterName);
            case "k8sServiceHost", "k8sServicePort" -> new KeyOutcome.Rendered(key, "DaemonSet " + Names.AGENT
                    + " env KUBERNETES_SERVICE_HOST/PORT " + v.k8sServiceHost.orElse("(unset)") + ":" + v.k8sServicePort);
            default -> agentOutcome(key, v);
        };
    }

    /**
     * A key the installer has no use of its own for: the agent reads it from the ConfigMap, unless the agent's own
     * reading reported it (an unknown key, a value Sluice lacks), in which case that report is the reason.
     */
    private static KeyOutcome agentOutcome(String key, InstallValues v) {
        String file = v.file.toString();
        for (String warning : v.agent.warnings()) {
            String w = warning.startsWith(file + ": ") ? warning.substring(file.length() + 2) : warning;
            if (w.startsWith(key + ":") || w.startsWith(key + " ") || w.contains("'" + key + "'")
                    || (key.startsWith("operator.") || key.startsWith("image.")) && w.startsWith(key)) {
                return new KeyOutcome.Unsupported(key, w.startsWith(key + ": ") ? w.substring(key.length() + 2) : w);
            }
        }
        if (key.startsWith("operator.") || key.startsWith("image.")) {
            return new KeyOutcome.Unsupported(key, "not used by sluice install");
        }
        return new KeyOutcome.Rendered(key, "ConfigMap " + Names.CONFIG + " " + Names.VALUES_FILE + ", read by each agent");
    }
}
