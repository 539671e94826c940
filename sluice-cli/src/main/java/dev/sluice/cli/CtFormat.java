package dev.sluice.cli;

import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;

import java.util.ArrayList;
import java.util.List;

/** One conntrack entry as `cilium bpf ct list global` prints it. */
final class CtFormat {
    private CtFormat() {
    }

    static String line(Ct4Tuple k, Ct4Entry v) {
        String proto = k.proto() == 6 ? "TCP" : k.proto() == 17 ? "UDP" : k.proto() == 1 ? "ICMP" : Integer.toString(k.proto());
        List<String> flags = new ArrayList<>();
        if ((v.flags() & 0x1) != 0) {
            flags.add("RxClosing");
        }
        if ((v.flags() & 0x2) != 0) {
            flags.add("TxClosing");
        }
        if ((v.flags() & 0x10) != 0) {
            flags.add("SeenNonSyn");
        }
        // Cilium prints expiry in seconds of the kernel's monotonic clock; so does this.
        return String.format("%s %s %s:%d -> %s:%d expires=%d RxPackets=%d RxBytes=%d TxPackets=%d TxBytes=%d Flags=0x%04x [ %s ] SourceSecurityID=%d",
                proto, k.direction() == 0 ? "IN" : "OUT", k.source().getHostAddress(), k.sourcePort(), k.destination().getHostAddress(),
                k.destinationPort(), v.lifetimeNs() / 1_000_000_000L, v.rxPackets(), v.rxBytes(), v.txPackets(), v.txBytes(), v.flags(),
                String.join(" ", flags), v.srcIdentity());
    }
}
