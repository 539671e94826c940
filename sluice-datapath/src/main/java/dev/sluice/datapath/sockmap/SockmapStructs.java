package dev.sluice.datapath.sockmap;

import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.StructLayout;

import java.net.Inet4Address;
import java.util.List;

import static dev.sluice.libbpf.Codecs.BE16;
import static dev.sluice.libbpf.Codecs.U64;

/** The socket bypass's structs (bpf/include/sockmap.h), one record and codec each; sizes checked by StructLayoutsTest. */
public final class SockmapStructs {
    /** SOCKHASH of sock_key -> socket (the kernel returns the socket cookie to user space). */
    public static final String MAP_SOCKETS = "sock_bypass";
    /** PERCPU_ARRAY of one sock_bypass_counters. */
    public static final String MAP_COUNTERS = "sock_bypass_counters";
    /** sockmap.h's SOCK_BYPASS_MAX_ENTRIES. */
    public static final int MAX_ENTRIES = 65536;

    private SockmapStructs() {
    }

    /** struct sock_key: a socket by its own 4-tuple, local end first. */
    public record SockKey(Inet4Address local, Inet4Address remote, int localPort, int remotePort) {
        public static final StructLayout LAYOUT = StructLayout.of("sock_key", 12).field("local_ip4", 0, 4)
                .field("remote_ip4", 4, 4).field("local_port", 8, 2).field("remote_port", 10, 2);

        public static final Codec<SockKey> CODEC = Codec.of(LAYOUT,
                s -> new SockKey(Codecs.ipv4(s, 0), Codecs.ipv4(s, 4), Short.toUnsignedInt(s.get(BE16, 8)),
                        Short.toUnsignedInt(s.get(BE16, 10))),
                (k, s) -> {
                    Codecs.putIpv4(s, 0, k.local());
                    Codecs.putIpv4(s, 4, k.remote());
                    s.set(BE16, 8, (short) k.localPort());
                    s.set(BE16, 10, (short) k.remotePort());
                });

        /** The key of the socket at the other end of the same connection. */
        public SockKey peer() {
            return new SockKey(remote, local, remotePort, localPort);
        }

        @Override
        public String toString() {
            return local.getHostAddress() + ":" + localPort + " -> " + remote.getHostAddress() + ":" + remotePort;
        }
    }

    /** struct sock_bypass_counters, per CPU; {@link #sum} adds the CPUs up. */
    public record Counters(long inserted, long skipped, long redirectedMsgs, long redirectedBytes, long fallbackMsgs,
                           long fallbacks) {
        public static final StructLayout LAYOUT = StructLayout.of("sock_bypass_counters", 48).field("inserted", 0, 8)
                .field("skipped", 8, 8).field("redirected_msgs", 16, 8).field("redirected_bytes", 24, 8)
                .field("fallback_msgs", 32, 8).field("fallbacks", 40, 8);

        public static final Codec<Counters> CODEC = Codec.of(LAYOUT,
                s -> new Counters(s.get(U64, 0), s.get(U64, 8), s.get(U64, 16), s.get(U64, 24), s.get(U64, 32), s.get(U64, 40)),
                (v, s) -> {
                    s.set(U64, 0, v.inserted());
                    s.set(U64, 8, v.skipped());
                    s.set(U64, 16, v.redirectedMsgs());
                    s.set(U64, 24, v.redirectedBytes());
                    s.set(U64, 32, v.fallbackMsgs());
                    s.set(U64, 40, v.fallbacks());
                });

        public static final Counters ZERO = new Counters(0, 0, 0, 0, 0, 0);

        public static Counters sum(List<Counters> perCpu) {
            Counters t = ZERO;
            for (Counters c : perCpu) {
                t = new Counters(t.inserted + c.inserted, t.skipped + c.skipped, t.redirectedMsgs + c.redirectedMsgs,
                        t.redirectedBytes + c.redirectedBytes, t.fallbackMsgs + c.fallbackMsgs, t.fallbacks + c.fallbacks);
            }
            return t;
        }
    }
}
