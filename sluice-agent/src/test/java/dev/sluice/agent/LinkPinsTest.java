package dev.sluice.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LinkPinsTest {
    @Test
    void onlyThePinsOfVethsThatAreGoneAreDropped(@TempDir Path links) throws Exception {
        for (String pin : new String[] {"cgroup-sock4_connect", "lxcaaaa-from", "lxcaaaa-to", "lxcaaaa-pfrom", "lxcaaaa-pto",
                "lxcbbbb-from", "lxcbbbb-pto"}) {
            Files.createFile(links.resolve(pin));
        }
        assertEquals(2, LinkPins.dropStale(links, Set.of("lxcaaaa")));
        try (Stream<Path> left = Files.list(links)) {
            assertEquals(Set.of("cgroup-sock4_connect", "lxcaaaa-from", "lxcaaaa-to", "lxcaaaa-pfrom", "lxcaaaa-pto"),
                    Set.copyOf(left.map(p -> p.getFileName().toString()).toList()));
        }
        assertEquals(0, LinkPins.dropStale(links.resolve("absent"), Set.of()));
    }
}
