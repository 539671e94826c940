package dev.sluice.datapath.abi;

import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.testing.CHeaders;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ABI enums against the #defines of bpf/include/*.h: every Java constant has its C value, every C constant of
 * a family has its Java constant, and every #define of the headers belongs to a family or is listed here as not an
 * enum (sizes, lifetimes, addresses), so that a new family cannot be added to the headers unnoticed.
 */
class AbiConstantsTest {
    /**
     * A family: the #defines matching {@code pattern}, whose group 1 is the Java constant's name, mirrored by
     * {@code type}. One enum may mirror several families (directions: POLICY_* and FLOW_DIR_*).
     */
    private record Family(Class<? extends Enum<?>> type, Pattern pattern) {
        Family(Class<? extends Enum<?>> type, String pattern) {
            this(type, Pattern.compile(pattern));
        }
    }

    private static final List<Family> FAMILIES = List.of(
            new Family(Direction.class, "POLICY_(?!.*MAX_ENTRIES$)(\\w+)"),
            new Family(Direction.class, "FLOW_DIR_(\\w+)"),
            new Family(FlowEventType.class, "FLOW_EV_(\\w+)"),
            new Family(FlowVerdict.class, "FLOW_VERDICT_(\\w+)"),
            new Family(FlowReply.class, "FLOW_REPLY_(\\w+)"),
            new Family(FlowIpVersion.class, "FLOW_IP_(\\w+)"),
            new Family(DropReason.class, "DROP_(\\w+)"),
            new Family(Aggregation.class, "FLOW_AGG_(\\w+)"),
            new Family(CtFlag.class, "CT_F_(\\w+)"),
            new Family(EndpointFlag.class, "ENDPOINT_F_(\\w+)"),
            new Family(ServiceFlag.class, "LB_SVC_F_(\\w+)"),
            new Family(LbCtFlag.class, "CT4_F_(\\w+)"));

    /** Reserved identities: sluice-policy's ReservedIdentity, checked against policy.h there (ReservedIdentityTest). */
    private static final Pattern RESERVED_IDENTITIES = Pattern.compile("IDENTITY_\\w+");

    /** #defines that are no enum: capacities, lifetimes, addresses, hash seeds, TC return codes, include guards. */
    private static final Pattern NOT_ENUMS = Pattern.compile(
            "SLUICE_\\w+_H|\\w+_MAX_ENTRIES|\\w+_MAX|LB_MAX_\\w+|FLOW_RING_BYTES|CT_LIFETIME_\\w+|LB_HAIRPIN_ADDR4|NSEC_PER_SEC"
                    + "|LB_JHASH_INITVAL|TC_ACT_\\w+|SLUICE_MARK_HAIRPIN|SLUICE_MARK_TO_PROXY|CT4_ENDPOINT_QUOTA|CT4_QUOTA_ENTRIES"
                    // the kernel's ICMP message types (linux/icmp.h), which vmlinux.h does not carry as macros
                    + "|ICMP_\\w+"
                    // packet layout: IP flags, header offsets, TCP flags, NAT directions
                    + "|IP_DF|IP_MF|IP_OFFSET|\\w+_OFF|TCPHDR_\\w+|NAT4_\\w+");

    @Test
    void everyEnumConstantHasItsHeadersValueAndEveryHeaderConstantItsEnumConstant() {
        Map<String, Long> defines = CHeaders.datapathDefines();
        assertTrue(defines.containsKey("FLOW_EV_DROP") && defines.containsKey("CT_F_SEEN_NON_SYN"), "headers parsed: " + defines.keySet());
        List<String> problems = new ArrayList<>();
        Map<Class<?>, Set<String>> matched = new LinkedHashMap<>();
        for (Map.Entry<String, Long> d : defines.entrySet()) {
            String name = d.getKey();
            List<Family> families = FAMILIES.stream().filter(f -> f.pattern().matcher(name).matches()).toList();
            if (families.isEmpty()) {
                if (!NOT_ENUMS.matcher(name).matches() && !RESERVED_IDENTITIES.matcher(name).matches()) {
                    problems.add(name + " = " + d.getValue() + " belongs to no family: add its enum to dev.sluice.datapath.abi"
                            + " (and a Family here), or list it in NOT_ENUMS");
                }
                continue;
            }
            if (families.size() > 1) {
                problems.add(name + " matches " + families.size() + " families");
            }
            Family family = families.getFirst();
            Matcher m = family.pattern().matcher(name);
            m.matches();
            String constant = m.group(1);
            AbiConstant java = constant(family.type(), constant);
            if (java == null) {
                problems.add(name + " = " + d.getValue() + " has no " + family.type().getSimpleName() + "." + constant);
            } else if (java.value() != d.getValue()) {
                problems.add(family.type().getSimpleName() + "." + constant + " = " + java.value() + " but " + name + " = " + d.getValue());
            } else {
                matched.computeIfAbsent(family.type(), k -> new TreeSet<>()).add(constant);
            }
        }
        for (Class<? extends Enum<?>> type : FAMILIES.stream().map(Family::type).distinct().toList()) {
            for (Enum<?> e : type.getEnumConstants()) {
                if (!matched.getOrDefault(type, Set.of()).contains(e.name())) {
                    problems.add(type.getSimpleName() + "." + e.name() + " has no #define in bpf/include");
                }
            }
        }
        assertTrue(problems.isEmpty(), "Java and bpf/include disagree:\n  " + String.join("\n  ", problems));
    }

