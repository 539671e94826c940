package dev.sluice.agent.api.wireguard;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WireGuardUapiTest {
    @Test
    void publicKeyIsX25519OfTheBasePoint() {
        // RFC 7748, section 6.1: Alice's key pair.
        WgKey alice = WgKey.fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        assertEquals("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", alice.publicKey().hex());
    }

    @Test
    void generatedKeysAreClampedAndDistinct() {
        WgKey a = WgKey.generatePrivate();
        WgKey b = WgKey.generatePrivate();
        assertFalse(a.equals(b));
        assertEquals(0, a.bytes()[0] & 7);
        assertEquals(64, a.bytes()[31] & 0xC0);
        assertEquals(a, WgKey.fromBase64(a.base64()));
        assertFalse(a.toString().contains(a.base64()), "a key's toString never prints it whole");
    }

    @Test
    void aBadKeySaysWhy() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WgKey.fromBase64("not-a-key!")).getMessage()
                .contains("not a base64 WireGuard key"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WgKey.fromBase64("AAAA")).getMessage()
                .contains("32 bytes"));
    }

    @Test
    void parsesAGetAnswer() throws IOException {
        WgKey priv = WgKey.generatePrivate();
        WgKey peer = WgKey.generatePrivate().publicKey();
        String answer = "private_key=" + priv.hex() + "\nlisten_port=51871\npublic_key=" + peer.hex()
                + "\npreshared_key=" + "0".repeat(64) + "\nprotocol_version=1\nendpoint=10.254.0.2:51871"
                + "\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\ntx_bytes=1234\nrx_bytes=567"
                + "\npersistent_keepalive_interval=0\nallowed_ip=10.244.2.0/24\nerrno=0\n\n";
        WgDeviceState state = WgDeviceState.parse(answer);
        assertEquals(priv.publicKey(), state.publicKey().orElseThrow());
        assertEquals(51871, state.listenPort());
        WgDeviceState.Peer p = state.peer(peer).orElseThrow();
        assertEquals(new WgDeviceState.Peer(peer, "10.254.0.2:51871", List.of("10.244.2.0/24"), 1700000000, 567, 1234, 0), p);
        assertTrue(p.handshaken());
    }

    @Test
    void anErrnoOrACutAnswerIsAnError() {
        assertThrows(IOException.class, () -> WgDeviceState.parse("errno=22\n\n"));
        assertThrows(IOException.class, () -> WgDeviceState.parse("listen_port=1\n"));
    }
}
