package dev.sluice.e2e;

import dev.sluice.linux.JavaCommand;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Command;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Load balancing with socket LB (socketLB.enabled: true, the seed's setting). */
class SocketLbTest extends LoadBalancingSuite {
    @Override
    boolean socketLb() {
        return true;
    }

    @Test
    @Order(10)
    void onThePodVethOnlyBackendAddressesAppear() throws Exception {
        PodState client = lab.pod("deploy/client");
        String vip = lab.state().clusterIps().get("default/product-service");
        String nodeNetns = lab.state().node(client.node()).orElseThrow().netns();
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + nodeNetns, "tcpdump", "-l", "-n", "-i",
                client.hostVeth(), "-c", "40", "tcp port 50051"));
        Process capture = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        Thread.sleep(1_000); // tcpdump needs a moment before it captures
        JsonCheck.noFailures(load("--connections", "20", "product-service:50051"));
        assertTrue(capture.waitFor(10, TimeUnit.SECONDS), "tcpdump saw 40 packets");
        String packets = new String(capture.getInputStream().readAllBytes());
        assertFalse(packets.isBlank());
        assertFalse(packets.contains(vip), "the ClusterIP appears on the wire:\n" + packets);
        assertTrue(packets.contains(".50051"), packets);
    }
}
