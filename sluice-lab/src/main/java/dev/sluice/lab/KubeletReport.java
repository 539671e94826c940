package dev.sluice.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a node's kubelet last found of each running container's probes, rewritten whole after each result: `lab
 * apply` reads it while it holds the lab's lock (so the kubelet cannot record readiness in the state meanwhile) to
 * decide whether a new pod became ready; {@code describe} shows the last results.
 */
record KubeletReport(long writtenAtEpochMs, Map<String, List<Probed>> pods) {
    /**
     * One container's process as probed.
     *
     * @param ready                whether its readiness probe (or its ports, without one) passed
     * @param readinessFailures    readiness probe failures in a row
     * @param livenessFailures     liveness probe failures in a row
     * @param lastFailure          the last failed probe's message, "" if none failed
     */
    record Probed(String container, long pid, long startTicks, boolean ready, int readinessFailures, int livenessFailures,
                  String lastFailure) {
    }

    static Optional<KubeletReport> read(Path file) {
        try {
            return Files.exists(file) ? Optional.of(LabStore.JSON.readValue(file.toFile(), KubeletReport.class)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    void write(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        LabStore.JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    Optional<Probed> of(String pod, String container, long pid, long startTicks) {
        return pods.getOrDefault(pod, List.of()).stream()
                .filter(p -> p.container().equals(container) && p.pid() == pid && p.startTicks() == startTicks).findFirst();
    }
}
