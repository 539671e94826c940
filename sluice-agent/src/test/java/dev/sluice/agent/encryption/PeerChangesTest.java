package dev.sluice.agent.encryption;

import dev.sluice.agent.api.wireguard.WgDeviceState;
import dev.sluice.agent.api.wireguard.WgKey;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The UAPI lines the subsystem sends: only what differs between the device's peers and the nodes' keys. */
class PeerChangesTest {
    private final WgKey k2 = WgKey.generatePrivate().publicKey();
    private final WgKey k3 = WgKey.generatePrivate().publicKey();
    private final ClusterView.Node n2 = new ClusterView.Node("node-2", "10.254.0.2", "10.244.2.0/24", "169.254.1.1");
    private final ClusterView.Node n3 = new ClusterView.Node("node-3", "10.254.0.3", "10.244.3.0/24", "169.254.1.1");

    private static WgDeviceState device(WgDeviceState.Peer... peers) {
        return new WgDeviceState(Optional.empty(), 51871, List.of(peers));
    }

    private WgDeviceState.Peer peer(WgKey k, ClusterView.Node n) {
        return new WgDeviceState.Peer(k, n.address() + ":51871", List.of(n.podCidr()), 0, 0, 0, 25);
    }

    @Test
    void aJoiningNodeBecomesAPeerWithItsPodCidr() {
        Map<WgKey, ClusterView.Node> wanted = new LinkedHashMap<>(Map.of(k2, n2));
        wanted.put(k3, n3);
        assertEquals(List.of("public_key=" + k3.hex(), "endpoint=10.254.0.3:51871", "persistent_keepalive_interval=25", "replace_allowed_ips=true",
                "allowed_ip=10.244.3.0/24"), EncryptionSubsystem.peerChanges(device(peer(k2, n2)), wanted));
    }

    @Test
    void nothingChangesWhenThePeersAreAsWanted() {
        assertEquals(List.of(), EncryptionSubsystem.peerChanges(device(peer(k2, n2), peer(k3, n3)), Map.of(k2, n2, k3, n3)));
    }

    @Test
    void aLeavingNodeOrAReplacedKeyIsRemoved() {
        WgKey rotated = WgKey.generatePrivate().publicKey();
        assertEquals(List.of("public_key=" + k3.hex(), "remove=true", "public_key=" + rotated.hex(), "endpoint=10.254.0.2:51871",
                        "persistent_keepalive_interval=25", "replace_allowed_ips=true", "allowed_ip=10.244.2.0/24", "public_key=" + k2.hex(), "remove=true")
                        .stream().sorted().toList(),
                EncryptionSubsystem.peerChanges(device(peer(k2, n2), peer(k3, n3)), Map.of(rotated, n2)).stream().sorted().toList());
    }
}
