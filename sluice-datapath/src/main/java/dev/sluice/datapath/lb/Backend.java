package dev.sluice.datapath.lb;

/** One ready endpoint of a Service port: a pod address and the resolved target port. */
public record Backend(String address, int port, int proto, int id, String pod) {
    /** Identifies the backend whatever its id. */
    public String key() {
        return address + ":" + port + "/" + proto;
    }
}
