package dev.sluice.l7.route;

/** How a request picks a backend within a cluster (Envoy's {@code lb_policy} that Sluice implements). */
public enum LbPolicy {
    /** In turn, skipping ejected backends. */
    ROUND_ROBIN,
    /** The fewer active requests of two backends picked at random (Envoy's default for LEAST_REQUEST). */
    LEAST_REQUEST,
    RANDOM
}
