package dev.sluice.bench;

import dev.sluice.bench.prefilter.FrameFlood;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.prefilter.Cidr;
import dev.sluice.datapath.prefilter.PrefilterMaps;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.libbpf.XdpMode;
import dev.sluice.linux.NetNs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Packets per second dropped on one core by the XDP prefilter (bpf/xdp_prefilter.bpf.c) against nftables drop rules
 * matching a set of the same CIDRs (issue 13's benchmark), in the same run: two namespaces made for it, joined by a
 * veth; a generator in one sends 60-byte UDP frames from sources inside the blocked CIDRs (AF_PACKET, sendmmsg,
 * qdisc bypassed: {@link FrameFlood}) out of its end, pinned to one CPU; the other end carries the dropper of the
 * variant. On a veth the receiving end's XDP program (native: veth's NAPI; generic: netif_receive_skb) or netfilter
 * hook runs in the sender's softirq on the sender's CPU, so each variant's rate is what one core does sending and
 * dropping; the generator's share is the same in every variant. Each variant's drops are read back from its own
 * counter (the prefilter's per-CIDR counters, the nft rule's counter) and must equal what was sent.
 *
 * <pre>
 * $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -cp sluice-bench/target/benchmarks.jar \
 *     dev.sluice.bench.PrefilterBench [--cidrs 10000] [--seconds 5] [--rounds 3] [--batch 256] [--cpu 0]
 * </pre>
 *
 * Needs root. Makes two namespaces {@code sbpf-g-PID} and {@code sbpf-s-PID} and deletes them at the end (their
 * veth goes with them); loads the prefilter unpinned. No packet leaves the two namespaces.
 */
public final class PrefilterBench {
    private static final String SINK_IP = "192.168.77.1";
    private static final String GEN_IP = "192.168.77.2";
    private static final int SOURCES = 1024;

    private PrefilterBench() {
    }

