package dev.sluice.lab;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AddressPlanTest {
    private final AddressPlan plan = AddressPlan.DEFAULT;

    @Test
    void nodesAndPodsGetTheirDocumentedAddresses() {
        assertEquals("10.254.0.1", plan.nodeAddress(1));
        assertEquals("10.244.2.0/24", plan.podCidr(2));
        assertEquals("10.244.2.10", plan.podAddress(2, AddressPlan.FIRST_POD_HOST));
        assertEquals("10.244.1.250", plan.podAddress(1, AddressPlan.LAST_POD_HOST));
    }

    @Test
    void serviceAddressesStayInTheServiceCidr() {
        assertEquals("10.96.0.10", plan.firstServiceIp().toString());
        assertTrue(plan.inServiceCidr("10.96.255.254"));
        assertFalse(plan.inServiceCidr("10.97.0.1"));
        assertFalse(plan.inServiceCidr("10.244.1.10"));
    }
}
