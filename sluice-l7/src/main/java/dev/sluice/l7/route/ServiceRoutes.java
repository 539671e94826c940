package dev.sluice.l7.route;

import java.util.List;

/**
 * What the proxy does with requests sent to one Service port: the virtual hosts of the envoy configurations that
 * name the Service.
 *
 * @param clusterIp the Service's ClusterIP, or "" when it has none yet
 * @param origin the configuration it came from ({@code CiliumEnvoyConfig default/product-service-canary})
 */
public record ServiceRoutes(String namespace, String service, int port, String clusterIp, String origin,
                            List<VirtualHost> virtualHosts) {
    public ServiceRoutes {
        virtualHosts = List.copyOf(virtualHosts);
        clusterIp = clusterIp == null ? "" : clusterIp;
    }

    public String key() {
        return namespace + "/" + service + ":" + port;
    }
}
