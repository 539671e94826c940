package dev.sluice.agent.policy;

import dev.sluice.agent.api.Identities;
import dev.sluice.agent.api.Identities.Assignment;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Labels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Cluster-wide security identities, shared by every node's agent: the same labels must get the same
 * number on every node, and keep it across agent restarts, or a policy compiled on one node would not
 * recognise a peer from another. Cilium keeps them in CiliumIdentity objects (or a kvstore); the lab
 * keeps them in one JSON file next to its state, changed only under an exclusive file lock.
 *
 * <p>Identities no pod uses any more are released after a grace period, as Cilium's identity garbage
 * collector does: not at once, because connection tracking and the other nodes' maps may still hold the
 * number for a while, and a number given to other labels too soon would let their flows through.
 */
public final class IdentityStore implements Identities.Store {
    /** Cilium's default (operator.identityGCInterval): an unused identity is released after 15 minutes. */
    public static final Duration DEFAULT_GRACE = Duration.ofMinutes(15);

    private final Path file;
    private final Duration grace;
    private final LongSupplier clock;

    public IdentityStore(Path file) {
        this(file, DEFAULT_GRACE, System::currentTimeMillis);
    }

    public IdentityStore(Path file, Duration grace, LongSupplier clock) {
        this.file = file;
        this.grace = grace;
        this.clock = clock;
    }

    /**
     * Allocates identities for {@code inUse}, every label set the cluster's pods have now (keeping every
     * number already given), marks the others unused and releases those unused for longer than the grace
     * period; returns the allocator of what is kept.
     */
    @Override
    public IdentityAllocator allocate(Collection<Labels> inUse) {
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel channel = FileChannel.open(file.resolveSibling(file.getFileName() + ".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = channel.lock()) {
                long now = clock.getAsLong();
                List<Assignment> stored = Identities.read(file);
                Set<Labels> used = new HashSet<>(inUse);
                Map<Labels, Integer> kept = new LinkedHashMap<>();
                Map<Labels, Long> unusedSince = new HashMap<>();
                for (Assignment a : stored) {
                    long since = used.contains(a.labels()) ? 0 : a.unusedSinceEpochMs() == 0 ? now : a.unusedSinceEpochMs();
                    if (since != 0 && now - since >= grace.toMillis()) {
                        continue; // released: its number is free again
                    }
                    kept.put(a.labels(), a.id());
                    unusedSince.put(a.labels(), since);
                }
                IdentityAllocator allocator = new IdentityAllocator(kept);
                inUse.stream().distinct().sorted(Comparator.comparing(Labels::toString)).forEach(allocator::allocate);
                List<Assignment> out = new ArrayList<>();
                allocator.assignments().forEach((labels, id) -> out.add(new Assignment(id, labels, unusedSince.getOrDefault(labels, 0L))));
                out.sort(Comparator.comparingInt(Assignment::id));
                if (!out.equals(stored)) {
                    Identities.write(file, out);
                }
                return allocator;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot allocate identities in " + file, e);
        }
    }

    /** The identities given so far, by number. */
    @Override
    public List<Assignment> read() {
        return Identities.read(file);
    }
}
