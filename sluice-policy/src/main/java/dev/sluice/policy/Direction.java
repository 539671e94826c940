package dev.sluice.policy;

import java.util.Locale;

/** Which way a new connection crosses the local endpoint: into it (ingress) or out of it (egress). */
public enum Direction {
    INGRESS, EGRESS;

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
