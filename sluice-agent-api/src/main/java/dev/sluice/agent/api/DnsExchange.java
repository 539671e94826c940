package dev.sluice.agent.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.List;

/**
 * One DNS query and its answer, as the cluster DNS server reports it to the agent of the querying pod's node
 * ({@link NodeLayout#dnsFeedSocket()}, one JSON line per exchange). Sluice has no DNS proxy: the server that
 * answers is the one place that sees the messages whole, so it reports them, and the agent names the parties
 * (the pod by {@code client}, the DNS pod by {@code server}) as it names every other flow.
 *
 * @param startNanos   when the query arrived, nanoseconds since the epoch
 * @param latencyNanos from the query's arrival to the answer's sending
 * @param client       the querying address (a pod's)
 * @param clientPort   its port
 * @param server       the DNS server's own address (its pod's)
 * @param serverPort   the port it answered on (53)
 * @param transport    "udp" or "tcp"
 * @param query        the name asked, fully qualified with the trailing dot
 * @param qtype        the question's type ("A", "SRV", ...)
 * @param rcode        the answer's response code (0 NOERROR, 3 NXDOMAIN, 5 REFUSED, ...)
 * @param ips          the answer's A record addresses
 * @param ttl          the smallest TTL of the answer's records (0 when none)
 * @param cnames       the answer's CNAME targets
 * @param rrtypes      the types of the answer section's records
 */
public record DnsExchange(long startNanos, long latencyNanos, String client, int clientPort, String server, int serverPort,
                          String transport, String query, String qtype, int rcode, List<String> ips, long ttl,
                          List<String> cnames, List<String> rrtypes) {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false); // a newer server may add fields

    public DnsExchange {
        ips = ips == null ? List.of() : List.copyOf(ips);
        cnames = cnames == null ? List.of() : List.copyOf(cnames);
        rrtypes = rrtypes == null ? List.of() : List.copyOf(rrtypes);
        transport = transport == null ? "udp" : transport;
        query = query == null ? "" : query;
        qtype = qtype == null ? "" : qtype;
    }

    /** One line, without its newline. */
    public String toJsonLine() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a DNS exchange", e);
        }
    }

    /** @throws IllegalArgumentException naming what is wrong with a line that is not an exchange */
    public static DnsExchange parse(String line) {
        try {
            DnsExchange e = JSON.readValue(line, DnsExchange.class);
            if (e.client() == null || e.client().isEmpty()) {
                throw new IllegalArgumentException("DNS exchange without field \"client\"");
            }
            return e;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a DNS exchange: " + e.getOriginalMessage(), e);
        }
    }
}
