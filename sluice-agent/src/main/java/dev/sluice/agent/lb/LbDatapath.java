package dev.sluice.agent.lb;

import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.Frontend;

import dev.sluice.datapath.Programs;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BpfProgram;
import dev.sluice.libbpf.TcDirection;
import dev.sluice.libbpf.TcxPosition;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Libc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A node's load-balancing datapath: the socket-LB programs on the node's pod cgroup, the per-packet
 * programs on each pod's host-side veth, and the maps they share, all pinned under one directory so
 * that a restarted agent adopts them and traffic never notices the restart.
 *
 * <pre>
 * PIN_DIR/maps/lb4_*            the LB maps (shared by both objects through libbpf's pin reuse)
 * PIN_DIR/links/cgroup-PROGRAM  one cgroup link per socket hook
 * PIN_DIR/links/VETH-from|to    tcx links of a pod's veth (ingress: from the pod; egress: to the pod)
 * </pre>
 */
public final class LbDatapath implements AutoCloseable {
    /** The socket hooks: IPv4 sockets, dual-stack sockets reaching IPv4 (v4-mapped), and socket release. */
    static final List<String> SOCKET_HOOKS = List.of("sock4_connect", "sock4_sendmsg", "sock4_recvmsg", "sock4_getpeername",
            "sock6_connect", "sock6_sendmsg", "sock6_recvmsg", "sock6_getpeername", "sock4_release");

    private final Path pinDir;
    private final boolean socketLb;
    private final BpfObject socketObject;
    private final BpfObject vethObject;
    private final LbMaps maps;
    private final LbMapWriter writer;
    private final LbMapWriter.Ids adoptedIds;
    private final Map<String, List<BpfLink>> vethLinks = new HashMap<>();
    private final List<BpfLink> cgroupLinks = new ArrayList<>();
    private final int adoptedLinks;

    /**
     * Loads the programs, reusing maps and links pinned under {@code pinDir} by an earlier agent, and
     * attaches the socket hooks to {@code podCgroup} (when {@code socketLb}) unless already attached.
     */
    public LbDatapath(Path pinDir, Path podCgroup, boolean socketLb, int maglevTableSize, int flowRingBytes) {
        this.pinDir = pinDir;
        this.socketLb = socketLb;
        BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT);
        Path mapDir = pinDir.resolve("maps");
        this.socketObject = Programs.openForNode(Programs.SOCK_LB, mapDir, flowRingBytes).load();
        this.vethObject = Programs.openForNode(Programs.POD_VETH, mapDir, flowRingBytes).load();
        this.maps = LbMaps.of(socketObject::map);
        this.adoptedIds = LbMapWriter.readIds(maps);
        this.writer = new LbMapWriter(maps, maglevTableSize, !socketLb);
        writer.adopt(LbMapWriter.read(maps));
        int adopted = 0;
        if (socketLb) {
            int cgroupFd = Cgroups.openFd(podCgroup);
            try {
                for (String hook : SOCKET_HOOKS) {
                    Path pin = pinDir.resolve("links").resolve("cgroup-" + hook);
                    if (Files.exists(pin)) {
                        cgroupLinks.add(BpfLink.openPinned(pin));
                        adopted++;
                    } else {
                        BpfLink link = socketObject.program(hook).attachCgroup(cgroupFd);
                        link.pin(pin);
                        cgroupLinks.add(link);
                    }
                }
            } finally {
                Libc.close(cgroupFd);
            }
        }
        this.adoptedLinks = adopted;
    }

    /** Ids of frontends and backends found in pinned maps at start (empty on a first start). */
    public LbMapWriter.Ids adoptedIds() {
        return adoptedIds;
    }

    public int adoptedLinks() {
        return adoptedLinks;
    }

    public boolean socketLb() {
        return socketLb;
    }

    /** Programs the frontends; returns how many changed. */
    public int syncServices(List<Frontend> frontends) {
        return writer.sync(frontends);
    }

    public Map<String, Frontend> services() {
        return writer.inForce();
    }

    /**
     * Attaches the per-packet programs to each pod veth of this node that lacks them (adopting pinned
     * links), and drops the pins of veths that are gone (their links died with the device).
     * Runs in the node's network namespace, where the veths are numbered.
     */
    public void syncVeths(Set<String> veths) {
        for (String veth : veths) {
            if (vethLinks.containsKey(veth)) {
                continue;
            }
            int ifindex = ifindex(veth);
            if (ifindex <= 0) {
                continue; // the pod is being made or removed
            }
            // Load balancing wraps everything else on the veth: DNAT first on the way out of the pod (so that
            // policy sees the real backend), reverse NAT last on the way in (so that policy still sees it).
            vethLinks.put(veth, dev.sluice.agent.core.LinkPair.attach(
                    () -> tcx(veth, "from", "from_pod", ifindex, TcDirection.INGRESS, TcxPosition.FIRST),
                    () -> tcx(veth, "to", "to_pod", ifindex, TcDirection.EGRESS, TcxPosition.LAST)));
        }
        for (String veth : List.copyOf(vethLinks.keySet())) {
            if (!veths.contains(veth)) {
                vethLinks.remove(veth).forEach(BpfLink::close);
                BpfFs.unpin(pinDir.resolve("links").resolve(veth + "-from"));
                BpfFs.unpin(pinDir.resolve("links").resolve(veth + "-to"));
            }
        }
    }

    public int attachedVeths() {
        return vethLinks.size();
    }

    /** A map's capacity, as the kernel made it. */
    public int capacity(String map) {
        return socketObject.map(map).maxEntries();
    }

    private BpfLink tcx(String veth, String suffix, String program, int ifindex, TcDirection direction, TcxPosition position) {
        Path pin = pinDir.resolve("links").resolve(veth + "-" + suffix);
        if (Files.exists(pin)) {
            return BpfLink.openPinned(pin);
        }
        BpfProgram p = vethObject.program(program);
        BpfLink link = p.attachTcx(ifindex, direction, position);
        link.pin(pin);
        return link;
    }

    private static int ifindex(String device) {
        return Libc.ifNameToIndex(device);
    }

    /** Releases this process's handles; pinned maps and links stay, so the datapath keeps working. */
    @Override
    public void close() {
        vethLinks.values().forEach(l -> l.forEach(BpfLink::close));
        cgroupLinks.forEach(BpfLink::close);
        socketObject.close();
        vethObject.close();
    }


}
