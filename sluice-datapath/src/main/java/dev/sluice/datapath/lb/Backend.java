package dev.sluice.datapath.lb;

/** One ready endpoint of a Service port: a pod address and the resolved target port. */
public record Backend(String address, int port, int proto, int id, String pod) {
    /** Identifies the backend whatever its id. */
    public String key() {
        return address + ":" + port + "/" + proto;
    }

    /** Whether {@code other} fills a slot the same way: same id, address, port and protocol (the pod may differ). */
    public boolean sameSlot(Backend other) {
        return id == other.id && port == other.port && proto == other.proto && address.equals(other.address);
    }
}
