package dev.sluice.linux;

/** A failed system call or system command, with the errno when there is one. */
public class LinuxException extends RuntimeException {
    private final int errno;

    public LinuxException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public LinuxException(String message) {
        this(message, 0);
    }

    /** The call's errno, or 0 when the failure did not come from a system call. */
    public int errno() {
        return errno;
    }
}
