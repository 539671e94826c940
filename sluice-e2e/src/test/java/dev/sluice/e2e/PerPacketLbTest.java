package dev.sluice.e2e;

/** Load balancing per packet at TC only (socketLB.enabled: false): DNAT, Maglev, conntrack, reverse NAT. */
class PerPacketLbTest extends LoadBalancingSuite {
    @Override
    boolean socketLb() {
        return false;
    }
}
