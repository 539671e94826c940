package dev.sluice.datapath.policy;

import dev.sluice.datapath.Cleanup;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.abi.CtFlag;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.LbCtFlag;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.datapath.lb.LbStructs.Ct4Key;
import dev.sluice.datapath.lb.LbStructs.Ct4LbEntry;
import dev.sluice.datapath.policy.FrameModel.Kind;
import dev.sluice.datapath.policy.FrameModel.Parsed;
import dev.sluice.datapath.policy.FrameModel.Tuple;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;
import dev.sluice.datapath.policy.PolicyStructs.DropKey;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.Frag4Key;
import dev.sluice.datapath.policy.PolicyStructs.Frag4L4;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BpfProgram;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.libbpf.TestRunResult;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.SluiceValues;
import dev.sluice.policy.Decision;
import dev.sluice.policy.Direction;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Peer;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.ReferenceEvaluator;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A packet fuzzer for the pod-veth programs: 100,000 frames from a seeded RNG, well-formed and mutated (bad IHL,
 * versions, total lengths, IP options, zero-length and truncated L4 headers, TCP data offsets, odd fragment
 * offsets and MF combinations, every IP protocol 0..255, other EtherTypes, padding, replies and more packets of
 * flows already admitted, ICMP errors quoting them), each run through the real programs with BPF_PROG_TEST_RUN:
 * a frame leaving the pod through {@code from_pod} and then, as its output, {@code policy_from_pod}; a frame
 * entering it through {@code policy_to_pod} and then, when passed, {@code to_pod} (the tcx chain's order each way:
 * policy judges a Service reply by the backend's address, before to_pod gives it the frontend's again). Some frames
 * entering are the backends' answers to flows from_pod translated, so that to_pod's reverse NAT is exercised.
 *
 * <p>Every frame is judged by {@link FrameModel} (what the datapath is documented to do with it) and, for a new
 * flow, by {@link ReferenceEvaluator} on the tuple it parses to, against policies read from YAML. The maps hold
 * those policies compiled by hand below (what PolicyCompiler writes for them; PolicyCompilerDifferentialTest
 * checks the compiler against the oracle). Checked per frame: the verdict; for a drop, its counter (reason,
 * rule, remote identity) went up by one; for a new flow admitted, its conntrack entry (rule, direction); for a
 * drop, no conntrack entry of its tuple appeared; for a first fragment, the ports it left for its later ones
 * (none when its source was forged); for from_pod, that only a well-formed Service packet was rewritten (to a
 * backend, with a right IP checksum when it had one), everything else left byte for byte; for to_pod, that it
 * dropped nothing and rewrote only a Service reply (ct4_lb's reply entry for its tuple) or a later fragment of one
 * (frag4_lb), to its frontend's source, everything else left byte for byte; that the policy programs pass frames
 * unchanged. Checked at the end: every conntrack entry in either table was expected, every drop counter has exactly
 * the expected count, ct4_lb holds one reply entry per translated flow (to_pod creates none).
 *
 * <p>The endpoint (the test run's loopback device) is in turn {@code app} (enforcing both ways), {@code half}
 * (ingress only) and {@code free} (nothing), so that malformed frames are seen dropped (134) where enforced and
 * passed where not.
 */
class PacketFuzzTest {
    static final long SEED = Long.getLong("sluice.fuzz.seed", 0x5eed_2024L);
    static final int FRAMES = Integer.getInteger("sluice.fuzz.frames", 100_000);
    static final int TC_ACT_UNSPEC = -1;
    static final int TC_ACT_SHOT = 2;
    static final int LOOPBACK = 1;
    static final int IN = dev.sluice.datapath.abi.Direction.INGRESS.value();
    static final int EG = dev.sluice.datapath.abi.Direction.EGRESS.value();
    static final int IDENTITY_WORLD = 2;

    static final String POLICIES = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: app, namespace: fuzz}
            spec:
              endpointSelector: {matchLabels: {app: app}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
                toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "5353", protocol: UDP}, {port: "9000", protocol: SCTP}]}]
              - fromEndpoints: [{matchLabels: {app: trusted}}]
              ingressDeny:
              - fromEndpoints: [{matchLabels: {app: bad}}]
                toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
              egress:
              - toEndpoints: [{matchLabels: {app: client}}]
                toPorts: [{ports: [{port: "53", protocol: UDP}, {port: "443", protocol: TCP}]}]
              - toEndpoints: [{matchLabels: {app: trusted}}]
              - toEntities: [world]
                toPorts: [{ports: [{port: "443", protocol: TCP}]}]
              egressDeny:
              - toEndpoints: [{matchLabels: {app: bad}}]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: half, namespace: fuzz}
            spec:
              endpointSelector: {matchLabels: {app: half}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
                toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
            """;

    /** The local endpoints the fuzzer plays, with their policy's rule ids (rule path -> id) and default-deny rules. */
    record Local(String name, int endpointId, int address, boolean enforceIngress, boolean enforceEgress, int defaultIngress,
                 int defaultEgress) {
    }

    static final int APP = addr(10, 9, 0, 10);
    static final int HALF = addr(10, 9, 0, 11);
    static final int FREE = addr(10, 9, 0, 12);
    static final int CLIENT = addr(10, 9, 0, 20);
    static final int TRUSTED = addr(10, 9, 0, 21);
    static final int BAD = addr(10, 9, 0, 22);
    static final int OTHER = addr(10, 9, 0, 23);
    static final int WORLD = addr(203, 0, 113, 7);
    static final int VIP = addr(10, 96, 0, 10);
    static final int[] PEERS = {CLIENT, TRUSTED, BAD, OTHER, WORLD, addr(198, 18, 0, 1), VIP};
    static final int[] PORTS = {8080, 5353, 9000, 53, 443, 80, 0, 1, 65535};

    static final List<Local> LOCALS = List.of(
            new Local("app", 10, APP, true, true, 100, 101),
            new Local("half", 11, HALF, true, false, 102, 0),
            new Local("free", 12, FREE, false, false, 0, 0));

    /** Rule ids of the hand-compiled entries, by policy and rule path (the oracle names rules so). */
    static final Map<String, Integer> RULE_IDS = Map.of(
            "app spec.ingress[0]", 1, "app spec.ingress[1]", 2, "app spec.ingressDeny[0]", 3,
            "app spec.egress[0]", 4, "app spec.egress[1]", 5, "app spec.egress[2]", 6, "app spec.egressDeny[0]", 7,
            "half spec.ingress[0]", 8);

    @TempDir
    static Path dir;

    private static final Cleanup cleanup = new Cleanup();
    private static BpfObject policy;
    private static BpfObject veth;
    private static PolicyTestMaps maps;
    private static TypedMap<Frag4Key, Frag4L4> frags;
    private static TypedMap<Ct4Key, Ct4LbEntry> lbCt;
    private static TypedMap<Frag4Key, Inet4Address> lbFrags;
    private static TypedMap<Integer, EndpointInfo> vethEndpoints;
    private static TypedMap<DropKey, List<DropValue>> vethDrops;
    private static PolicySet policies;
    private static final Map<Integer, Endpoint> pods = new HashMap<>();
    private static final Map<Integer, Integer> identities = new HashMap<>();
    private static final AtomicLong events = new AtomicLong();

    static int addr(int a, int b, int c, int d) {
        return (a << 24) | (b << 16) | (c << 8) | d;
    }

    private static final Map<Integer, Inet4Address> INET = new HashMap<>();

    static Inet4Address inet(int address) {
        return INET.computeIfAbsent(address, a -> {
            try {
                return (Inet4Address) InetAddress.getByAddress(ByteBuffer.allocate(4).putInt(a).array());
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException(e);
            }
        });
    }

    @BeforeAll
    static void setUp() throws IOException {
        Privileged.require();
        try {
            Path file = dir.resolve("policies.yaml");
            Files.writeString(file, POLICIES);
            List<String> warnings = new ArrayList<>();
            policies = PolicyParser.parseAll(ManifestReader.read(List.of(file)).others(), warnings::add);
            assertTrue(warnings.isEmpty(), "policy warnings: " + warnings);
            IdentityAllocator allocator = new IdentityAllocator();
            Map<String, Integer> byName = new LinkedHashMap<>(Map.of("app", APP, "half", HALF, "free", FREE, "client", CLIENT,
                    "trusted", TRUSTED, "bad", BAD, "other", OTHER));
            for (Map.Entry<String, Integer> p : byName.entrySet()) {
                Endpoint e = Endpoint.of(allocator, "fuzz", p.getKey(), Map.of("app", p.getKey()), Map.of(), List.of());
                pods.put(p.getValue(), e);
                identities.put(p.getValue(), (int) e.identity().id());
            }

            policy = cleanup.add(Programs.open(Programs.POD_POLICY).load());
            veth = cleanup.add(Programs.open(Programs.POD_VETH).load());
            maps = new PolicyTestMaps(policy);
            frags = policy.map(PolicyStructs.MAP_FRAG).typed(Frag4Key.CODEC, Frag4L4.CODEC);
            lbCt = veth.map("ct4_lb").typed(Ct4Key.CODEC, Ct4LbEntry.CODEC);
            lbFrags = veth.map("frag4_lb").typed(Frag4Key.CODEC, Codecs.ipv4());
            vethEndpoints = veth.map(PolicyStructs.MAP_ENDPOINTS).typed(Codecs.u32(), EndpointInfo.CODEC);
            vethDrops = veth.map(PolicyStructs.MAP_DROPS).typedPerCpu(DropKey.CODEC, DropValue.CODEC);
            for (Map.Entry<Integer, Integer> id : identities.entrySet()) {
                maps.ipcache.update(PolicyStructs.IpcacheKey.host(inet(id.getKey())), new PolicyStructs.IpcacheValue(id.getValue()));
            }
            compile();
            new LbMapWriter(LbMaps.of(veth::map), SluiceValues.DEFAULT_MAGLEV_TABLE_SIZE, true).sync(List.of(
                    new Frontend("fuzz/web", "http", "10.96.0.10", 80, FrameModel.TCP, 1, false, 0, List.of(
                            new Backend("10.9.0.20", 8080, FrameModel.TCP, 1, "client"),
                            new Backend("10.9.0.21", 8080, FrameModel.TCP, 2, "trusted"))),
                    new Frontend("fuzz/dns", "dns", "10.96.0.10", 53, FrameModel.UDP, 2, false, 0, List.of(
                            new Backend("10.9.0.20", 5353, FrameModel.UDP, 3, "client")))));
            for (BpfObject o : List.of(policy, veth)) {
                o.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(Aggregation.NONE));
                cleanup.add(RingBufferReader.start(o.map(FlowStructs.MAP_EVENTS), FlowEvent.CODEC, e -> events.incrementAndGet(), 100_000));
            }
        } catch (RuntimeException | Error | IOException e) {
            tearDown();
            throw e;
        }
    }

    /** The entries PolicyCompiler writes for POLICIES (any-protocol entries for rules without toPorts). */
    private static void compile() {
        int client = identities.get(CLIENT);
        int trusted = identities.get(TRUSTED);
        int bad = identities.get(BAD);
        maps.allow(10, IN, client, FrameModel.TCP, 8080, 1);
        maps.allow(10, IN, client, FrameModel.UDP, 5353, 1);
        maps.allow(10, IN, client, FrameModel.SCTP, 9000, 1);
        maps.allow(10, IN, trusted, 0, 0, 2);
        maps.deny(10, IN, bad, FrameModel.TCP, 8080, 3);
        maps.allow(10, EG, client, FrameModel.UDP, 53, 4);
        maps.allow(10, EG, client, FrameModel.TCP, 443, 4);
        maps.allow(10, EG, trusted, 0, 0, 5);
        maps.allow(10, EG, IDENTITY_WORLD, FrameModel.TCP, 443, 6);
        maps.deny(10, EG, bad, 0, 0, 7);
        maps.allow(11, IN, client, FrameModel.TCP, 8080, 8);
    }

    @AfterAll
    static void tearDown() {
        cleanup.close();
    }

    private static void become(Local local) {
        EndpointInfo info = new EndpointInfo(identities.get(local.address()), local.endpointId(), local.enforceIngress(),
                local.enforceEgress(), local.defaultIngress(), local.defaultEgress(), inet(local.address()), 0);
        maps.endpoints.update(LOOPBACK, info);
        vethEndpoints.update(LOOPBACK, info);
    }

    // ---- what the datapath should do

    enum Outcome { DROP, NEW, REPLY, ESTABLISHED, RELATED, PASS_UNJUDGED, AMBIGUOUS }

    /**
     * An expected verdict: the drop counter it makes (null when passed), the CT key the frame is tracked by (null
     * when it is not judged by its tuple), and the CT rule for a new flow. AMBIGUOUS (a CT entry expiring as the
     * program looks) carries what a new flow would get.
     */
    record Expected(Outcome outcome, DropKey drop, Ct4Tuple key, int ruleId) {
        Expected(Outcome outcome, DropKey drop, int ruleId) {
            this(outcome, drop, null, ruleId);
        }

        Expected with(Ct4Tuple key) {
            return new Expected(outcome, drop, key, ruleId);
        }
    }

    private final ReferenceEvaluator oracle = new ReferenceEvaluator(ReferenceEvaluator.LocalHost.BY_POLICY);
    /** Every policy CT key a frame should have created (tuple and direction). */
    private final Set<Ct4Tuple> expectedCt = new HashSet<>();
    private final Map<DropKey, Long> expectedDrops = new HashMap<>();
    private final Map<DropKey, Long> expectedVethDrops = new HashMap<>();
    private final Set<Ct4Key> translated = new HashSet<>();
    private final Map<String, Long> tally = new TreeMap<>();
    private long ambiguous;

    private static Ct4Tuple ctKey(Tuple t, int direction) {
        return new Ct4Tuple(inet(t.saddr()), inet(t.daddr()), t.sport(), t.dport(), t.proto(), direction);
    }

    private static int remoteIdentity(int address) {
        return identities.getOrDefault(address, IDENTITY_WORLD);
    }

    private static Peer peer(int address) {
        Endpoint pod = pods.get(address);
        return pod != null ? pod : new Peer.External(inet(address));
    }

    /**
     * 1: live in either table, 0: absent or expired in both, -1: within a second of expiring (either may be true
     * when the program looks).
     */
    private static int live(Ct4Tuple key, long now) {
        int established = live(maps.ctEstablished.lookup(key).orElse(null), now);
        int fresh = live(maps.ctNew.lookup(key).orElse(null), now);
        return established == 1 || fresh == 1 ? 1 : established < 0 || fresh < 0 ? -1 : 0;
    }

    private static int live(Ct4Entry e, long now) {
        if (e == null) {
            return 0;
        }
        long left = e.lifetimeNs() - now;
        return Math.abs(left) < 1_000_000_000L ? -1 : left > 0 ? 1 : 0;
    }

    /** The entry the programs find for key: the established table's if live, else the new one's. */
    private static Ct4Entry liveEntry(Ct4Tuple key, long now) {
        Ct4Entry e = maps.ctEstablished.lookup(key).orElse(null);
        return live(e, now) == 1 ? e : maps.ctNew.lookup(key).orElseThrow();
    }

    private Expected expect(Local local, int dir, Parsed p, byte[] frame) {
        boolean enforced = dir == IN ? local.enforceIngress() : local.enforceEgress();
        int defaultRule = dir == IN ? local.defaultIngress() : local.defaultEgress();
        int remoteAddress = p.ipOk() ? (dir == IN ? p.tuple().saddr() : p.tuple().daddr()) : 0;
        int remote = p.ipOk() ? remoteIdentity(remoteAddress) : 0;
        Integer claimed = FrameModel.claimedSource(frame);
        if (dir == EG && claimed != null && claimed != local.address()) {
            return new Expected(Outcome.DROP, new DropKey(local.endpointId(), dir, DropReason.INVALID_SIP.value(), 0, remote), 0);
        }
        Kind kind = p.kind();
        Parsed q = p;
        if (kind == Kind.LATER_FRAGMENT) {
            Frag4L4 l4 = frags.lookup(new Frag4Key(inet(p.tuple().saddr()), inet(p.tuple().daddr()), p.ipId(), p.tuple().proto())).orElse(null);
            if (l4 == null) {
                kind = Kind.INVALID; // placeholder for FRAG_UNKNOWN below
            } else {
                Tuple t = new Tuple(p.tuple().saddr(), p.tuple().daddr(), l4.sourcePort(), l4.destinationPort(), p.tuple().proto());
                q = new Parsed(Kind.OK, p.etherType(), true, t, l4.policyPort(), l4.tcpFlags(), p.ipId(), false, null, false, 0);
            }
        }
        if (q.kind() != Kind.OK) {
            if (!enforced || (kind == Kind.NOT_IPV4 && p.etherType() == FrameModel.ETH_P_ARP)) {
                return new Expected(Outcome.PASS_UNJUDGED, null, 0);
            }
            DropReason reason = p.kind() == Kind.NOT_IPV4 ? DropReason.UNKNOWN_L3
                    : p.kind() == Kind.LATER_FRAGMENT ? DropReason.FRAG_NOT_FOUND : DropReason.INVALID;
            return new Expected(Outcome.DROP, new DropKey(local.endpointId(), dir, reason.value(), defaultRule, remote), 0);
        }
        long now = System.nanoTime();
        Tuple t = q.tuple();
        Ct4Tuple own = ctKey(t, dir);
        int other = dir == IN ? EG : IN;
        boolean unsure = false;
        if (q.inner() != null) {
            int a = live(ctKey(q.inner(), other), now);
            int b = live(ctKey(q.inner().reversed(), dir), now);
            if (a == 1 || b == 1) {
                return new Expected(Outcome.RELATED, null, 0).with(own);
            }
            unsure = a < 0 || b < 0;
        }
        int reply = live(ctKey(t.reversed(), other), now);
        if (reply == 1 && !unsure) {
            return new Expected(Outcome.REPLY, null, 0).with(own);
        }
        unsure |= reply != 0;
        int established = live(own, now);
        unsure |= established < 0;
        if (established == 1 && !unsure) {
            Ct4Entry e = liveEntry(own, now);
            boolean closing = (e.flags() & (CtFlag.RX_CLOSING.value() | CtFlag.TX_CLOSING.value())) != 0;
            boolean synOnly = (q.tcpFlags() & 0x12) == 0x02;
            if (!(t.proto() == FrameModel.TCP && closing && synOnly)) {
                return new Expected(Outcome.ESTABLISHED, null, 0).with(own);
            }
        }
        Endpoint self = pods.get(local.address());
        Decision d = oracle.decideIp(policies, self, dir == IN ? Direction.INGRESS : Direction.EGRESS, peer(remoteAddress),
                t.proto(), q.policyPort());
        int rule;
        if (d.policy() == null) {
            rule = 0;
        } else if (d.rule().endsWith("endpointSelector")) {
            rule = defaultRule;
        } else {
            Integer id = RULE_IDS.get(d.policy().name() + " " + d.rule());
            if (id == null) {
                throw new AssertionError("no rule id for " + d.policy() + " " + d.rule());
            }
            rule = id;
        }
        DropKey drop = d.allowed() ? null : new DropKey(local.endpointId(), dir, d.dropReasonCode(), rule, remote);
        Outcome outcome = unsure ? Outcome.AMBIGUOUS : d.allowed() ? Outcome.NEW : Outcome.DROP;
        return new Expected(outcome, drop, own, d.allowed() && enforced ? rule : 0);
    }

    // ---- frames

    /** A flow a frame is made from: ICMP carries its type in sport and its echo id in dport here. */
    record Flow(int saddr, int daddr, int proto, int sport, int dport, int dir) {
    }

    private final List<Flow> admitted = new ArrayList<>();
    /** The answers of the backends of flows from_pod translated (entering the pod: policy_to_pod, then to_pod). */
    private final List<Flow> serviceReplies = new ArrayList<>();
    private final List<byte[]> firstFragments = new ArrayList<>();

    static int pick(Random r, int[] values) {
        return values[r.nextInt(values.length)];
    }

    private Flow newFlow(Random r, Local local, int index) {
        int dir = r.nextBoolean() ? IN : EG;
        int proto;
        if (index < 256 * 8) {
            proto = index % 256;
        } else {
            int k = r.nextInt(10);
            proto = k < 3 ? FrameModel.TCP : k < 5 ? FrameModel.UDP : k < 6 ? FrameModel.SCTP : k < 7 ? FrameModel.ICMP : r.nextInt(256);
        }
        int remote = r.nextInt(20) == 0 ? r.nextInt() : pick(r, PEERS);
        if (dir == IN && remote == VIP) {
            remote = CLIENT;
        }
        int self = local.address();
        if (r.nextInt(25) == 0) {
            self = r.nextBoolean() ? pick(r, PEERS) : r.nextInt(); // a forged source (egress), or not for us (ingress)
        }
        int sport;
        int dport;
        if (proto == FrameModel.ICMP) {
            int[] types = {8, 8, 0, 3, 11, 12, 5, r.nextInt(256)};
            sport = pick(r, types);
            dport = r.nextInt(65536);
        } else {
            sport = r.nextInt(8) == 0 ? pick(r, PORTS) : 1024 + r.nextInt(64512);
            dport = r.nextInt(5) == 0 ? r.nextInt(65536) : pick(r, PORTS);
        }
        return dir == IN ? new Flow(remote, self, proto, sport, dport, IN) : new Flow(self, remote, proto, sport, dport, EG);
    }

    /** The other way of an admitted flow, or more of it. */
    private static Flow follow(Random r, Flow f) {
        if (r.nextBoolean()) {
            return f;
        }
        int sport = f.dport();
        int dport = f.sport();
        if (f.proto() == FrameModel.ICMP) {
            sport = f.sport() == 8 ? 0 : f.sport() == 0 ? 8 : f.sport();
            dport = f.dport();
        }
        return new Flow(f.daddr(), f.saddr(), f.proto(), sport, dport, f.dir() == IN ? EG : IN);
    }

    private static final int[] TCP_FLAGS = {0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x00, 0x3f};

    /** A well-formed frame of flow f (before mutation): IP options, a TCP header with options, payload. */
    private byte[] build(Random r, Flow f) {
        int ihl = r.nextInt(6) == 0 ? 5 + r.nextInt(11) : 5;
        byte[] l4 = l4(r, f);
        byte[] payload = new byte[r.nextInt(4) == 0 ? r.nextInt(200) : r.nextInt(24)];
        r.nextBytes(payload);
        int fragOff = r.nextInt(3) == 0 ? 0x4000 : 0;
        int k = r.nextInt(100);
        if (k < 8) {
            fragOff = 0x2000; // a first fragment
        } else if (k < 16) {
            fragOff = (r.nextInt(4) == 0 ? 1 : 1 + r.nextInt(0x1fff)) | (r.nextBoolean() ? 0x2000 : 0); // a later one
            l4 = new byte[0];
        }
        int id = r.nextInt(65536);
        if ((fragOff & 0x1fff) != 0 && !firstFragments.isEmpty() && r.nextInt(10) < 7) {
            byte[] first = firstFragments.get(r.nextInt(firstFragments.size()));
            id = FrameModel.u16(first, 18);
            f = new Flow(FrameModel.u32(first, 26), FrameModel.u32(first, 30), FrameModel.u8(first, 23), 0, 0, f.dir());
        }
        int totLen = ihl * 4 + l4.length + payload.length;
        ByteBuffer b = ByteBuffer.allocate(FrameModel.ETH + totLen);
        b.put(new byte[] {2, 0, 0, 0, 0, 2}).put(new byte[] {2, 0, 0, 0, 0, 1}).putShort((short) FrameModel.ETH_P_IP);
        b.put((byte) (0x40 | ihl)).put((byte) 0).putShort((short) totLen).putShort((short) id).putShort((short) fragOff)
                .put((byte) 64).put((byte) f.proto()).putShort((short) 0).putInt(f.saddr()).putInt(f.daddr());
        byte[] options = new byte[ihl * 4 - 20];
        r.nextBytes(options);
        b.put(options).put(l4).put(payload);
        byte[] frame = b.array();
        fixIpChecksum(frame);
        if (r.nextInt(4) != 0) {
            fixL4Checksum(frame); // a right one most often, so that NAT is seen keeping it right
        }
        if (fragOff == 0x2000 && firstFragments.size() < 4096) {
            firstFragments.add(frame);
        }
        return frame;
    }

    private byte[] l4(Random r, Flow f) {
        switch (f.proto()) {
            case FrameModel.TCP -> {
                int doff = r.nextInt(5) == 0 ? 5 + r.nextInt(4) : 5;
                ByteBuffer b = ByteBuffer.allocate(doff * 4);
                b.putShort((short) f.sport()).putShort((short) f.dport()).putInt(r.nextInt()).putInt(r.nextInt())
                        .put((byte) (doff << 4)).put((byte) pick(r, TCP_FLAGS)).putShort((short) 64240).putInt(0);
                return b.array();
            }
            case FrameModel.UDP -> {
                return ByteBuffer.allocate(8).putShort((short) f.sport()).putShort((short) f.dport()).putShort((short) 8).putShort((short) 0).array();
            }
            case FrameModel.SCTP -> {
                return ByteBuffer.allocate(12).putShort((short) f.sport()).putShort((short) f.dport()).putInt(r.nextInt()).putInt(0).array();
            }
            case FrameModel.ICMP -> {
                int type = f.sport();
                ByteBuffer b = ByteBuffer.allocate(FrameModel.icmpError(type) ? 8 + 28 : 8);
                b.put((byte) type).put((byte) 0).putShort((short) 0).putShort((short) f.dport()).putShort((short) 1);
                if (FrameModel.icmpError(type)) {
                    // The packet it is about: one the endpoint sent or received (often an admitted flow's), reversed.
                    Flow about = !admitted.isEmpty() && r.nextInt(4) != 0 ? admitted.get(r.nextInt(admitted.size()))
                            : new Flow(f.daddr(), f.saddr(), pick(r, new int[] {6, 17, 132, 1, 47}), 1024 + r.nextInt(60000), pick(r, PORTS), 0);
                    if (r.nextBoolean()) {
                        about = new Flow(about.daddr(), about.saddr(), about.proto(), about.dport(), about.sport(), 0);
                    }
                    b.put((byte) 0x45).put((byte) 0).putShort((short) 48).putShort((short) 0).putShort((short) 0).put((byte) 64)
                            .put((byte) about.proto()).putShort((short) 0).putInt(about.saddr()).putInt(about.daddr());
                    if (about.proto() == FrameModel.ICMP) {
                        b.put((byte) about.sport()).put((byte) 0).putShort((short) 0).putShort((short) about.dport()).putShort((short) 1);
                    } else {
                        b.putShort((short) about.sport()).putShort((short) about.dport()).putInt(r.nextInt());
                    }
                }
                return b.array();
            }
            default -> {
                byte[] junk = new byte[r.nextInt(12)];
                r.nextBytes(junk);
                return junk;
            }
        }
    }

    static void fixIpChecksum(byte[] f) {
        int ihl = FrameModel.u8(f, 14) & 0xf;
        if (ihl < 5 || 14 + ihl * 4 > f.length) {
            return;
        }
        f[24] = 0;
        f[25] = 0;
        int sum = FrameModel.checksum(f, 14, ihl * 4, 0);
        f[24] = (byte) (sum >> 8);
        f[25] = (byte) sum;
    }

    /** A right TCP/UDP checksum for a whole datagram (a UDP one of 0 is sent as 0xffff); nothing for anything else. */
    static void fixL4Checksum(byte[] f) {
        int at = FrameModel.l4ChecksumOffset(f);
        int proto = FrameModel.u8(f, 23);
        if (at < 0 && !(proto == FrameModel.UDP && FrameModel.parse(f).kind() == Kind.OK && (FrameModel.u16(f, 20) & 0x3fff) == 0)) {
            return;
        }
        if (at < 0) {
            at = FrameModel.parse(f).l4Off() + 6;
        }
        f[at] = 0;
        f[at + 1] = 0;
        int sum = FrameModel.l4Checksum(f);
        if (sum == 0 && proto == FrameModel.UDP) {
            sum = 0xffff;
        }
        put16(f, at, sum);
    }

    /** NAT keeps a right L4 checksum right, and a UDP datagram without one (0) without one. */
    private void assertL4ChecksumKept(String program, byte[] before, byte[] after) {
        int at = FrameModel.l4ChecksumOffset(before);
        if (at >= 0 && FrameModel.l4Checksum(before) == 0) {
            assertEquals(0, FrameModel.l4Checksum(after), "a right L4 checksum stays right");
            tally.merge(program + " right L4 checksum kept right", 1L, Long::sum);
        }
        Parsed p = FrameModel.parse(before);
        if (p.kind() == Kind.OK && p.tuple().proto() == FrameModel.UDP && FrameModel.u16(before, p.l4Off() + 6) == 0) {
            assertEquals(0, FrameModel.u16(after, p.l4Off() + 6), "a UDP datagram without a checksum stays without one");
            tally.merge(program + " UDP without checksum kept so", 1L, Long::sum);
        }
    }

    static void put16(byte[] f, int i, int v) {
        f[i] = (byte) (v >> 8);
        f[i + 1] = (byte) v;
    }

    /** One to three of the mutations the brief names, or none. */
    static byte[] mutate(Random r, byte[] frame, Map<String, Long> tally) {
        if (r.nextInt(10) < 6) {
            return frame;
        }
        byte[] f = frame;
        int n = 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            int m = r.nextInt(13);
            if (f.length < 34 && m != 3 && m != 8 && m != 11) {
                continue; // already cut inside the IP header
            }
            tally.merge("mutation " + m, 1L, Long::sum);
            int ihl = f.length > 14 ? FrameModel.u8(f, 14) & 0xf : 5;
            int l4 = 14 + Math.max(5, ihl) * 4;
            switch (m) {
                case 0 -> f[14] = (byte) ((f[14] & 0xf0) | r.nextInt(16)); // IHL
                case 1 -> f[14] = (byte) ((r.nextInt(16) << 4) | (f[14] & 0x0f)); // version
                case 2 -> put16(f, 16, r.nextInt(4) == 0 ? 0 : r.nextBoolean() ? r.nextInt(f.length + 40) : f.length - 14 + r.nextInt(9) - 4);
                case 3 -> f = f.length == 14 ? f : Arrays.copyOf(f, 14 + r.nextInt(f.length - 13)); // truncated anywhere (not before the EtherType)
                case 4 -> { // zero-length L4
                    if (l4 <= f.length) {
                        f = Arrays.copyOf(f, l4);
                        put16(f, 16, l4 - 14);
                    }
                }
                case 5 -> { // L4 header cut short
                    int cut = l4 + r.nextInt(20);
                    if (cut <= f.length) {
                        f = Arrays.copyOf(f, cut);
                        put16(f, 16, cut - 14);
                    }
                }
                case 6 -> { // TCP data offset
                    if (l4 + 12 < f.length) {
                        f[l4 + 12] = (byte) (r.nextInt(16) << 4);
                    }
                }
                case 7 -> { // bytes flipped in the headers
                    for (int k = 0; k < 1 + r.nextInt(4); k++) {
                        int at = 14 + r.nextInt(Math.min(60, f.length - 14));
                        f[at] ^= (byte) (1 << r.nextInt(8));
                    }
                }
                case 8 -> put16(f, 12, pick(r, new int[] {FrameModel.ETH_P_IPV6, FrameModel.ETH_P_ARP, 0x8100, r.nextInt(65536)}));
                case 9 -> put16(f, 20, pick(r, new int[] {r.nextInt(65536), 0x2000, 0x0001, 0x2001, 0x1fff, 0x3fff, 0x8000, 0x6000}));
                case 10 -> f[23] = (byte) r.nextInt(256); // protocol, whatever the L4 bytes say
                case 11 -> { // link-layer padding past the total length
                    f = Arrays.copyOf(f, f.length + 1 + r.nextInt(40));
                }
                default -> { // a total length shorter than the frame: the rest is padding, never read
                    int tot = FrameModel.u16(f, 16);
                    if (tot > 20) {
                        put16(f, 16, tot - 1 - r.nextInt(Math.min(tot - 20, 16)));
                    }
                }
            }
            if (f.length >= 34 && r.nextBoolean()) {
                fixIpChecksum(f);
            }
        }
        return f;
    }

    // ---- the run

    @Test
    void oneHundredThousandFramesAreJudgedAsTheModelAndTheOracleSay() {
        Random r = new Random(SEED);
        BpfProgram fromPod = veth.program("from_pod");
        BpfProgram policyOut = policy.program("policy_from_pod");
        BpfProgram policyIn = policy.program("policy_to_pod");
        BpfProgram toPod = veth.program("to_pod");
        long start = System.nanoTime();
        Local local = null;
        for (int i = 0; i < FRAMES; i++) {
            Local next = LOCALS.get(i / 1000 % 5 < 3 ? 0 : i / 1000 % 5 == 3 ? 1 : 2);
            if (next != local) {
                local = next;
                become(local);
            }
            Flow f = !admitted.isEmpty() && r.nextInt(100) < 15 ? follow(r, admitted.get(r.nextInt(admitted.size()))) : newFlow(r, local, i);
            if (!serviceReplies.isEmpty() && r.nextInt(100) < 3) { // a backend answering a translated flow: to_pod's work
                f = serviceReplies.get(r.nextInt(serviceReplies.size()));
            }
            if (f.saddr() != local.address() && f.daddr() != local.address() && r.nextInt(4) != 0) {
                f = newFlow(r, local, i); // an admitted flow of another endpoint: mostly, one of this one's instead
            }
            byte[] frame = mutate(r, build(r, f), tally);
            try {
                if (f.dir() == EG && r.nextInt(4) != 0) { // else as without per-packet LB: policy alone
                    frame = fromPod(fromPod, local, frame, i);
                    if (frame == null) {
                        continue;
                    }
                }
                byte[] passed = judge(f.dir() == EG ? policyOut : policyIn, local, f.dir(), frame, i);
                if (f.dir() == IN && passed != null) { // the chain's next program on the way in (docs/datapath.md)
                    toPod(toPod, passed);
                }
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("frame " + i + " (seed " + SEED + ", endpoint " + local.name() + ", "
                        + (f.dir() == EG ? "leaving" : "entering") + "): " + e.getMessage() + "\n  frame " + hex(frame), e);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        checkTables();
        System.out.printf("PacketFuzzTest: %d frames in %.1f s (seed %d), %d flow events read, %d ambiguous (CT entry within 1 s of expiry)%n",
                FRAMES, seconds, SEED, events.get(), ambiguous);
        tally.forEach((k, v) -> System.out.printf("  %-40s %d%n", k, v));
    }

    /** from_pod on a frame leaving the pod: null when it dropped it, else what it handed on. */
    private byte[] fromPod(BpfProgram program, Local local, byte[] frame, int index) {
        Integer claimed = FrameModel.claimedSource(frame);
        Parsed p = FrameModel.parse(frame);
        // A later TCP or UDP fragment (a well-formed header) follows its first fragment's translation, if any.
        boolean later = p.ipOk() && (p.tuple().proto() == FrameModel.TCP || p.tuple().proto() == FrameModel.UDP)
                && (FrameModel.u16(frame, 20) & 0x1fff) != 0;
        Integer follow = later ? lbFrags.lookup(new Frag4Key(inet(p.tuple().saddr()), inet(p.tuple().daddr()), p.ipId(),
                p.tuple().proto())).map(a -> ByteBuffer.wrap(a.getAddress()).getInt()).orElse(null) : null;
        TestRunResult.WithPacket out = run(program, frame);
        if (out == null) {
            return null;
        }
        if (claimed != null && claimed != local.address()) {
            assertEquals(TC_ACT_SHOT, out.retval(), "from_pod: a forged source is dropped");
            expectedVethDrops.merge(new DropKey(local.endpointId(), EG, DropReason.INVALID_SIP.value(), 0, 0), 1L, Long::sum);
            tally.merge("from_pod dropped (132)", 1L, Long::sum);
            return null;
        }
        assertEquals(TC_ACT_UNSPEC, out.retval(), "from_pod passes what it does not drop");
        Tuple t = p.tuple();
        if (follow != null) {
            byte[] o = out.packet();
            assertEquals(follow, FrameModel.u32(o, 30), "a later fragment goes where its first fragment went");
            byte[] expected = frame.clone();
            System.arraycopy(o, 30, expected, 30, 4);
            System.arraycopy(o, 24, expected, 24, 2);
            assertTrue(Arrays.equals(expected, o), "only its destination (and the IP checksum) changed");
            if (FrameModel.ipChecksumOk(frame)) {
                assertTrue(FrameModel.ipChecksumOk(o), "a right IP checksum stays right");
            }
            tally.merge("from_pod later fragment translated", 1L, Long::sum);
            return o;
        }
        boolean service = p.lbTranslatable() && t.daddr() == VIP
                && ((t.proto() == FrameModel.TCP && t.dport() == 80) || (t.proto() == FrameModel.UDP && t.dport() == 53));
        if (!service) {
            assertTrue(Arrays.equals(frame, out.packet()), "from_pod left a frame that is no Service packet as it was");
            tally.merge("from_pod untouched", 1L, Long::sum);
            return out.packet();
        }
        byte[] o = out.packet();
        assertEquals(frame.length, o.length, "DNAT keeps the length");
        int daddr = FrameModel.u32(o, 30);
        int dport = FrameModel.u16(o, p.l4Off() + 2);
        assertTrue((daddr == CLIENT || daddr == TRUSTED) && dport == 8080 && t.proto() == FrameModel.TCP
                        || daddr == CLIENT && dport == 5353 && t.proto() == FrameModel.UDP,
                "a Service packet goes to a backend: " + inet(daddr).getHostAddress() + ":" + dport);
        assertEquals(FrameModel.u32(frame, 26), FrameModel.u32(o, 26), "the source stays");
        if (FrameModel.ipChecksumOk(frame)) {
            assertTrue(FrameModel.ipChecksumOk(o), "a right IP checksum stays right");
        }
        assertL4ChecksumKept("from_pod", frame, o);
        translated.add(new Ct4Key(inet(t.saddr()), inet(t.daddr()), t.sport(), t.dport(), t.proto()));
        if (serviceReplies.size() < 4096) {
            serviceReplies.add(new Flow(daddr, t.saddr(), t.proto(), dport, t.sport(), IN));
        }
        tally.merge("from_pod translated", 1L, Long::sum);
        return o;
    }

    /** The policy program on a frame; what it passed on (for the next program of the chain), or null when dropped. */
    private byte[] judge(BpfProgram program, Local local, int dir, byte[] frame, int index) {
        Parsed p = FrameModel.parse(frame);
        Expected e = expect(local, dir, p, frame);
        tally.merge((dir == IN ? "in  " : "out ") + e.outcome() + (e.drop() != null ? " " + e.drop().reason() : ""), 1L, Long::sum);
        tally.merge("parsed " + p.kind() + (p.firstFragment() ? " (first fragment)" : ""), 1L, Long::sum);
        long dropsBefore = e.drop() == null ? 0 : maps.drops(e.drop().endpointId(), e.drop().direction(), e.drop().reason(), e.drop().ruleId(),
                e.drop().remoteIdentity()).packets();
        Ct4Tuple own = e.key();
        List<Object> ownBefore = own == null ? null : List.of(maps.ctEstablished.lookup(own), maps.ctNew.lookup(own));
        Frag4Key fragKey = p.firstFragment() ? new Frag4Key(inet(p.tuple().saddr()), inet(p.tuple().daddr()), p.ipId(), p.tuple().proto()) : null;
        Frag4L4 fragBefore = fragKey == null ? null : frags.lookup(fragKey).orElse(null);

        TestRunResult.WithPacket out = run(program, frame);
        if (out == null) {
            return null;
        }
        int verdict = out.retval();
        byte[] passed = verdict == TC_ACT_SHOT ? null : out.packet();
        if (passed != null) {
            assertTrue(Arrays.equals(frame, passed), "policy passes a frame as it was (it never rewrites)");
        }

        if (e.outcome() == Outcome.AMBIGUOUS) {
            // Either the entry still held (passed), or the frame was decided as a new flow.
            ambiguous++;
            if (verdict == TC_ACT_SHOT) {
                assertTrue(e.drop() != null, "dropped, though allowed as a new flow and tracked");
                expectedDrops.merge(e.drop(), 1L, Long::sum);
            } else {
                expectedCt.add(own);
            }
            return passed;
        }
        if (e.outcome() == Outcome.DROP) {
            assertEquals(TC_ACT_SHOT, verdict, "dropped: " + e.drop());
            long after = maps.drops(e.drop().endpointId(), e.drop().direction(), e.drop().reason(), e.drop().ruleId(),
                    e.drop().remoteIdentity()).packets();
            assertEquals(dropsBefore + 1, after, "the drop is counted under " + e.drop());
            expectedDrops.merge(e.drop(), 1L, Long::sum);
            if (own != null) {
                List<Object> ownAfter = List.of(maps.ctEstablished.lookup(own), maps.ctNew.lookup(own));
                assertEquals(ownBefore, ownAfter, "a dropped frame leaves the CT as it was: " + own);
            }
        } else {
            assertEquals(TC_ACT_UNSPEC, verdict, "passed: " + e.outcome());
        }
        if (e.outcome() == Outcome.NEW) {
            Ct4Tuple key = own;
            Ct4Entry created = maps.ctNew.lookup(key).orElseThrow(() -> new AssertionError("no CT entry for the new flow in ct4_policy_new"));
            assertEquals(e.ruleId(), created.ruleId(), "the CT entry names the rule that admitted it");
            assertEquals(dir, created.direction());
            expectedCt.add(key);
            if (admitted.size() < 20_000 && p.kind() == Kind.OK && (p.tuple().proto() != FrameModel.ICMP || p.policyPort() == 8)) {
                Tuple t = p.tuple();
                int sport = t.proto() == FrameModel.ICMP ? 8 : t.sport();
                int dport = t.proto() == FrameModel.ICMP ? t.sport() : t.dport();
                admitted.add(new Flow(t.saddr(), t.daddr(), t.proto(), sport, dport, dir));
            }
        }
        if (fragKey != null) {
            Frag4L4 fragAfter = frags.lookup(fragKey).orElse(null);
            Integer claimed = FrameModel.claimedSource(frame);
            if (dir == EG && claimed != null && claimed != local.address()) {
                assertEquals(fragBefore, fragAfter, "a forged first fragment leaves no ports for later ones");
            } else {
                assertEquals(new Frag4L4(p.tuple().sport(), p.tuple().dport(), p.policyPort(), p.tcpFlags()), fragAfter,
                        "a first fragment leaves its ports for its later ones");
            }
        }
        return passed;
    }

    /**
     * to_pod on what policy_to_pod passed: it never drops, creates no ct4_lb entry, and rewrites only a Service
     * reply, the reply of a flow from_pod translated (ct4_lb's reply entry for its tuple), or a later fragment of
     * one (frag4_lb): its source becomes the frontend again, everything else but the checksums left byte for byte.
     */
    private void toPod(BpfProgram program, byte[] frame) {
        Parsed p = FrameModel.parse(frame);
        Tuple t = p.tuple();
        boolean later = p.ipOk() && (t.proto() == FrameModel.TCP || t.proto() == FrameModel.UDP)
                && (FrameModel.u16(frame, 20) & 0x1fff) != 0;
        Integer follow = later ? lbFrags.lookup(new Frag4Key(inet(t.saddr()), inet(t.daddr()), p.ipId(), t.proto()))
                .map(a -> ByteBuffer.wrap(a.getAddress()).getInt()).orElse(null) : null;
        Ct4LbEntry reply = !later && p.lbTranslatable()
                ? lbCt.lookup(new Ct4Key(inet(t.saddr()), inet(t.daddr()), t.sport(), t.dport(), t.proto()))
                        .filter(e -> LbCtFlag.REPLY.isSetIn(e.flags())).orElse(null)
                : null;
        TestRunResult.WithPacket out = run(program, frame);
        if (out == null) {
            return;
        }
        assertEquals(TC_ACT_UNSPEC, out.retval(), "to_pod drops nothing (policy_to_pod judged the frame)");
        byte[] o = out.packet();
        assertEquals(frame.length, o.length, "to_pod keeps the length");
        if (follow == null && reply == null) {
            assertTrue(Arrays.equals(frame, o), "to_pod left a frame that is no Service reply as it was");
            tally.merge("to_pod untouched", 1L, Long::sum);
            return;
        }
        int source = follow != null ? follow : ByteBuffer.wrap(reply.frontendAddress().getAddress()).getInt();
        assertEquals(source, FrameModel.u32(o, 26), "a Service reply comes from its frontend again");
        byte[] expected = frame.clone();
        System.arraycopy(o, 26, expected, 26, 4);
        System.arraycopy(o, 24, expected, 24, 2);
        if (reply != null) {
            assertEquals(reply.frontendPort(), FrameModel.u16(o, p.l4Off()), "from the frontend's port");
            System.arraycopy(o, p.l4Off(), expected, p.l4Off(), 2);
            int l4Checksum = p.l4Off() + (t.proto() == FrameModel.TCP ? 16 : 6);
            if (l4Checksum + 2 <= o.length) {
                System.arraycopy(o, l4Checksum, expected, l4Checksum, 2);
            }
        }
        assertTrue(Arrays.equals(expected, o), "only the source (and the checksums) changed");
        if (FrameModel.ipChecksumOk(frame)) {
            assertTrue(FrameModel.ipChecksumOk(o), "a right IP checksum stays right");
        }
        assertL4ChecksumKept("to_pod", frame, o);
        tally.merge(follow != null ? "to_pod later fragment translated back" : "to_pod reply translated back", 1L, Long::sum);
    }

    /**
     * One test run; null when BPF_PROG_TEST_RUN itself refuses the frame before the program runs (EINVAL: the
     * kernel's test harness wants a whole IPv4 header behind an IPv4 EtherType, a whole IPv6 header behind an
     * IPv6 one). Such frames are judged by SourceAndProtocolTest's real packets only where a raw socket sends them.
     */
    private TestRunResult.WithPacket run(BpfProgram program, byte[] frame) {
        try {
            return program.testRunOnce(frame);
        } catch (dev.sluice.libbpf.BpfException e) {
            int etherType = FrameModel.u16(frame, 12);
            int minimum = etherType == FrameModel.ETH_P_IP ? 20 : etherType == FrameModel.ETH_P_IPV6 ? 40 : 0;
            if (e.errno() != dev.sluice.linux.Errno.EINVAL || frame.length - FrameModel.ETH >= minimum) {
                throw e;
            }
            tally.merge(String.format("refused by BPF_PROG_TEST_RUN (EtherType %04x)", etherType), 1L, Long::sum);
            return null;
        }
    }

    private void checkTables() {
        Set<Ct4Tuple> unexpected = new HashSet<>(maps.ct.keys());
        int inKernel = unexpected.size();
        unexpected.removeAll(expectedCt);
        assertTrue(unexpected.isEmpty(), unexpected.size() + " policy CT entries no admitted frame explains, e.g. "
                + unexpected.stream().limit(5).toList());
        Map<DropKey, Long> counted = new HashMap<>();
        maps.allDrops().forEach((k, v) -> counted.put(k, v.packets()));
        assertEquals(expectedDrops, counted, "policy_drops holds exactly the drops expected");
        Map<DropKey, Long> vethCounted = new HashMap<>();
        vethDrops.entries().forEach((k, v) -> vethCounted.put(k, DropValue.sum(v).packets()));
        assertEquals(expectedVethDrops, vethCounted, "pod_veth's policy_drops holds the forged sources from_pod dropped");
        int lbOriginals = 0;
        int lbReplies = 0;
        for (Map.Entry<Ct4Key, Ct4LbEntry> e : lbCt.entries().entrySet()) {
            if (!LbCtFlag.REPLY.isSetIn(e.getValue().flags())) {
                lbOriginals++;
                assertTrue(translated.contains(e.getKey()), "a ct4_lb entry only for a translated Service packet: " + e.getKey());
            } else {
                lbReplies++;
            }
        }
        // from_pod writes a pair per translated flow; to_pod only reads (an entry more would be one it made).
        assertEquals(lbOriginals, lbReplies, "one ct4_lb reply entry per translated flow");
        tally.put("policy CT entries in the kernel", (long) inKernel);
        tally.put("policy CT entries expected", (long) expectedCt.size());
        tally.put("ct4_lb original entries", (long) lbOriginals);
        tally.put("ct4_lb reply entries", (long) lbReplies);
        tally.put("drop counters", (long) counted.size());
    }

    static String hex(byte[] f) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(f.length, 96); i++) {
            s.append(String.format("%02x", f[i] & 0xff));
            if (i == 13 || i == 33) {
                s.append(' ');
            }
        }
        return s.append(f.length > 96 ? "... (" + f.length + " bytes)" : " (" + f.length + " bytes)").toString();
    }
}
