package dev.sluice.cli.doctor;

/** One line of {@code sluice doctor}: what was checked, how it went, and what was found or what to do. */
public record Check(String name, Status status, String detail) {
    public enum Status {
        /** Works. */
        OK("ok"),
        /** Works with a limitation, or an optional feature is missing. */
        WARN("warn"),
        /** Required and missing: Sluice cannot run. */
        FAIL("FAIL"),
        /** A fact, neither good nor bad (e.g. a feature this kernel lacks that nothing asked for). */
        INFO("--");

        private final String label;

        Status(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public static Check ok(String name, String detail) {
        return new Check(name, Status.OK, detail);
    }

    public static Check warn(String name, String detail) {
        return new Check(name, Status.WARN, detail);
    }

    public static Check fail(String name, String detail) {
        return new Check(name, Status.FAIL, detail);
    }

    public static Check info(String name, String detail) {
        return new Check(name, Status.INFO, detail);
    }
}
