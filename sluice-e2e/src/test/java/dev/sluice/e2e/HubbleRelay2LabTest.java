package dev.sluice.e2e;

/** {@link HubbleRelayLabTest} with two nodes. */
class HubbleRelay2LabTest extends HubbleRelayLabTest {
    @Override
    int nodes() {
        return 2;
    }
}
