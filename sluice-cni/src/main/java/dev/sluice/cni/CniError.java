package dev.sluice.cni;

/**
 * A CNI error as the spec defines it (section "Error"): printed on stdout as {@code {"cniVersion", "code", "msg",
 * "details"}}, with a non-zero exit. The codes below 100 are the spec's; from 100 up they are Sluice's own.
 */
public class CniError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public static final int INCOMPATIBLE_VERSION = 1;
    public static final int UNSUPPORTED_FIELD = 2;
    public static final int UNKNOWN_CONTAINER = 3;
    public static final int INVALID_ENVIRONMENT = 4;
    public static final int IO_FAILURE = 5;
    public static final int DECODING_FAILURE = 6;
    public static final int INVALID_CONFIG = 7;
    public static final int TRY_AGAIN_LATER = 11;
    /** CNI 1.1's STATUS: the plugin cannot add pods now (its agent does not answer). */
    public static final int NOT_AVAILABLE = 50;
    /** Sluice's: making the pod's interface failed (an {@code ip} command refused). */
    public static final int INTERFACE_FAILURE = 100;
    /** Sluice's: CHECK found the pod's network not as ADD made it. */
    public static final int CHECK_FAILED = 101;

    private final int code;
    private final String details;

    public CniError(int code, String msg) {
        this(code, msg, "");
    }

    public CniError(int code, String msg, String details) {
        super(msg);
        this.code = code;
        this.details = details == null ? "" : details;
    }

    public int code() {
        return code;
    }

    public String details() {
        return details;
    }

    /** The spec's error object as the plugin prints it ({@link Json}); {@code details} left out when empty. */
    public java.util.Map<String, Object> toMap(String cniVersion) {
        return Json.object("cniVersion", cniVersion, "code", code, "msg", getMessage(), "details",
                details.isEmpty() ? null : details);
    }
}
