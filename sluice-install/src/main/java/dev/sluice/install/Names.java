package dev.sluice.install;

import java.util.Map;
import java.util.TreeMap;

/**
 * The names and ports the installed objects agree on with the programs they run: the agent
 * ({@code AgentMain --source kubernetes}), the CNI plugin ({@code sluice-cni}), the relay ({@code sluice relay})
 * and the UI ({@code sluice ui}). One place, so that a rename cannot leave a Service pointing at nothing.
 */
public final class Names {
    public static final String AGENT = "sluice-agent";
    public static final String CONFIG = "sluice-config";
    public static final String CNI_CONFIG = "sluice-cni-config";
    /** Headless: one A record per agent, which the relay dials (Cilium's {@code hubble-peer}). */
    public static final String PEER_SERVICE = "sluice-peer";
    /** Headless, as Cilium's agent metrics Service is: Prometheus scrapes each agent, not one of them. */
    public static final String METRICS_SERVICE = "sluice-metrics";
    public static final String RELAY = "sluice-relay";
    public static final String UI = "sluice-ui";

    public static final int METRICS_PORT = 9965;
    public static final int OBSERVER_PORT = 4244;
    public static final int RELAY_PORT = 4245;
    public static final int UI_PORT = 12000;
    /** Cilium's WireGuard port, so firewalls written for Cilium let Sluice's tunnels through. */
    public static final int WIREGUARD_PORT = 51871;

    /** Where the image keeps the CLI jar (which holds the agent and the bundled BPF objects). */
    public static final String JAR = "/opt/sluice/sluice.jar";
    /** The CNI plugin and its conflist, as the image ships them, copied to the host by the init container. */
    public static final String CNI_BINARY = "sluice-cni";
    public static final String CNI_JAR = "sluice-cni.jar";
    public static final String CNI_CONFLIST = "05-sluice.conflist";
    /** The init container's program (deploy/image/install-cni). */
    public static final String INSTALL_CNI = "/opt/sluice/bin/install-cni";
    public static final String VALUES_FILE = "values.yaml";

    /** The label every object of the installation carries, so {@code kubectl get all -l} finds them. */
    public static final String PART_OF = "app.kubernetes.io/part-of";

    private Names() {
    }

    /** The labels of one component: its name and the installation's. */
    public static Map<String, String> labels(String component) {
        // Sorted maps throughout the renderer: the same values always render the same bytes (the kustomize base is
        // compared with the renderer's output, and users diff --dry-run).
        return new TreeMap<>(Map.of("app.kubernetes.io/name", component, PART_OF, "sluice"));
    }

    /** What a component's pods are selected by (a subset of {@link #labels}, never changed after install). */
    public static Map<String, String> selector(String component) {
        return new TreeMap<>(Map.of("app.kubernetes.io/name", component));
    }
}
