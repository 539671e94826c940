package dev.sluice.observe.metrics;

import java.util.Map;

/**
 * Hubble's names for Cilium's drop reason codes (flow.proto's DropReason), which {@code hubble_drop_total}
 * uses as its {@code reason} label.
 */
final class DropReasons {
    private DropReasons() {}

    // Codes this table does not know are named DROP_REASON_<code>: in the enum's own style (0 is
    // DROP_REASON_UNKNOWN), a valid label value, and still telling which code it was. Hubble itself would print
    // the bare number there, which reads as a count rather than a reason on a dashboard.
    private static final String UNKNOWN_PREFIX = "DROP_REASON_";

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(0, "DROP_REASON_UNKNOWN"),
            Map.entry(130, "INVALID_SOURCE_MAC"),
            Map.entry(131, "INVALID_DESTINATION_MAC"),
            Map.entry(132, "INVALID_SOURCE_IP"),
            Map.entry(133, "POLICY_DENIED"),
            Map.entry(134, "INVALID_PACKET_DROPPED"),
            Map.entry(135, "CT_TRUNCATED_OR_INVALID_HEADER"),
            Map.entry(136, "CT_MISSING_TCP_ACK_FLAG"),
            Map.entry(137, "CT_UNKNOWN_L4_PROTOCOL"),
            Map.entry(138, "CT_CANNOT_CREATE_ENTRY_FROM_PACKET"),
            Map.entry(139, "UNSUPPORTED_L3_PROTOCOL"),
            Map.entry(140, "MISSED_TAIL_CALL"),
            Map.entry(141, "ERROR_WRITING_TO_PACKET"),
            Map.entry(142, "UNKNOWN_L4_PROTOCOL"),
            Map.entry(143, "UNKNOWN_ICMPV4_CODE"),
            Map.entry(144, "UNKNOWN_ICMPV4_TYPE"),
            Map.entry(145, "UNKNOWN_ICMPV6_CODE"),
            Map.entry(146, "UNKNOWN_ICMPV6_TYPE"),
            Map.entry(147, "ERROR_RETRIEVING_TUNNEL_KEY"),
            Map.entry(148, "ERROR_RETRIEVING_TUNNEL_OPTIONS"),
            Map.entry(149, "INVALID_GENEVE_OPTION"),
            Map.entry(150, "UNKNOWN_L3_TARGET_ADDRESS"),
            Map.entry(151, "STALE_OR_UNROUTABLE_IP"),
            Map.entry(152, "NO_MATCHING_LOCAL_CONTAINER_FOUND"),
            Map.entry(153, "ERROR_WHILE_CORRECTING_L3_CHECKSUM"),
            Map.entry(154, "ERROR_WHILE_CORRECTING_L4_CHECKSUM"),
            Map.entry(155, "CT_MAP_INSERTION_FAILED"),
            Map.entry(156, "INVALID_IPV6_EXTENSION_HEADER"),
            Map.entry(157, "IP_FRAGMENTATION_NOT_SUPPORTED"),
            // The datapath calls this DROP_NO_SERVICE; Hubble's enum names it from the user's side.
            Map.entry(158, "SERVICE_BACKEND_NOT_FOUND"),
            Map.entry(160, "NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT"),
            Map.entry(161, "FAILED_TO_INSERT_INTO_PROXYMAP"),
            Map.entry(162, "REACHED_EDT_RATE_LIMITING_DROP_HORIZON"),
            Map.entry(163, "UNKNOWN_CONNECTION_TRACKING_STATE"),
            Map.entry(164, "LOCAL_HOST_IS_UNREACHABLE"),
            Map.entry(165, "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION"),
            Map.entry(166, "UNSUPPORTED_L2_PROTOCOL"),
            Map.entry(167, "NO_MAPPING_FOR_NAT_MASQUERADE"),
            Map.entry(168, "UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE"),
            Map.entry(169, "FIB_LOOKUP_FAILED"),
            Map.entry(170, "ENCAPSULATION_TRAFFIC_IS_PROHIBITED"),
            Map.entry(171, "INVALID_IDENTITY"),
            Map.entry(172, "UNKNOWN_SENDER"),
            Map.entry(173, "NAT_NOT_NEEDED"),
            Map.entry(174, "IS_A_CLUSTERIP"),
            Map.entry(175, "FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND"),
            Map.entry(176, "FORBIDDEN_ICMPV6_MESSAGE"),
            Map.entry(177, "DENIED_BY_LB_SRC_RANGE_CHECK"),
            Map.entry(178, "SOCKET_LOOKUP_FAILED"),
            Map.entry(179, "SOCKET_ASSIGN_FAILED"),
            Map.entry(180, "PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL"),
            Map.entry(181, "POLICY_DENY"),
            Map.entry(182, "VLAN_FILTERED"),
            Map.entry(183, "INVALID_VNI"),
            Map.entry(184, "INVALID_TC_BUFFER"),
            Map.entry(185, "NO_SID"),
            Map.entry(186, "MISSING_SRV6_STATE"),
            Map.entry(187, "NAT46"),
            Map.entry(188, "NAT64"),
            Map.entry(189, "AUTH_REQUIRED"),
            Map.entry(190, "CT_NO_MAP_FOUND"),
            Map.entry(191, "SNAT_NO_MAP_FOUND"),
            Map.entry(192, "INVALID_CLUSTER_ID"),
            Map.entry(193, "UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP"),
            Map.entry(194, "NO_EGRESS_GATEWAY"),
            Map.entry(196, "TTL_EXCEEDED"),
            Map.entry(197, "NO_NODE_ID"),
            Map.entry(198, "DROP_RATE_LIMITED"),
            Map.entry(202, "DROP_HOST_NOT_READY"),
            Map.entry(203, "DROP_EP_NOT_READY"),
            Map.entry(204, "DROP_NO_EGRESS_IP"),
            Map.entry(205, "DROP_PUNT_PROXY"),
            Map.entry(206, "DROP_NO_DEVICE"));

    /** Hubble's name for {@code code}, or {@code DROP_REASON_<code>} (unsigned) when Hubble has none. */
    static String name(int code) {
        String name = NAMES.get(code);
        return name != null ? name : UNKNOWN_PREFIX + Integer.toUnsignedString(code);
    }
}
