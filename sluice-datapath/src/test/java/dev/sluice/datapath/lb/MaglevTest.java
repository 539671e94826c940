package dev.sluice.datapath.lb;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MaglevTest {
    private static List<String> backends(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("10.244." + (i % 4) + "." + (10 + i) + ":50051");
        }
        return out;
    }

    @Test
    void everyBackendOwnsNearlyAnEqualShare() {
        int m = Maglev.DEFAULT_TABLE_SIZE;
        for (int n : List.of(1, 2, 3, 4, 7, 10)) {
            int[] table = Maglev.table(backends(n), m);
            int[] counts = new int[n];
            for (int b : table) {
                counts[b]++;
            }
            for (int c : counts) {
                assertTrue(Math.abs(c - (double) m / n) <= 1.0 + m * 0.01, n + " backends: " + java.util.Arrays.toString(counts));
            }
        }
    }

    @Test
    void theTableDependsOnWhoTheBackendsAreNotTheirOrder() {
        List<String> b = backends(4);
        List<String> reversed = new ArrayList<>(b.reversed());
        int[] t1 = Maglev.table(b, 251);
        int[] t2 = Maglev.table(reversed, 251);
        for (int i = 0; i < 251; i++) {
            assertEquals(b.get(t1[i]), reversed.get(t2[i]));
        }
    }

    @Test
    void removingOneBackendMovesLittleElse() {
        List<String> four = backends(4);
        List<String> three = four.subList(0, 3);
        int m = Maglev.DEFAULT_TABLE_SIZE;
        int[] before = Maglev.table(four, m);
        int[] after = Maglev.table(three, m);
        int moved = 0;
        for (int i = 0; i < m; i++) {
            if (before[i] != 3 && !four.get(before[i]).equals(three.get(after[i]))) {
                moved++;
            }
        }
        // Only entries of the removed backend must move; Maglev promises few others do.
        assertTrue(moved < m * 0.1, moved + " of " + m + " entries of surviving backends moved");
    }

    @Test
    void sizesMustBePrime() {
        assertThrows(IllegalArgumentException.class, () -> Maglev.table(backends(2), 1000));
        assertTrue(Maglev.isPrime(16381) && Maglev.isPrime(1021) && Maglev.isPrime(251));
    }
}
