package dev.sluice.cli;

import dev.sluice.datapath.abi.CtFlag;
import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.Protocol;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;

import java.util.List;

/** One conntrack entry as `cilium bpf ct list global` prints it. */
final class CtFormat {
    private CtFormat() {
    }

    static String line(Ct4Tuple k, Ct4Entry v) {
        String proto = Protocol.displayName(k.proto());
        List<String> flags = CtFlag.decode(v.flags()).stream().map(CtFlag::displayName).toList();
        // Cilium prints expiry in seconds of the kernel's monotonic clock; so does this.
        return String.format("%s %s %s:%d -> %s:%d expires=%d RxPackets=%d RxBytes=%d TxPackets=%d TxBytes=%d Flags=0x%04x [ %s ] SourceSecurityID=%d",
                proto, k.direction() == Direction.INGRESS.value() ? "IN" : "OUT", k.source().getHostAddress(), k.sourcePort(), k.destination().getHostAddress(),
                k.destinationPort(), v.lifetimeNs() / 1_000_000_000L, v.rxPackets(), v.rxBytes(), v.txPackets(), v.txBytes(), v.flags(),
                String.join(" ", flags), v.srcIdentity());
    }
}