    /** The k-th blocked CIDR: every other /24 from 20.0.0.0, so that no two are adjacent (nothing merges). */
    static String cidr(int k) {
        long a = 0x14000000L + 512L * k;
        return (a >> 24 & 255) + "." + (a >> 16 & 255) + "." + (a >> 8 & 255) + ".0/24";
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>(Map.of("--cidrs", "10000", "--seconds", "5", "--rounds", "3", "--batch", "256",
                "--cpu", "0"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!o.containsKey(args[i])) {
                System.err.println("unknown option " + args[i] + "; options: " + o.keySet());
                System.exit(2);
            }
            o.put(args[i], args[i + 1]);
        }
        int cidrs = Integer.parseInt(o.get("--cidrs"));
        long nanos = Long.parseLong(o.get("--seconds")) * 1_000_000_000L;
        int rounds = Integer.parseInt(o.get("--rounds"));
        int batch = Integer.parseInt(o.get("--batch"));
        int cpu = Integer.parseInt(o.get("--cpu"));
        long pid = ProcessHandle.current().pid();
        List<String> blocked = new ArrayList<>();
        for (int k = 0; k < cidrs; k++) {
            blocked.add(cidr(k));
        }
        try (NetNs gen = NetNs.create("sbpf-g-" + pid); NetNs sink = NetNs.create("sbpf-s-" + pid)) {
            gen.ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", sink.name());
            gen.ip("addr", "add", GEN_IP + "/24", "dev", "eth0");
            sink.ip("addr", "add", SINK_IP + "/24", "dev", "eth0");
            gen.ip("link", "set", "eth0", "up");
            sink.ip("link", "set", "eth0", "up");
            int genIf = gen.ifindex("eth0");
            int sinkIf = sink.ifindex("eth0");
            byte[] sinkMac = mac(sink);
            byte[] genMac = mac(gen);
            List<byte[]> frames = new ArrayList<>();
            for (int i = 0; i < SOURCES; i++) {
                // Sources spread over the set: the k-th CIDR's host .(i % 250 + 1).
                int k = (int) ((long) i * 7919 % cidrs);
                String net = cidr(k);
                frames.add(udpFrame(genMac, sinkMac, net.substring(0, net.lastIndexOf('.')) + "." + (i % 250 + 1), SINK_IP, 40000 + i, 9));
            }
            Path nftFile = Files.createTempFile("sbpf", ".nft");
            System.out.printf(Locale.ROOT, "PrefilterBench: %d CIDRs, %d s per measurement, %d rounds, batch %d, CPU %d, %d sources, 60-byte UDP frames%n",
                    cidrs, nanos / 1_000_000_000L, rounds, batch, cpu, SOURCES);
            List<Variant> variants = List.of(
                    new Xdp("XDP prefilter, native (driver) mode, flow events off", XdpMode.DRIVER, false),
                    new Xdp("XDP prefilter, native mode, flow events on (the agent's default, a reader draining the ring)", XdpMode.DRIVER, true),
                    new Xdp("XDP prefilter, generic mode, flow events off", XdpMode.GENERIC, false),
                    new Nft("nftables netdev ingress (set of the CIDRs, counter, drop)", "netdev", nftFile),
                    new Nft("nftables ip prerouting, raw priority (set, counter, drop)", "ip", nftFile));
            Map<String, List<Double>> rates = new LinkedHashMap<>();
            try (FrameFlood flood = gen.call(() -> new FrameFlood(genIf, sinkMac, frames, batch))) {
                for (int r = 0; r < rounds; r++) {
                    List<Variant> order = new ArrayList<>(variants);
                    if (r % 2 == 1) {
                        java.util.Collections.reverse(order);
                    }
                    for (Variant v : order) {
                        v.setUp(sink, sinkIf, blocked);
                        try {
                            run(gen, flood, cpu, Math.max(1_000_000_000L, nanos / 5)); // warm-up
                            long before = v.dropped(sink);
                            long sent = run(gen, flood, cpu, nanos);
                            long dropped = v.dropped(sink) - before;
                            double pps = sent * 1e9 / nanos;
                            rates.computeIfAbsent(v.name(), x -> new ArrayList<>()).add(pps);
                            System.out.printf(Locale.ROOT, "round %d  %-95s %,12.0f pps sent, %,d dropped by it (%.4f of sent)%n", r + 1,
                                    v.name(), pps, dropped, (double) dropped / sent);
                            if (dropped < sent * 0.999) {
                                System.out.println("  WARNING: fewer drops counted than frames sent: the rate is not all this dropper's");
                            }
                        } finally {
                            v.tearDown(sink);
                        }
                    }
                }
            } finally {
                Files.deleteIfExists(nftFile);
            }
            System.out.println();
            System.out.println("median pps over rounds (one core: generator and dropper)");
            double nftBest = 0;
            for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
                double m = median(e.getValue());
                if (e.getKey().startsWith("nftables")) {
                    nftBest = Math.max(nftBest, m);
                }
                System.out.printf(Locale.ROOT, "  %-95s %,12.0f pps  (%,.0f ns per packet)  rounds %s%n", e.getKey(), m, 1e9 / m,
                        e.getValue().stream().map(x -> String.format(Locale.ROOT, "%.0f", x)).toList());
            }
            for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
                if (e.getKey().startsWith("XDP")) {
                    System.out.printf(Locale.ROOT, "  %-95s %.2fx the faster nftables variant%n", e.getKey(), median(e.getValue()) / nftBest);
                }
            }
        }
        System.out.println("PrefilterBench done; its namespaces are deleted.");
    }

    private static long run(NetNs gen, FrameFlood flood, int cpu, long nanos) {
        return gen.call(() -> {
            FrameFlood.pinTo(cpu);
            return flood.floodFor(nanos);
        });
    }

    static double median(List<Double> v) {
        List<Double> c = new ArrayList<>(v);
        c.sort(null);
        return c.size() % 2 == 1 ? c.get(c.size() / 2) : (c.get(c.size() / 2 - 1) + c.get(c.size() / 2)) / 2;
    }

    private static byte[] mac(NetNs ns) {
        String out = ns.ip("-o", "link", "show", "dev", "eth0");
        Matcher m = Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no MAC in: " + out);
        }
        return HexFormat.ofDelimiter(":").parseHex(m.group(1));
    }

    /** A 60-byte Ethernet frame: IPv4 (checksummed) and UDP (checksum 0: none) with 18 bytes of payload. */
    static byte[] udpFrame(byte[] src, byte[] dst, String saddr, String daddr, int sport, int dport) throws Exception {
        byte[] f = new byte[60];
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = 0x08;
        f[14] = 0x45;
        f[16] = 0;
        f[17] = 46; // total length: 20 + 8 + 18
        f[22] = 64;
        f[23] = 17;
        System.arraycopy(java.net.InetAddress.getByName(saddr).getAddress(), 0, f, 26, 4);
        System.arraycopy(java.net.InetAddress.getByName(daddr).getAddress(), 0, f, 30, 4);
        int sum = 0;
        for (int i = 14; i < 34; i += 2) {
            sum += (f[i] & 0xff) << 8 | (f[i + 1] & 0xff);
        }
        while (sum >> 16 != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum = ~sum & 0xffff;
        f[24] = (byte) (sum >> 8);
        f[25] = (byte) sum;
        f[34] = (byte) (sport >> 8);
        f[35] = (byte) sport;
        f[36] = (byte) (dport >> 8);
        f[37] = (byte) dport;
        f[39] = 26; // UDP length: 8 + 18
        return f;
    }

    /** One dropper on the sink's eth0. */
    sealed interface Variant permits Xdp, Nft {
        String name();

        void setUp(NetNs sink, int ifindex, List<String> cidrs) throws Exception;

        /** Packets dropped so far by this variant's own counter. */
        long dropped(NetNs sink) throws Exception;

        void tearDown(NetNs sink) throws Exception;
    }

    /** The prefilter object as the agent loads it (unpinned here), with the CIDRs written as `sluice prefilter add` does. */
    static final class Xdp implements Variant {
        private final String name;
        private final XdpMode mode;
        private final boolean events;
        private BpfObject object;
        private PrefilterMaps maps;
        private BpfLink link;
        private RingBufferReader<FlowEvent> reader;
        private final AtomicLong read = new AtomicLong();

        Xdp(String name, XdpMode mode, boolean events) {
            this.name = name;
            this.mode = mode;
            this.events = events;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public void setUp(NetNs sink, int ifindex, List<String> cidrs) {
            object = Programs.open(Programs.XDP_PREFILTER).load();
            maps = new PrefilterMaps(object.map(PrefilterMaps.MAP_CIDRS), object.map(PrefilterMaps.MAP_DROPS));
            maps.add(cidrs.stream().map(Cidr::parse).toList());
            object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC)
                    .update(0, new FlowConfig(events ? Aggregation.MEDIUM : Aggregation.DISABLED));
            if (events) {
                reader = RingBufferReader.start(object.map(FlowStructs.MAP_EVENTS), FlowEvent.CODEC, e -> read.incrementAndGet(), 65_536);
            }
            // The link is made inside the sink's namespace, where its ifindex is.
            link = sink.call(() -> object.program(PrefilterMaps.PROGRAM).attachXdp(ifindex, mode));
        }

        @Override
        public long dropped(NetNs sink) {
            return maps.drops().values().stream().mapToLong(DropValue::packets).sum();
        }

        @Override
        public void tearDown(NetNs sink) {
            if (link != null) {
                link.close();
            }
            if (reader != null) {
                reader.close();
                System.out.printf(Locale.ROOT, "  (%,d flow events read)%n", read.getAndSet(0));
            }
            object.close();
        }
    }

    /** A table of nftables with a set of the CIDRs (flags interval) and one rule: match the source in it, count, drop. */
    record Nft(String name, String family, Path file) implements Variant {
        @Override
        public void setUp(NetNs sink, int ifindex, List<String> cidrs) throws Exception {
            String hook = family.equals("netdev") ? "type filter hook ingress device eth0 priority -500;"
                    : "type filter hook prerouting priority -300;";
            StringBuilder b = new StringBuilder("table ").append(family).append(" sbpf {\n  set blocked {\n    type ipv4_addr; flags interval;\n    elements = { ");
            b.append(String.join(", ", cidrs)).append(" }\n  }\n  chain block {\n    ").append(hook)
                    .append("\n    ip saddr @blocked counter drop\n  }\n}\n");
            Files.writeString(file, b.toString());
            sink.exec("nft", "-f", file.toString()).orThrow();
        }

        @Override
        public long dropped(NetNs sink) {
            String out = sink.exec("nft", "list", "chain", family, "sbpf", "block").orThrow().stdout();
            Matcher m = Pattern.compile("counter packets (\\d+)").matcher(out);
            if (!m.find()) {
                throw new IllegalStateException("no counter in: " + out);
            }
            return Long.parseLong(m.group(1));
        }

        @Override
        public void tearDown(NetNs sink) {
            sink.exec("nft", "delete", "table", family, "sbpf").orThrow();
        }
    }
}
