package dev.sluice.agent;

import dev.sluice.libbpf.BpfFs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The tcx links a node's datapaths pin per pod veth (VETH-from, VETH-to, VETH-pfrom, VETH-pto). A veth
 * deleted while the agent was down took its links with it, but not their pins: a restarted agent drops
 * those once, before it adopts the rest. Cgroup links (cgroup-*) and the node's own device links (node-*: the
 * uplink's) belong to the node and are kept.
 */
final class LinkPins {
    private LinkPins() {
    }

    /** Unpins every per-veth link whose veth is not in {@code veths}; returns how many. */
    static int dropStale(Path links, Set<String> veths) {
        if (!Files.isDirectory(links)) {
            return 0;
        }
        int dropped = 0;
        try (Stream<Path> pins = Files.list(links)) {
            for (Path pin : pins.toList()) {
                String name = pin.getFileName().toString();
                int dash = name.lastIndexOf('-');
                if (!name.startsWith("cgroup-") && !name.startsWith("node-") && dash > 0 && !veths.contains(name.substring(0, dash))) {
                    BpfFs.unpin(pin);
                    dropped++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + links, e);
        }
        return dropped;
    }
}
