package dev.sluice.model;

import java.util.List;

/**
 * A container's securityContext, with the pod's own (runAsUser, runAsGroup, runAsNonRoot) under it, as the
 * kubelet merges them. Capabilities are upper-case names without {@code CAP_} ({@code NET_ADMIN}), or {@code ALL}.
 *
 * @param runAsUser                null: the image's user (the lab's images run as root)
 * @param allowPrivilegeEscalation null: allowed (Kubernetes' default); false sets no_new_privs
 */
public record SecuritySpec(Long runAsUser, Long runAsGroup, boolean runAsNonRoot, List<String> addCapabilities,
                           List<String> dropCapabilities, boolean readOnlyRootFilesystem, Boolean allowPrivilegeEscalation) {
    public static final SecuritySpec DEFAULT = new SecuritySpec(null, null, false, List.of(), List.of(), false, null);

    public SecuritySpec {
        addCapabilities = Copies.list(addCapabilities);
        dropCapabilities = Copies.list(dropCapabilities);
    }
}
