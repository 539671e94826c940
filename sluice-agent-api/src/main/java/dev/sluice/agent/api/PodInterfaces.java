package dev.sluice.agent.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The name of a Kubernetes pod's node-side veth, agreed between the CNI plugin that makes it and the
 * Kubernetes cluster source that tells the agent where the pod is attached. Both know only the pod's
 * namespace and name (the kubelet passes them to the plugin as {@code K8S_POD_NAMESPACE}/{@code K8S_POD_NAME}),
 * so the name is derived from them: {@code lxc} and 12 hex digits of their SHA-256, as Cilium names its
 * {@code lxc*} devices (an interface name has at most 15 characters).
 */
public final class PodInterfaces {
    private PodInterfaces() {
    }

    public static String hostInterface(String namespace, String name) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest((namespace + "/" + name).getBytes(StandardCharsets.UTF_8));
            return "lxc" + HexFormat.of().formatHex(digest, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
