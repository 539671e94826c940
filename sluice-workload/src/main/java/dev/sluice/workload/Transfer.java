package dev.sluice.workload;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Random;

/**
 * A checksummed bulk and request/response protocol over one TCP connection, for testing and measuring the
 * datapath with payloads whose every byte is checked (the socket bypass must not lose, reorder or duplicate any).
 *
 * <pre>
 * client -> server, per exchange:  u64 upload, u64 download, u32 seed, u32 flags, then `upload` bytes
 * server -> client, per exchange:  `download` bytes
 * client half-closes; server -> client: the SHA-256 of every byte it received (headers included), then closes
 * </pre>
 *
 * Payload bytes are a window of one fixed pseudo-random block, starting at the exchange's seed, so both ends can
 * check them without keeping them; the final digest checks the upload's bytes and their order end to end, and the
 * client checks the download's against the block as they arrive.
 */
public final class Transfer {
    public static final int HEADER_BYTES = 24;
    /** flags: check nothing (no content check, no digest: the server then answers the half-close with 32 zero bytes); for benchmarks. */
    public static final int FLAG_NO_CHECK = 1;
    private static final byte[] BLOCK = new byte[1 << 20];

    static {
        new Random(0x5eedL).nextBytes(BLOCK);
    }

    private Transfer() {
    }

    /** Writes {@code n} payload bytes for {@code seed} (the block, from offset seed, wrapping). */
    public static void writePayload(OutputStream out, long n, int seed, MessageDigest digest) throws IOException {
        int offset = Math.floorMod(seed, BLOCK.length);
        while (n > 0) {
            int chunk = (int) Math.min(n, BLOCK.length - offset);
            chunk = Math.min(chunk, 256 * 1024);
            out.write(BLOCK, offset, chunk);
            if (digest != null) {
                digest.update(BLOCK, offset, chunk);
            }
            n -= chunk;
            offset = (offset + chunk) % BLOCK.length;
        }
    }

    /**
     * Reads {@code n} payload bytes for {@code seed}, checking them against the block when {@code check}; returns
     * the offset of the first wrong byte, or -1 when all were right.
     */
    public static long readPayload(InputStream in, long n, int seed, boolean check, MessageDigest digest, byte[] buffer) throws IOException {
        int offset = Math.floorMod(seed, BLOCK.length);
        long read = 0;
        long wrong = -1;
        while (read < n) {
            int want = (int) Math.min(buffer.length, Math.min(n - read, BLOCK.length - offset));
            int got = in.read(buffer, 0, want);
            if (got < 0) {
                throw new EOFException("connection closed after " + read + " of " + n + " bytes");
            }
            if (digest != null) {
                digest.update(buffer, 0, got);
            }
            if (check && wrong < 0 && Arrays.mismatch(buffer, 0, got, BLOCK, offset, offset + got) >= 0) {
                wrong = read + Arrays.mismatch(buffer, 0, got, BLOCK, offset, offset + got);
            }
            read += got;
            offset = (offset + got) % BLOCK.length;
        }
        return wrong;
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What the server saw on one connection. */
    public record Served(long exchanges, long received, long sent, long wrongAt, String error) {
    }

    /** Serves one connection until the client half-closes (then sends the digest) or it fails. */
    public static Served serve(InputStream rawIn, OutputStream rawOut) {
        MessageDigest digest = sha256();
        DataInputStream in = new DataInputStream(rawIn);
        DataOutputStream out = new DataOutputStream(rawOut);
        byte[] header = new byte[HEADER_BYTES];
        byte[] buffer = new byte[64 * 1024];
        long exchanges = 0, received = 0, sent = 0, wrongAt = -1;
        boolean digesting = true;
        try {
            while (true) {
                int first = in.read();
                if (first < 0) {
                    out.write(digesting ? digest.digest() : new byte[32]);
                    out.flush();
                    return new Served(exchanges, received, sent, wrongAt, null);
                }
                header[0] = (byte) first;
                in.readFully(header, 1, HEADER_BYTES - 1);
                digest.update(header);
                java.nio.ByteBuffer h = java.nio.ByteBuffer.wrap(header);
                long upload = h.getLong();
                long download = h.getLong();
                int seed = h.getInt();
                int flags = h.getInt();
                digesting &= (flags & FLAG_NO_CHECK) == 0;
                long wrong = readPayload(in, upload, seed, digesting, digesting ? digest : null, buffer);
                if (wrong >= 0 && wrongAt < 0) {
                    wrongAt = received + wrong;
                }
                received += HEADER_BYTES + upload;
                writePayload(out, download, ~seed, null);
                out.flush();
                sent += download;
                exchanges++;
            }
        } catch (IOException e) {
            return new Served(exchanges, received, sent, wrongAt, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }
}
