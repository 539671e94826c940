package dev.sluice.libbpf;

/**
 * What one {@link BpfProgram#testRun BPF_PROG_TEST_RUN} reported.
 *
 * @param retval the program's return value of the last run, as the kernel's {@code __u32} read as a Java
 *               int (so TC_ACT_UNSPEC is -1, TC_ACT_SHOT 2, XDP_PASS 2)
 * @param durationNs the kernel's average time of one run, in nanoseconds (its own clock, whole ns, rounded
 *                   down; time the calling thread spent rescheduled is not counted)
 * @param repeat how many times the program ran
 */
public record TestRunResult(int retval, long durationNs, int repeat) {
    /** The kernel's time of all runs together: {@code durationNs * repeat} (so with its rounding). */
    public long totalNs() {
        return durationNs * repeat;
    }

    /**
     * One run's verdict and the packet as the program left it ({@link BpfProgram#testRunOnce}).
     *
     * @param retval as {@link TestRunResult#retval}
     * @param packet the frame after the run, from its Ethernet header on
     */
    public record WithPacket(int retval, byte[] packet) {
    }
}
