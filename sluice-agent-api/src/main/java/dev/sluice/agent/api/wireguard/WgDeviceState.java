package dev.sluice.agent.api.wireguard;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a WireGuard device answers to {@code get=1}: its key and port and, per peer, endpoint, allowed IPs, last
 * handshake and bytes. The private key is kept only to tell which public key the device has.
 */
public record WgDeviceState(Optional<WgKey> publicKey, int listenPort, List<Peer> peers) {
    public WgDeviceState {
        peers = List.copyOf(peers);
    }

    /**
     * @param lastHandshakeEpochSec 0 when there has been none
     */
    public record Peer(WgKey publicKey, String endpoint, List<String> allowedIps, long lastHandshakeEpochSec, long rxBytes,
                       long txBytes, int persistentKeepalive) {
        public Peer {
            allowedIps = List.copyOf(allowedIps);
        }

        public boolean handshaken() {
            return lastHandshakeEpochSec > 0;
        }
    }

    public Optional<Peer> peer(WgKey key) {
        return peers.stream().filter(p -> p.publicKey().equals(key)).findFirst();
    }

    /** @throws IOException when the answer is cut short or reports an error */
    static WgDeviceState parse(String answer) throws IOException {
        int errno = errno(answer);
        if (errno != 0) {
            throw new IOException("the WireGuard device answered errno " + errno);
        }
        Optional<WgKey> publicKey = Optional.empty();
        int port = 0;
        List<Peer> peers = new ArrayList<>();
        PeerBuilder current = null;
        for (String line : answer.split("\n")) {
            int eq = line.indexOf('=');
            if (eq < 0) {
                continue;
            }
            String key = line.substring(0, eq);
            String value = line.substring(eq + 1);
            switch (key) {
                case "private_key" -> publicKey = isZero(value) ? Optional.empty() : Optional.of(WgKey.fromHex(value).publicKey());
                case "listen_port" -> port = Integer.parseInt(value);
                case "public_key" -> {
                    if (current != null) {
                        peers.add(current.build());
                    }
                    current = new PeerBuilder(WgKey.fromHex(value));
                }
                case "endpoint" -> current.endpoint = value;
                case "allowed_ip" -> current.allowedIps.add(value);
                case "last_handshake_time_sec" -> current.handshake = Long.parseLong(value);
                case "rx_bytes" -> current.rx = Long.parseLong(value);
                case "tx_bytes" -> current.tx = Long.parseLong(value);
                case "persistent_keepalive_interval" -> current.keepalive = Integer.parseInt(value);
                default -> {
                    // fwmark, protocol_version, preshared_key, last_handshake_time_nsec, errno: not needed
                }
            }
        }
        if (current != null) {
            peers.add(current.build());
        }
        return new WgDeviceState(publicKey, port, peers);
    }

    static int errno(String answer) throws IOException {
        for (String line : answer.split("\n")) {
            if (line.startsWith("errno=")) {
                return Integer.parseInt(line.substring(6).strip());
            }
        }
        throw new IOException("the WireGuard device's answer has no errno line (cut short?)");
    }

    private static boolean isZero(String hex) {
        return hex.chars().allMatch(c -> c == '0');
    }

    private static final class PeerBuilder {
        final WgKey key;
        String endpoint = "";
        final List<String> allowedIps = new ArrayList<>();
        long handshake;
        long rx;
        long tx;
        int keepalive;

        PeerBuilder(WgKey key) {
            this.key = key;
        }

        Peer build() {
            return new Peer(key, endpoint, allowedIps, handshake, rx, tx, keepalive);
        }
    }
}
