package dev.sluice.agent.bypass;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.sockmap.SockmapMaps;
import dev.sluice.datapath.sockmap.SockmapStructs;
import dev.sluice.datapath.sockmap.SockmapStructs.Counters;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.ProgAttachLink;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Libc;
import dev.sluice.model.cluster.ClusterChange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The same-node socket bypass (bpf/sock_bypass.bpf.c): a sockops program on the node's pod cgroup puts each
 * established TCP connection between two pods of the node that policy admitted into a SOCKHASH, and an sk_msg
 * program on that map hands each message to the peer socket.
 *
 * <p>Nothing of the cluster view is needed: whether both ends are pods of this node and whether policy admitted
 * the connection are read by the program from policy's conntrack (both endpoints' entries), which the policy
 * subsystem's programs write. So this subsystem only attaches, adopts and reports. Policy changes need nothing
 * from it either: the tc path keeps established flows through policy changes, and the sk_msg program re-checks
 * the CT entries per message (docs/datapath.md, "The socket bypass").
 *
 * <p>On by default ({@code sockops.enabled}); turned off here, with the reason in status, when the kernel refuses
 * the programs (no sockops, sk_msg, sockhash or sk_storage). Pins: {@code links/cgroup-sock_bypass_ops} and
 * {@code links/sockmap-sock_bypass_msg}; a restarted agent adopts both, so a restart changes nothing in the kernel.
 */
public final class BypassSubsystem implements Subsystem {
    static final String OPS = "sock_bypass_ops";
    static final String MSG = "sock_bypass_msg";
    static final String PIN_OPS = "cgroup-" + OPS;
    static final String PIN_MSG = "sockmap-" + MSG;

    /** What the subsystem is: running with its programs, or off with the reason status gives. */
    private sealed interface State permits Running, Disabled {
    }

    private record Running(BpfObject object, SockmapMaps maps, List<BpfLink> links) implements State {
    }

    private record Disabled(String reason) implements State {
    }

    private final State state;

    private BypassSubsystem(State state) {
        this.state = state;
    }

    /** Off by the values file: detaches what an earlier agent attached (sockets already bypassed then take the stack). */
    public static BypassSubsystem disabled(Path pinDir, String reason) {
        detachPinned(pinDir);
        return new BypassSubsystem(new Disabled(reason));
    }

    /**
     * Loads the programs against the node's pinned maps (policy's conntrack among them) and attaches them,
     * adopting pinned links; a kernel that refuses them leaves the bypass off, with its error as the reason.
     */
    public static BypassSubsystem start(Path pinDir, Path podCgroup, int flowRingBytes) {
        BpfObject object;
        try {
            object = Programs.openForNode(Programs.SOCK_BYPASS, pinDir.resolve("maps"), flowRingBytes).load();
        } catch (RuntimeException e) {
            return new BypassSubsystem(new Disabled("the kernel refused the sockops/sk_msg programs (" + firstLine(e) + ")"));
        }
        List<BpfLink> links = new ArrayList<>();
        try {
            Path linkDir = pinDir.resolve("links");
            Files.createDirectories(linkDir);
            Path opsPin = linkDir.resolve(PIN_OPS);
            Path msgPin = linkDir.resolve(PIN_MSG);
            // The sk_msg program first: a socket inserted before it is attached would carry no program.
            if (Files.exists(msgPin)) {
                links.add(BpfLink.openPinned(msgPin));
            } else {
                BpfLink link = object.program(MSG).attachSkMsg(object.map(SockmapStructs.MAP_SOCKETS));
                if (!(link instanceof ProgAttachLink)) {
                    link.pin(msgPin);
                } // else: a BPF_PROG_ATTACH on the map lives as long as the map, which is pinned
                links.add(link);
            }
            if (Files.exists(opsPin)) {
                links.add(BpfLink.openPinned(opsPin));
            } else {
                int cgroupFd = Cgroups.openFd(podCgroup);
                try {
                    BpfLink link = object.program(OPS).attachCgroup(cgroupFd);
                    link.pin(opsPin);
                    links.add(link);
                } finally {
                    Libc.close(cgroupFd);
                }
            }
            SockmapMaps maps = new SockmapMaps(object.map(SockmapStructs.MAP_SOCKETS), object.map(SockmapStructs.MAP_COUNTERS));
            return new BypassSubsystem(new Running(object, maps, links));
        } catch (RuntimeException | java.io.IOException e) {
            links.stream().filter(l -> !(l instanceof ProgAttachLink)).forEach(BpfLink::close);
            object.close();
            return new BypassSubsystem(new Disabled("could not attach (" + firstLine(e) + ")"));
        }
    }

    /** Unpins and detaches the bypass's links; returns whether there were any. */
    public static boolean detachPinned(Path pinDir) {
        boolean any = false;
        for (String pin : List.of(PIN_OPS, PIN_MSG)) {
            Path p = pinDir.resolve("links").resolve(pin);
            if (Files.exists(p)) {
                BpfLink.openPinned(p).detach();
                BpfFs.unpin(p);
                any = true;
            }
        }
        return any;
    }

    private static String firstLine(Exception e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    public boolean running() {
        return state instanceof Running;
    }

    /** The maps, while running (tests and the CLI read them). */
    public SockmapMaps maps() {
        if (state instanceof Running r) {
            return r.maps();
        }
        throw new IllegalStateException("the socket bypass is off: " + ((Disabled) state).reason());
    }

    @Override
    public String name() {
        return "Socket bypass";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return false; // the programs read policy's conntrack; nothing of the view is compiled here
    }

    @Override
    public Applied apply(ClusterChange change) {
        return Applied.ok();
    }

    @Override
    public List<Line> status() {
        return switch (state) {
            case Running r -> {
                int sockets = r.maps().count();
                Counters c = r.maps().counters();
                yield List.of(new Line("Socket bypass", "Ok, " + sockets + " socket(s); " + c.redirectedMsgs() + " message(s), "
                        + c.redirectedBytes() + " byte(s) redirected; " + c.fallbacks() + " socket(s) fell back to the stack"));
            }
            case Disabled d -> List.of(new Line("Socket bypass", "Disabled: " + d.reason()));
        };
    }

    @Override
    public Set<String> features() {
        return Set.of();
    }

    /** Releases this process's handles; pinned links and maps stay, so the bypass keeps working. */
    @Override
    public void close() {
        if (state instanceof Running r) {
            r.links().stream().filter(l -> !(l instanceof ProgAttachLink)).forEach(BpfLink::close);
            r.object().close();
        }
    }
}
