package dev.sluice.install;

import java.util.List;
import java.util.Objects;

/**
 * The container image every Sluice pod runs ({@code image.*}, Cilium's keys): deploy/Dockerfile builds it, with the
 * agent, the relay, the UI and the CNI plugin in one image, as Cilium's agent image holds its CNI plugin.
 */
public record Image(String repository, String tag, String pullPolicy) {
    public static final List<String> PULL_POLICIES = List.of("Always", "IfNotPresent", "Never");
    /** A locally built image (deploy/Dockerfile), not pulled from any registry until the values name one. */
    public static final Image DEFAULT = new Image("sluice", "latest", "IfNotPresent");

    public Image {
        Objects.requireNonNull(repository, "repository");
        Objects.requireNonNull(tag, "tag");
        Objects.requireNonNull(pullPolicy, "pullPolicy");
    }

    /** {@code repository:tag}, or {@code repository@sha256:...} when the tag is a digest. */
    public String reference() {
        return tag.startsWith("sha256:") ? repository + "@" + tag : repository + ":" + tag;
    }
}
