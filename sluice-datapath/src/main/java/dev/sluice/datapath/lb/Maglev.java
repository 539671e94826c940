package dev.sluice.datapath.lb;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of M entries in which every
 * backend owns close to M/N entries, and adding or removing one backend moves few of the others'
 * entries, so established per-packet flows keep their backend as a Service scales.
 */
public final class Maglev {
    /** The default table size (values: maglev.tableSize; see SluiceValues for why not Cilium's 16381). */
    public static final int DEFAULT_TABLE_SIZE = 1021;

    private Maglev() {
    }

    /**
     * The table: entry i is an index into {@code backends}. Backends are named by a stable string (e.g.
     * "10.244.1.10:50051") so that the table depends on who the backends are, not on their order.
     */
    public static int[] table(List<String> backends, int size) {
        if (!isPrime(size)) {
            throw new IllegalArgumentException("Maglev table size must be a prime, got " + size);
        }
        int[] table = new int[size];
        Arrays.fill(table, -1);
        int n = backends.size();
        if (n == 0) {
            return table;
        }
        String[] sorted = backends.stream().sorted().toArray(String[]::new);
        int[] index = new int[n];
        for (int i = 0; i < n; i++) {
            index[i] = backends.indexOf(sorted[i]);
        }
        long[] offset = new long[n];
        long[] skip = new long[n];
        for (int i = 0; i < n; i++) {
            byte[] h = sha256(sorted[i]);
            offset[i] = Integer.toUnsignedLong(ByteBuffer.wrap(h, 0, 4).getInt()) % size;
            skip[i] = Integer.toUnsignedLong(ByteBuffer.wrap(h, 4, 4).getInt()) % (size - 1) + 1;
        }
        long[] next = new long[n];
        int filled = 0;
        while (true) {
            for (int i = 0; i < n; i++) {
                long c = (offset[i] + next[i] * skip[i]) % size;
                while (table[(int) c] >= 0) {
                    next[i]++;
                    c = (offset[i] + next[i] * skip[i]) % size;
                }
                table[(int) c] = index[i];
                next[i]++;
                if (++filled == size) {
                    return table;
                }
            }
        }
    }

    // Two independent hashes per backend, as the paper asks; a linear hash (CRC) would correlate the
    // offsets of similar names such as 10.244.1.10 and 10.244.1.11.
    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    public static boolean isPrime(int n) {
        if (n < 2) {
            return false;
        }
        for (int d = 2; (long) d * d <= n; d++) {
            if (n % d == 0) {
                return false;
            }
        }
        return true;
    }
}
