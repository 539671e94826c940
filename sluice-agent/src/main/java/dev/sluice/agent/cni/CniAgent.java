package dev.sluice.agent.cni;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.cni.AgentMessages.Endpoint;
import dev.sluice.cni.AgentMessages.Reply;
import dev.sluice.cni.AgentMessages.Request;
import dev.sluice.cni.CniError;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The agent's side of the CNI plugin: the node's IPAM, the cluster source with the plugin's endpoints in it, and the
 * socket the plugin calls. {@link #subsystem()} reports {@code IPAM: N/M allocated} and the socket in {@code sluice
 * status}. Wiring: wrap the source with {@link #source()}, add {@link #subsystem()}, and hand every report's change
 * to {@link #applied}.
 */
public final class CniAgent implements AutoCloseable {
    /** How long REGISTER and RELEASE wait for the agent's loop to apply them before the plugin is told to retry. */
    static final long APPLY_TIMEOUT_MS = 10_000;

    private final Ipam ipam;
    private final CniSource source;
    private final CniServer server;

    private CniAgent(Ipam ipam, CniSource source, Path socket) {
        this.ipam = ipam;
        this.source = source;
        this.server = new CniServer(socket, this::handle);
    }

    /** Serves the plugin on {@code socket}; allocations persisted in {@code ipamFile}; endpoints added to {@code source}'s view. */
    public static CniAgent start(ClusterSource source, String node, Path socket, Path ipamFile) {
        Ipam ipam = Ipam.load(ipamFile);
        ipam.broken().ifPresent(b -> System.out.println("agent: IPAM: " + b));
        System.out.println("agent: CNI plugin served on " + socket + ", " + ipam.allocated() + " address(es) held in " + ipamFile);
        return new CniAgent(ipam, new CniSource(source, node, ipam), socket);
    }

    public ClusterSource source() {
        return source;
    }

    /** The agent applied (and reported) {@code change}. */
    public void applied(ClusterChange change) {
        source.applied(change);
    }

    Reply handle(Request r) {
        Endpoint e = r.endpoint();
        return switch (r.op()) {
            case ALLOCATE -> Reply.ok(ipam.allocate(require(e), source.sourceIps()), "allocated");
            case REGISTER -> {
                ipam.register(require(e));
                await(source.endpointsChanged(), "register " + e.namespace() + "/" + e.pod());
                yield Reply.ok(e, "registered");
            }
            case RELEASE -> {
                var gone = ipam.release(require(e).owner());
                if (gone.isPresent() && gone.get().registered()) {
                    await(source.endpointsChanged(), "release " + gone.get().endpoint().namespace() + "/" + gone.get().endpoint().pod());
                }
                yield Reply.ok(gone.map(Ipam.Allocation::endpoint).orElse(null), gone.isPresent() ? "released" : "nothing held");
            }
            case GET -> Reply.ok(ipam.get(require(e).owner()).filter(Ipam.Allocation::registered).map(Ipam.Allocation::endpoint)
                    .orElse(null), "");
            case STATUS -> {
                if (ipam.broken().isPresent()) {
                    yield Reply.error(CniError.NOT_AVAILABLE, ipam.broken().get());
                }
                yield ipam.podCidr().isPresent() ? Reply.ok(null, ipamLine())
                        : Reply.error(CniError.NOT_AVAILABLE, "the agent does not know this node's PodCIDR yet");
            }
        };
    }

    private static Endpoint require(Endpoint e) {
        if (e == null || e.containerId() == null || e.ifname() == null) {
            throw new CniError(CniError.DECODING_FAILURE, "the request names no endpoint (containerId, ifname)");
        }
        return e;
    }

    private static void await(CompletableFuture<Void> applied, String what) {
        try {
            applied.get(APPLY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "the agent did not apply " + what + " within " + APPLY_TIMEOUT_MS / 1000 + " s");
        } catch (ExecutionException e) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "the agent failed to apply " + what + ": " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CniError(CniError.TRY_AGAIN_LATER, "the agent is stopping");
        }
    }

    /**
     * As {@code cilium status}: {@code IPv4: 3/253 allocated from 10.244.1.0/24 (CNI plugin: 1)}, counting the addresses
     * the plugin was given and those the cluster source's pods hold (the lab's own pods, on a lab node).
     */
    private String ipamLine() {
        Optional<String> cidr = ipam.podCidr();
        if (cidr.isEmpty()) {
            return "IPv4: " + ipam.allocated() + " allocated, the node's PodCIDR not known yet";
        }
        long cni = ipam.allocated();
        return "IPv4: " + (cni + ipam.heldIn(source.sourceIps())) + "/" + ipam.capacity() + " allocated from " + cidr.get()
                + " (CNI plugin: " + cni + ")";
    }

    /** Status only: the work is done on the plugin's calls and in the source. */
    public Subsystem subsystem() {
        return new Subsystem() {
            @Override
            public String name() {
                return "CNI";
            }

            @Override
            public boolean concerns(ClusterChange change) {
                return false;
            }

            @Override
            public Applied apply(ClusterChange change) {
                return new Applied(List.of(), false);
            }

            @Override
            public void tick(long nowMs) {
            }

            @Override
            public List<Line> status() {
                String ipamValue = ipam.broken().map(b -> "Degraded: " + b).orElseGet(CniAgent.this::ipamLine);
                return List.of(new Line("IPAM", ipamValue),
                        new Line("CNI", ipam.registered().size() + " endpoint(s) added by the plugin, socket " + server.socket()));
            }

            @Override
            public Set<String> features() {
                return Set.of();
            }

            @Override
            public void close() {
                CniAgent.this.close();
            }
        };
    }

    @Override
    public void close() {
        server.close();
    }
}
