package dev.sluice.agent.prefilter;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.prefilter.Cidr;
import dev.sluice.datapath.prefilter.PrefilterMaps;
import dev.sluice.libbpf.BpfException;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BpfProgram;
import dev.sluice.libbpf.XdpMode;
import dev.sluice.linux.Libc;
import dev.sluice.model.SluiceValues;
import dev.sluice.model.cluster.ClusterChange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;

/**
 * The XDP prefilter on the node's uplink (the node namespace's interface towards the fabric): drops IPv4
 * packets from blocked CIDRs before the stack allocates them (bpf/xdp_prefilter.bpf.c).
 *
 * <p>The blocked CIDRs live in the node's pinned trie ({@code prefilter_v4}), which is the state: {@code sluice
 * prefilter add|delete} writes it directly (as {@code cilium prefilter} does through Cilium's agent), and this
 * subsystem adds the values file's {@code prefilter.cidrs} at start without removing anything else. A restarted
 * agent loads the object against the pinned maps (their entries kept) and adopts the pinned XDP link, so a
 * restart changes nothing in the kernel. The link's pin name records the mode it was attached in.
 */
public final class PrefilterSubsystem implements Subsystem {
    /** The node namespace's uplink, as the lab names it (LabNetwork). */
    public static final String UPLINK = "eth0";
    private static final String PIN_NATIVE = "prefilter_xdp_native";
    private static final String PIN_GENERIC = "prefilter_xdp_generic";

    private final BpfObject object;
    private final PrefilterMaps maps;
    private final BpfLink link;
    private final XdpMode mode;
    private final String device;
    private final int adoptedCidrs;

    public PrefilterSubsystem(Path pinDir, String device, SluiceValues.Prefilter values, int flowRingBytes) {
        this.device = device;
        this.object = Programs.openForNode(Programs.XDP_PREFILTER, pinDir.resolve("maps"), flowRingBytes).load();
        try {
            this.maps = new PrefilterMaps(object.map(PrefilterMaps.MAP_CIDRS), object.map(PrefilterMaps.MAP_DROPS));
            this.adoptedCidrs = maps.list().size();
            List<Cidr> fromValues = values.cidrs().stream().map(Cidr::parse).toList();
            maps.add(fromValues);
            Path links = pinDir.resolve("links");
            Path nativePin = links.resolve(PIN_NATIVE);
            Path genericPin = links.resolve(PIN_GENERIC);
            if (Files.exists(nativePin)) {
                link = BpfLink.openPinned(nativePin);
                mode = XdpMode.DRIVER;
            } else if (Files.exists(genericPin)) {
                link = BpfLink.openPinned(genericPin);
                mode = XdpMode.GENERIC;
            } else {
                int ifindex = Libc.ifNameToIndex(device);
                if (ifindex <= 0) {
                    throw new IllegalStateException("the uplink " + device + " is not in this namespace");
                }
                BpfProgram program = object.program(PrefilterMaps.PROGRAM);
                BpfLink attached = null;
                XdpMode used = XdpMode.GENERIC;
                if (values.mode().equals("native")) {
                    try {
                        attached = program.attachXdp(ifindex, XdpMode.DRIVER);
                        used = XdpMode.DRIVER;
                    } catch (BpfException e) {
                        System.out.println("agent: prefilter: " + device + " has no native XDP (" + e.getMessage() + "); generic XDP instead");
                    }
                }
                if (attached == null) {
                    attached = program.attachXdp(ifindex, XdpMode.GENERIC);
                }
                Files.createDirectories(links);
                attached.pin(used == XdpMode.DRIVER ? nativePin : genericPin);
                link = attached;
                mode = used;
            }
        } catch (RuntimeException | java.io.IOException e) {
            object.close();
            throw e instanceof RuntimeException re ? re : new java.io.UncheckedIOException((java.io.IOException) e);
        }
    }

    public XdpMode mode() {
        return mode;
    }

    public int adoptedCidrs() {
        return adoptedCidrs;
    }

    public PrefilterMaps maps() {
        return maps;
    }

    /** Unpins and detaches the prefilter's link (the values turned it off); the maps stay pinned. */
    public static boolean detachPinned(Path pinDir) {
        boolean any = false;
        for (String pin : List.of(PIN_NATIVE, PIN_GENERIC)) {
            Path p = pinDir.resolve("links").resolve(pin);
            if (Files.exists(p)) {
                BpfLink.openPinned(p).detach();
                any = true;
            }
        }
        return any;
    }

    @Override
    public String name() {
        return "Prefilter";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return false; // nothing of the cluster view: the CIDRs are written straight into the map
    }

    @Override
    public Applied apply(ClusterChange change) {
        return Applied.ok();
    }

    @Override
    public List<Line> status() {
        SortedSet<Cidr> cidrs = maps.list();
        long packets = 0;
        for (DropValue v : maps.drops().values()) {
            packets += v.packets();
        }
        List<Line> lines = new ArrayList<>();
        lines.add(new Line("Prefilter", (mode == XdpMode.DRIVER ? "native" : "generic") + " XDP on " + device + ", "
                + cidrs.size() + " CIDR(s) blocked, " + packets + " packet(s) dropped"));
        return lines;
    }

    @Override
    public Set<String> features() {
        return Set.of("Prefilter");
    }

    /** Releases this process's handles; the pinned link and maps stay, so the prefilter keeps working. */
    @Override
    public void close() {
        link.close();
        object.close();
    }
}
