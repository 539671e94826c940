package dev.sluice.model;

/**
 * A container's {@code resources.limits}: what becomes cgroup v2's cpu.max and memory.max.
 *
 * @param cpuMillis   null: no limit; 500 for {@code cpu: 500m} or {@code 0.5}
 * @param memoryBytes null: no limit
 */
public record ResourceLimits(Long cpuMillis, Long memoryBytes) {
    public static final ResourceLimits NONE = new ResourceLimits(null, null);

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isEmpty() {
        return cpuMillis == null && memoryBytes == null;
    }
}
