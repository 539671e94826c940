package dev.sluice.e2e;

/** {@link HubbleRelayLabTest} with three nodes. */
class HubbleRelay3LabTest extends HubbleRelayLabTest {
    @Override
    int nodes() {
        return 3;
    }
}
