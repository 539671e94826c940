package dev.sluice.observe;

import java.net.InetAddress;

/**
 * Where the relay and the UI may listen. Flows name pods and policies, so on a machine they serve the machine only
 * (loopback); in a Kubernetes pod (the install's relay and UI Deployments) the network namespace is the pod's own and
 * its Service must reach it, so any address is taken.
 */
public final class ServingAddress {
    /** Said when an address is refused. */
    public static final String RULE = "any address is taken in a Kubernetes pod, where KUBERNETES_SERVICE_HOST is set; elsewhere loopback only";

    private ServingAddress() {
    }

    public static boolean inKubernetesPod() {
        return System.getenv("KUBERNETES_SERVICE_HOST") != null;
    }

    /** Whether {@code address} may be listened on here. */
    public static boolean allowed(InetAddress address) {
        return address.isLoopbackAddress() || inKubernetesPod();
    }
}
