package dev.sluice.l7.xds;

import dev.sluice.l7.route.RouteTable;

import java.util.List;

/** What the proxy runs, made from the xDS resources it holds: its listeners and its route table. */
public record ProxyConfig(List<ListenerBinding> listeners, RouteTable table) {
    public ProxyConfig {
        listeners = List.copyOf(listeners);
    }

    public static ProxyConfig empty() {
        return new ProxyConfig(List.of(), RouteTable.empty());
    }
}