    private static AbiConstant constant(Class<? extends Enum<?>> type, String name) {
        for (Enum<?> e : type.getEnumConstants()) {
            if (e.name().equals(name)) {
                return (AbiConstant) e;
            }
        }
        return null;
    }

    /** IP protocols are linux/in.h's, which lb_lib.h includes. */
    @Test
    void protocolsHaveTheKernelsNumbers() {
        Path in = Path.of("/usr/include/linux/in.h");
        assertTrue(Files.exists(in), "linux/in.h (the BPF build needs it too)");
        Map<String, Long> ipproto = CHeaders.enumerators(in);
        for (Protocol p : Protocol.values()) {
            assertEquals(ipproto.get("IPPROTO_" + p.name()), (long) p.value(), "IPPROTO_" + p.name());
        }
    }

    /** Constants mirrored outside the enums. */
    @Test
    void otherMirroredConstantsHaveTheirHeadersValues() {
        Map<String, Long> defines = CHeaders.datapathDefines();
        assertEquals(defines.get("FLOW_RING_BYTES"), (long) FlowStructs.DEFAULT_RING_BYTES);
        assertEquals(defines.get("CT_LIFETIME_TCP_NS"), PolicyStructs.CT_LIFETIME_TCP_NS);
        assertEquals(defines.get("CT_LIFETIME_SYN_NS"), PolicyStructs.CT_LIFETIME_SYN_NS);
        assertEquals(defines.get("CT_LIFETIME_CLOSE_NS"), PolicyStructs.CT_LIFETIME_CLOSE_NS);
        assertEquals(defines.get("CT_LIFETIME_NONTCP_NS"), PolicyStructs.CT_LIFETIME_NONTCP_NS);
        assertEquals(defines.get("SLUICE_MARK_TO_PROXY"), (long) PacketMark.TO_PROXY);
    }

    /** Values the datapath does not define decode to nothing and print as something, never throw. */
    @Test
    void unknownValuesArePrintable() {
        assertTrue(DropReason.of(250).isEmpty());
        assertEquals("Unknown drop reason 250", DropReason.displayName(250));
        assertEquals("Policy denied", DropReason.displayName(133));
        assertEquals("Policy denied by denylist", DropReason.POLICY_DENY.displayName());
        assertEquals("Service backend not found", DropReason.NO_SERVICE.displayName());
        assertEquals("47", Protocol.displayName(47));
        assertEquals("TCP", Protocol.displayName(6));
        assertEquals("unknown", FlowEventType.displayName(-1));
        assertEquals("VERDICT_UNKNOWN", FlowVerdict.displayName(1_000_000));
        assertNull(Direction.orNull(-7));
        assertFalse(Aggregation.of(99).isPresent());
        assertEquals(List.of(CtFlag.RX_CLOSING, CtFlag.TX_CLOSING, CtFlag.SEEN_NON_SYN, CtFlag.OVER_QUOTA, CtFlag.POLICY_DENIED), CtFlag.decode(0xffff));
        assertEquals(0x13, CtFlag.mask(CtFlag.RX_CLOSING, CtFlag.TX_CLOSING, CtFlag.SEEN_NON_SYN));
        assertEquals(EnumSet.of(LbCtFlag.HAIRPIN), EnumSet.copyOf(LbCtFlag.decode(0x6)));
        assertEquals(Direction.EGRESS, Direction.INGRESS.reverse());
    }
}
