package dev.sluice.model;

/** A pod's restartPolicy: which exits of a container the kubelet answers by starting it again. */
public enum RestartPolicy {
    ALWAYS("Always"), ON_FAILURE("OnFailure"), NEVER("Never");

    private final String manifestName;

    RestartPolicy(String manifestName) {
        this.manifestName = manifestName;
    }

    public String manifestName() {
        return manifestName;
    }

    /** Whether a container that exited with {@code code} is started again. */
    public boolean restarts(int code) {
        return this == ALWAYS || (this == ON_FAILURE && code != 0);
    }
}
