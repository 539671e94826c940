package dev.sluice.workload.load;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

import java.util.ArrayList;
import java.util.List;

/**
 * A latency distribution as fortio writes it ({@code DurationHistogram}): every value in seconds. {@code Data} are
 * buckets doubling from 10 µs ({@code Percent} is cumulative, as fortio's); {@code Percentiles} those asked for
 * with {@code -p}. Unknown fields are ignored, so fortio's own JSON reads too.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record DurationHistogram(@JsonProperty("Count") long count,
                                @JsonProperty("Min") double min,
                                @JsonProperty("Max") double max,
                                @JsonProperty("Sum") double sum,
                                @JsonProperty("Avg") double avg,
                                @JsonProperty("StdDev") double stdDev,
                                @JsonProperty("Data") List<Bucket> data,
                                @JsonProperty("Percentiles") List<Percentile> percentiles) {
    private static final long FIRST_BUCKET_NANOS = 10_000;

    public DurationHistogram {
        data = data == null ? List.of() : List.copyOf(data);
        percentiles = percentiles == null ? List.of() : List.copyOf(percentiles);
    }

    /** One bucket: values in [Start, End) seconds, how many, and the cumulative percentage up to End. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Bucket(@JsonProperty("Start") double start, @JsonProperty("End") double end,
                         @JsonProperty("Percent") double percent, @JsonProperty("Count") long count) {
    }

    /** A percentile (e.g. 99.9) and its value in seconds. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Percentile(@JsonProperty("Percentile") double percentile, @JsonProperty("Value") double value) {
    }

    /** {@code histogram} (in nanoseconds) in seconds, with the given percentiles. */
    public static DurationHistogram of(Histogram histogram, List<Double> percentiles) {
        long count = histogram.getTotalCount();
        if (count == 0) {
            return new DurationHistogram(0, 0, 0, 0, 0, 0, List.of(), List.of());
        }
        List<Percentile> ps = new ArrayList<>();
        for (double p : percentiles) {
            ps.add(new Percentile(p, seconds(histogram.getValueAtPercentile(p))));
        }
        List<Bucket> buckets = new ArrayList<>();
        long below = 0;
        double start = 0;
        for (HistogramIterationValue v : histogram.logarithmicBucketValues(FIRST_BUCKET_NANOS, 2.0)) {
            long n = v.getCountAddedInThisIterationStep();
            below += n;
            double end = seconds(histogram.highestEquivalentValue(v.getValueIteratedTo()) + 1);
            if (n > 0) {
                buckets.add(new Bucket(start, end, 100.0 * below / count, n));
            }
            start = end;
        }
        double mean = histogram.getMean();
        return new DurationHistogram(count, seconds(histogram.getMinValue()), seconds(histogram.getMaxValue()),
                seconds(mean) * count, seconds(mean), seconds(histogram.getStdDeviation()), buckets, ps);
    }

    /** The value at {@code percentile} if it was asked for, else NaN. */
    public double valueAt(double percentile) {
        return percentiles.stream().filter(p -> p.percentile() == percentile).mapToDouble(Percentile::value)
                .findFirst().orElse(Double.NaN);
    }

    private static double seconds(double nanos) {
        return nanos / 1e9;
    }
}
