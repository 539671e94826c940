package dev.sluice.model;

import java.nio.file.Path;

/** The repository's files the tests read: Surefire sets SLUICE_ROOT, an IDE run starts in the module. */
final class Repo {
    private Repo() {
    }

    static Path seed(String name) {
        return Path.of(System.getenv().getOrDefault("SLUICE_ROOT", "..")).resolve("examples/seed").resolve(name);
    }
}
