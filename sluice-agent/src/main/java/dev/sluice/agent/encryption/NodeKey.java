package dev.sluice.agent.encryption;

import dev.sluice.agent.api.wireguard.WgKey;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The node's WireGuard private key, kept in one root-only file (0600, base64 as {@code wg genkey} writes it) so
 * that a restarted agent keeps its identity and the other nodes need not learn a new key.
 */
final class NodeKey {
    private final Path file;

    NodeKey(Path file) {
        this.file = file;
    }

    Path file() {
        return file;
    }

    /** The kept key, or a new one written first. @throws IOException when the file cannot be read or written */
    WgKey loadOrCreate() throws IOException {
        if (Files.exists(file)) {
            String text = Files.readString(file, StandardCharsets.US_ASCII);
            try {
                return WgKey.fromBase64(text);
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage() + " (remove the file to make a new key)");
            }
        }
        WgKey key = WgKey.generatePrivate();
        write(key);
        return key;
    }

    /** Replaces the kept key atomically; the file is 0600 from its creation, never readable by others. */
    void write(WgKey key) throws IOException {
        Files.createDirectories(file.getParent(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, key.base64() + "\n", StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
