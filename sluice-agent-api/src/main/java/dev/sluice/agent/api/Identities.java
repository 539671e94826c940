package dev.sluice.agent.api;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Labels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The cluster's security identities as the agents keep them ({@link NodeLayout#identities()}): one number
 * per set of labels, the same on every node. Only agents allocate (under the file's lock); anyone reads.
 */
public final class Identities {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Identities() {
    }

    /**
     * One assignment as stored. {@code unusedSinceEpochMs} is 0 while a pod or policy of some node uses it,
     * and otherwise when the agents last saw it unused: it is released after a grace period.
     */
    public record Assignment(int id, Labels labels, long unusedSinceEpochMs) {
    }

    /**
     * Where the agents of a cluster keep its identities, so that every node numbers the same labels alike:
     * the lab's file (the agent's {@code IdentityStore}), or, in Kubernetes, one CiliumIdentity object per
     * identity ({@code CrdIdentities} in sluice-k8s, as Cilium's "crd" identity allocation mode).
     */
    public interface Store {
        /**
         * Gives an identity to each of {@code inUse} (every label set the cluster's pods have now), keeping the
         * numbers given before; identities no longer in use are released after a grace period.
         *
         * @return the allocator of every identity kept
         * @throws RuntimeException when the store cannot be reached: the caller keeps what it programmed before
         */
        IdentityAllocator allocate(Collection<Labels> inUse);

        /** The identities given so far, by number. */
        List<Assignment> read();
    }

    /** Makes the store for agents of one cluster source; registered as a {@link ServiceLoader} service. */
    public interface StoreProvider {
        /** The cluster source ({@code --source NAME}) whose agents use it. */
        String source();

        Store open(NodeLayout layout);
    }

    /** The store registered for agents of cluster source {@code source}, if any (else the agent keeps the lab's file). */
    public static Optional<Store> provided(String source, NodeLayout layout) {
        return ServiceLoader.load(StoreProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.source().equals(source)).findFirst().map(p -> p.open(layout));
    }

    /** The identities given so far, by number. */
    public static List<Assignment> read(Path file) {
        try {
            return Files.exists(file) ? JSON.readValue(file.toFile(), new TypeReference<List<Assignment>>() { }) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read identities from " + file, e);
        }
    }

    /** Replaces the file with {@code assignments}, atomically; call it under the file's lock. */
    public static void write(Path file, List<Assignment> assignments) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), assignments);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
