package dev.sluice.l7.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The check every test that builds a {@link RouteTable} runs: the table the lab's proxy would hold, taken the only
 * way it gets one (the agent's {@link XdsResources}, ADS, the proxy's {@link XdsRouteTable}), equals the table the
 * agent compiled, and what is served is what a stock Envoy would load (its PGV rules, its JSON mapping).
 */
public final class XdsRoundTrip {
    private XdsRoundTrip() {
    }

    /** @return the table as the proxy reads it back (equal to {@code table}) */
    public static RouteTable assertSurvives(RouteTable table) {
        Map<String, Integer> ports = new LinkedHashMap<>();
        for (ServiceRoutes s : table.services()) {
            ports.put(s.key(), 15001 + ports.size());
        }
        assertEquals(table.services().size(), ports.size(), "one listener per Service port: " + table.services());
        XdsSnapshot snapshot = XdsResources.of(table, "10.1.0.1", ports);
        for (Message resource : snapshot.all()) {
            try {
                String json = EnvoyTypes.PRINTER.print(Any.pack(resource));
                Any.Builder back = Any.newBuilder();
                EnvoyTypes.PARSER.merge(json, back);
                assertEquals(resource, back.build().unpack(resource.getClass()), json);
                assertEquals(List.of(), PgvValidator.validate(resource), json);
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new AssertionError(e);
            }
        }
        assertEquals(List.of(), XdsRouteTable.missing(snapshot));
        RouteTable back;
        try {
            back = XdsRouteTable.toProxyConfig(snapshot).table();
        } catch (XdsException e) {
            throw new AssertionError("the proxy would NACK what the agent serves: " + e.getMessage(), e);
        }
        assertEquals(table, back);
        return back;
    }
}
