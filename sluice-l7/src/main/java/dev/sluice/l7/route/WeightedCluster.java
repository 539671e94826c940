package dev.sluice.l7.route;

/** One cluster of a route's split, with its share {@code weight / sum of weights}. */
public record WeightedCluster(String cluster, int weight) {
    public WeightedCluster {
        if (weight < 0) {
            throw new IllegalArgumentException("weight must be >= 0, got " + weight);
        }
    }
}
