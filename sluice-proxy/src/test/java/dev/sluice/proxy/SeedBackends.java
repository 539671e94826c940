package dev.sluice.proxy;

import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.model.Desired;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.workload.EchoServer;
import dev.sluice.workload.Identity;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;

import java.io.IOException;
import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The seed's product-service on loopback: one echo server (the lab's workload) per pod of each Deployment, each on
 * its own 127.0.x.y address and the Service's target port 50051, and the seed's canary compiled against that view.
 */
final class SeedBackends implements AutoCloseable {
    final ClusterView view;
    final RouteTable table;
    final Map<String, EchoServer> servers = new LinkedHashMap<>();

    /** @param base the third octet of the first Deployment's addresses (the second's is base + 1) */
    SeedBackends(int base) throws IOException {
        Desired desired = Seed.read(w -> { });
        view = Seed.view(desired, (d, r) -> "127.0." + (base + d) + "." + (r + 1));
        table = L7Compiler.compile(EnvoyConfigParser.parseAll(view.objects(), w -> { }), view, w -> {
            throw new AssertionError(w);
        });
        try {
            for (ClusterView.Pod pod : view.pods()) {
                servers.put(pod.name(), EchoServer.start(new Identity(pod.name(), pod.namespace(), pod.node(), pod.labels()),
                        InetAddress.getByName(pod.ip()), List.of(50051)));
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    static ManagedChannel channel(int port, String authority) {
        return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().overrideAuthority(authority).build();
    }

    static PingRequest ping(int i) {
        return PingRequest.newBuilder().setMessage("call-" + i).build();
    }

    static EchoGrpc.EchoBlockingStub blocking(ManagedChannel channel) {
        return EchoGrpc.newBlockingStub(channel);
    }

    void kill(String pod) {
        servers.remove(pod).close();
    }

    @Override
    public void close() {
        servers.values().forEach(EchoServer::close);
        servers.clear();
    }
}
