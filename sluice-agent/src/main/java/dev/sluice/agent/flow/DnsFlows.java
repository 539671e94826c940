package dev.sluice.agent.flow;

import com.google.protobuf.Timestamp;
import dev.sluice.agent.api.DnsExchange;
import dev.sluice.observe.v1.DNS;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.TCP;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.UDP;
import dev.sluice.observe.v1.Verdict;

import java.util.List;

/**
 * The cluster DNS server's report of one query as Hubble's L7 DNS flows: a REQUEST (the query, client pod to DNS pod,
 * at the query's arrival) and a RESPONSE (the answer: addresses, TTL, rcode, record types, DNS pod to client, marked as
 * a reply, at the answer's sending), as Cilium's DNS proxy gives them. Parties are named from the same
 * {@link FlowDirectory} as the datapath's flows. The verdict is FORWARDED: DNS policy (toFQDNs) is not enforced, so
 * nothing is dropped here; a refused or failed name shows in the answer's rcode, as in Hubble.
 */
public final class DnsFlows {
    /** Hubble's observation_source: who saw the message (Cilium's DNS proxy says "proxy"). */
    static final String SOURCE = "cluster-dns";

    private DnsFlows() {
    }

    public static List<Flow> of(DnsExchange e, FlowDirectory dir) {
        Endpoint client = endpoint(dir, e.client());
        Endpoint server = endpoint(dir, e.server());
        DNS.Builder query = DNS.newBuilder().setQuery(e.query()).setObservationSource(SOURCE);
        if (!e.qtype().isEmpty()) {
            query.addQtypes(e.qtype());
        }
        DNS answer = query.clone().setRcode(e.rcode()).addAllIps(e.ips()).setTtl((int) Math.min(e.ttl(), 0xffffffffL))
                .addAllCnames(e.cnames()).addAllRrtypes(e.rrtypes()).build();
        boolean tcp = "tcp".equals(e.transport());
        Flow req = Flow.newBuilder()
                .setTime(time(e.startNanos()))
                .setVerdict(Verdict.FORWARDED)
                .setSource(client)
                .setDestination(server)
                .setIP(IP.newBuilder().setSource(e.client()).setDestination(e.server()))
                .setL4(l4(tcp, e.clientPort(), e.serverPort()))
                .setL7(Layer7.newBuilder().setType(L7FlowType.REQUEST).setDns(query))
                .setTrafficDirection(TrafficDirection.EGRESS)
                .setIsReply(false)
                .setNodeName(dir.node())
                .setEventType("l7")
                .build();
        Flow resp = Flow.newBuilder()
                .setTime(time(e.startNanos() + e.latencyNanos()))
                .setVerdict(Verdict.FORWARDED)
                .setSource(server)
                .setDestination(client)
                .setIP(IP.newBuilder().setSource(e.server()).setDestination(e.client()))
                .setL4(l4(tcp, e.serverPort(), e.clientPort()))
                .setL7(Layer7.newBuilder().setType(L7FlowType.RESPONSE).setLatencyNs(e.latencyNanos()).setDns(answer))
                .setTrafficDirection(TrafficDirection.EGRESS)
                .setIsReply(true)
                .setNodeName(dir.node())
                .setEventType("l7")
                .build();
        return List.of(req, resp);
    }

    private static Endpoint endpoint(FlowDirectory dir, String address) {
        try {
            Endpoint pod = dir.pods().get(FlowDirectory.address(address));
            return pod != null ? pod : Endpoint.getDefaultInstance();
        } catch (IllegalArgumentException e) {
            return Endpoint.getDefaultInstance(); // IPv6 or none: no pod has one
        }
    }

    private static Layer4 l4(boolean tcp, int sourcePort, int destinationPort) {
        return tcp ? Layer4.newBuilder().setTCP(TCP.newBuilder().setSourcePort(sourcePort).setDestinationPort(destinationPort)).build()
                : Layer4.newBuilder().setUDP(UDP.newBuilder().setSourcePort(sourcePort).setDestinationPort(destinationPort)).build();
    }

    private static Timestamp time(long epochNanos) {
        return Timestamp.newBuilder().setSeconds(Math.floorDiv(epochNanos, 1_000_000_000L))
                .setNanos((int) Math.floorMod(epochNanos, 1_000_000_000L)).build();
    }
}
