package dev.sluice.datapath.lb;

import java.util.List;

/**
 * One Service port as the datapath serves it: the ClusterIP, port and protocol clients use, and the
 * ready backends behind it. {@code id} is the rev_nat_index that names it in every LB map.
 */
public record Frontend(String service, String portName, String address, int port, int proto, int id, boolean affinity,
                       int affinityTimeoutSeconds, List<Backend> backends) {

    /** A key that identifies the frontend whatever its id: address, port and protocol. */
    public String key() {
        return address + ":" + port + "/" + proto;
    }
}
