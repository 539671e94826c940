package dev.sluice.bench.lb;

import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.lb.Maglev;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfObject;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Programming time: how long {@link LbMapWriter#sync} takes to write N Services (4 backends each) into
 * freshly loaded sock_lb maps, as an agent does on its first sync, in the two ways the agent runs it:
 * with socket LB (no Maglev tables: in-cluster connections are balanced at connect()) and per packet
 * only (a Maglev table per Service, swapped in by one batch update of the map of maps). Each attempt
 * loads the object with its maps pinned in a directory of its own under /sys/fs/bpf (removed right
 * after), times one {@code sync} of all N frontends, and checks what the maps then hold.
 */
final class ProgrammingBench {
    private final Cleanup cleanup;
    private final PrintStream out;

    ProgrammingBench(Cleanup cleanup, PrintStream out) {
        this.cleanup = cleanup;
        this.out = out;
    }

    /** The timed syncs of one mode and size. */
    record SizeResult(boolean maglev, int services, List<Long> syncNanos) {
    }

    /** @param reps how many syncs per size (the last value repeats for further sizes) */
    List<SizeResult> run(List<Integer> sizes, List<Integer> reps) {
        BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT);
        int m = Maglev.DEFAULT_TABLE_SIZE;
        out.printf(Locale.ROOT, "%n== Programming time: LbMapWriter.sync of N Services x %d backends into fresh sock_lb maps ==%n",
                Workload.BACKENDS_PER_SERVICE);
        long warm = attempt(Workload.frontends(100), true);
        out.printf(Locale.ROOT, "JIT warm-up (not counted): one sync of 100 Services with Maglev tables took %s ms%n", ms(warm));
        List<SizeResult> results = new ArrayList<>();
        for (boolean maglev : List.of(false, true)) {
            for (int s = 0; s < sizes.size(); s++) {
                int n = sizes.get(s);
                List<Frontend> frontends = Workload.frontends(n);
                List<Long> syncs = new ArrayList<>();
                for (int i = 0; i < reps.get(Math.min(s, reps.size() - 1)); i++) {
                    syncs.add(attempt(frontends, maglev));
                    out.printf(Locale.ROOT, "  %s N=%d sync run %d: %s ms%n", mode(maglev), n, i + 1, ms(syncs.getLast()));
                }
                results.add(new SizeResult(maglev, n, syncs));
            }
        }
        out.printf(Locale.ROOT, "%nLbMapWriter.sync, ms (Maglev table size %d where built):%n%n", m);
        out.println("| Agent mode | Services | Backends | runs (in order) | min | median | goal: 10000 in < 1 s |");
        out.println("|---|---:|---:|---|---:|---:|---|");
        for (SizeResult r : results) {
            out.printf(Locale.ROOT, "| %s | %d | %d | %s | %s | %s | %s |%n", mode(r.maglev()), r.services(),
                    r.services() * Workload.BACKENDS_PER_SERVICE, String.join(" ", r.syncNanos().stream().map(ProgrammingBench::ms).toList()),
                    ms(min(r.syncNanos())), ms(median(r.syncNanos())),
                    r.services() == 10000 ? (median(r.syncNanos()) < 1_000_000_000L ? "met" : "NOT met") : "");
        }
        return results;
    }

    private static String mode(boolean maglev) {
        return maglev ? "per-packet (Maglev)" : "socket LB";
    }

    /** One fresh pinned object, one timed sync, what the maps then hold checked; the pins are gone when this returns. */
    private long attempt(List<Frontend> frontends, boolean maglev) {
        return withFreshMaps(maps -> {
            LbMapWriter writer = new LbMapWriter(maps, Maglev.DEFAULT_TABLE_SIZE, maglev);
            System.gc();
            long start = System.nanoTime();
            int changed = writer.sync(frontends);
            long elapsed = System.nanoTime() - start;
            if (changed != frontends.size()) {
                throw new IllegalStateException("sync reported " + changed + " changed frontends, expected " + frontends.size());
            }
            verify(maps, frontends.size(), maglev);
            return elapsed;
        });
    }

    /** Entries in lb4_services (N slot-0 + 4N slots), lb4_backends (4N), lb4_maglev (N inner tables, or none). */
    static void verify(LbMaps maps, int n, boolean withMaglev) {
        int services = maps.services().keys().size();
        int backends = maps.backends().keys().size();
        int maglev = maps.maglev().keys().size();
        int expectedSlots = n * (1 + Workload.BACKENDS_PER_SERVICE);
        if (services != expectedSlots || backends != n * Workload.BACKENDS_PER_SERVICE || maglev != (withMaglev ? n : 0)) {
            throw new IllegalStateException("after writing " + n + " Services: lb4_services has " + services + " entries (expected "
                    + expectedSlots + "), lb4_backends " + backends + " (expected " + n * Workload.BACKENDS_PER_SERVICE + "), lb4_maglev "
                    + maglev + " (expected " + (withMaglev ? n : 0) + ")");
        }
    }

    private <T> T withFreshMaps(Function<LbMaps, T> body) {
        Path dir = BpfFs.DEFAULT_ROOT.resolve("sluice-lbbench-" + Names.unique("p"));
        AutoCloseable unpin = () -> BpfFs.removeTree(dir);
        cleanup.add("pins under " + dir, unpin);
        try (BpfObject object = Programs.open(Programs.SOCK_LB).pinMapsUnder(dir).load()) {
            return body.apply(LbMaps.of(object::map));
        } finally {
            cleanup.runNow(unpin);
        }
    }

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }

    static long min(List<Long> xs) {
        return xs.stream().mapToLong(Long::longValue).min().orElse(0);
    }

    static long median(List<Long> xs) {
        long[] s = xs.stream().mapToLong(Long::longValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
