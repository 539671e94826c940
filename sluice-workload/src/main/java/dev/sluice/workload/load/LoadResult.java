package dev.sluice.workload.load;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One run's result, with fortio's JSON field names ({@code -json FILE}): {@code DurationHistogram} is the latency of
 * successful requests from their intended send time (corrected for coordinated omission; in closed loop the
 * intended time is the send time), {@code ErrorsDurationHistogram} the failed requests', {@code RetCodes} the count
 * of each code. {@code Sluice} holds what fortio does not have: the uncorrected histogram (from the actual send
 * time) and the exact HdrHistograms, so runs can be merged or compared without binning error.
 * {@code sluice bench} reads results with this record ({@link #read}).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LoadResult(@JsonProperty("RunType") String runType,
                         @JsonProperty("Labels") String labels,
                         @JsonProperty("StartTime") String startTime,
                         @JsonProperty("RequestedQPS") String requestedQps,
                         @JsonProperty("RequestedDuration") String requestedDuration,
                         @JsonProperty("ActualQPS") double actualQps,
                         @JsonProperty("ActualDuration") long actualDurationNanos,
                         @JsonProperty("NumThreads") int numThreads,
                         @JsonProperty("Version") String version,
                         @JsonProperty("DurationHistogram") DurationHistogram durationHistogram,
                         @JsonProperty("ErrorsDurationHistogram") DurationHistogram errorsDurationHistogram,
                         @JsonProperty("Exactly") long exactly,
                         @JsonProperty("Jitter") boolean jitter,
                         @JsonProperty("RetCodes") Map<String, Long> retCodes,
                         @JsonProperty("Destination") String destination,
                         @JsonProperty("URL") String url,
                         @JsonProperty("Sluice") Extra sluice) {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public LoadResult {
        retCodes = retCodes == null ? Map.of() : Map.copyOf(retCodes);
    }

    /**
     * Sluice's additions.
     *
     * @param uncorrected           successful requests' latency from their actual send time
     * @param coordinatedOmission   "corrected" when requests had intended times (open loop), "closed-loop" otherwise
     * @param plannedRequests       requests the schedule intended (-1 in closed loop)
     * @param requests              requests made (answered or failed), warm-up excluded
     * @param unsent                requests due before the end but not sent: their connection was still waiting
     *                              for an earlier answer when the run's time was up
     * @param errors                failed requests
     * @param warmupRequests        one per connection before the run, not counted
     * @param errorSamples          the first failures' descriptions
     * @param maxSendLag            seconds: the latest a request went out behind its intended time (the previous
     *                              answer on its connection came late, or the generator could not keep up)
     * @param correctedHdr          {@code DurationHistogram} as a compressed, base64 HdrHistogram in nanoseconds
     * @param uncorrectedHdr        {@code uncorrected} likewise
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Extra(@JsonProperty("Uncorrected") DurationHistogram uncorrected,
                        @JsonProperty("CoordinatedOmission") String coordinatedOmission,
                        @JsonProperty("PlannedRequests") long plannedRequests,
                        @JsonProperty("Requests") long requests,
                        @JsonProperty("Unsent") long unsent,
                        @JsonProperty("Errors") long errors,
                        @JsonProperty("WarmupRequests") long warmupRequests,
                        @JsonProperty("ErrorSamples") List<String> errorSamples,
                        @JsonProperty("MaxSendLag") double maxSendLag,
                        @JsonProperty("CorrectedHdr") String correctedHdr,
                        @JsonProperty("UncorrectedHdr") String uncorrectedHdr) {
        public Extra {
            errorSamples = errorSamples == null ? List.of() : List.copyOf(errorSamples);
        }
    }

    /** Requests that failed ({@code ErrorsDurationHistogram}'s count). */
    public long errors() {
        return errorsDurationHistogram == null ? 0 : errorsDurationHistogram.count();
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void write(Path file) throws IOException {
        JSON.writeValue(file.toFile(), this);
    }

    public static LoadResult parse(String json) throws IOException {
        return JSON.readValue(json, LoadResult.class);
    }

    /** Reads a result written by {@code sluice load -json FILE} (or by fortio: its extra fields are ignored). */
    public static LoadResult read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), LoadResult.class);
    }
}
