package dev.sluice.agent.api.wireguard;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.SecureRandom;
import java.security.spec.NamedParameterSpec;
import java.security.spec.XECPrivateKeySpec;
import java.security.spec.XECPublicKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * A WireGuard (Curve25519) key: 32 bytes, written in base64 where people read it ({@code wg}, node annotations)
 * and in hex on the UAPI socket. The JDK's X25519 does the curve arithmetic: no hand-written crypto.
 */
public record WgKey(byte[] bytes) {
    private static final SecureRandom RANDOM = new SecureRandom();

    public WgKey {
        if (bytes.length != 32) {
            throw new IllegalArgumentException("a WireGuard key has 32 bytes, got " + bytes.length);
        }
        bytes = bytes.clone();
    }

    /** A new private key, clamped as {@code wg genkey} clamps it. */
    public static WgKey generatePrivate() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        b[0] &= (byte) 248;
        b[31] &= 127;
        b[31] |= 64;
        return new WgKey(b);
    }

    /** @throws IllegalArgumentException naming what is wrong with {@code text} */
    public static WgKey fromBase64(String text) {
        byte[] b;
        try {
            b = Base64.getDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a base64 WireGuard key: '" + text.strip() + "'");
        }
        return new WgKey(b);
    }

    public static WgKey fromHex(String text) {
        return new WgKey(HexFormat.of().parseHex(text.strip()));
    }

    /** The public key of this private key: X25519(private, 9), through the JDK's key agreement with the base point. */
    public WgKey publicKey() {
        try {
            KeyFactory factory = KeyFactory.getInstance("X25519");
            var priv = factory.generatePrivate(new XECPrivateKeySpec(NamedParameterSpec.X25519, bytes.clone()));
            var base = factory.generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519, BigInteger.valueOf(9)));
            javax.crypto.KeyAgreement agreement = javax.crypto.KeyAgreement.getInstance("X25519");
            agreement.init(priv);
            agreement.doPhase(base, true);
            return new WgKey(agreement.generateSecret());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is not available in this JDK", e);
        }
    }

    public String base64() {
        return Base64.getEncoder().encodeToString(bytes);
    }

    public String hex() {
        return HexFormat.of().formatHex(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WgKey k && Arrays.equals(bytes, k.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    /** The public form only: a private key is never printed. */
    @Override
    public String toString() {
        return "WgKey[" + base64().substring(0, 8) + "...]";
    }
}
