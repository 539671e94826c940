package dev.sluice.agent.policy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Labels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cluster-wide security identities, shared by every node's agent: the same labels must get the same
 * number on every node, and keep it across agent restarts, or a policy compiled on one node would not
 * recognise a peer from another. Cilium keeps them in CiliumIdentity objects (or a kvstore); the lab
 * keeps them in one JSON file next to its state, changed only under an exclusive file lock.
 */
public final class IdentityStore {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** One assignment as stored. */
    public record Assignment(int id, Labels labels) {
    }

    private final Path file;

    public IdentityStore(Path file) {
        this.file = file;
    }

    /** Allocates identities for {@code labelSets} (keeping every number already given) and returns the allocator. */
    public IdentityAllocator allocate(Collection<Labels> labelSets) {
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel channel = FileChannel.open(file.resolveSibling(file.getFileName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = channel.lock()) {
                Map<Labels, Integer> existing = new LinkedHashMap<>();
                read().forEach(a -> existing.put(a.labels(), a.id()));
                IdentityAllocator allocator = new IdentityAllocator(existing);
                labelSets.stream().sorted(java.util.Comparator.comparing(Labels::toString)).forEach(allocator::allocate);
                Map<Labels, Integer> now = allocator.assignments();
                if (!now.equals(existing)) {
                    List<Assignment> out = new ArrayList<>();
                    now.forEach((labels, id) -> out.add(new Assignment(id, labels)));
                    out.sort(java.util.Comparator.comparingInt(Assignment::id));
                    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
                    JSON.writeValue(tmp.toFile(), out);
                    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                }
                return allocator;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot allocate identities in " + file, e);
        }
    }

    /** The identities given so far, by number. */
    public List<Assignment> read() {
        try {
            return Files.exists(file) ? JSON.readValue(file.toFile(), new TypeReference<List<Assignment>>() { }) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read identities from " + file, e);
        }
    }
}
