package dev.sluice.lab;

import dev.sluice.model.SecuritySpec;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** A container's securityContext as the container launcher applies it: setpriv's bounding set and options. */
final class ContainerSecurity {
    /** containerd's and Docker's default set, in Kubernetes' names. */
    static final List<String> DEFAULT = List.of("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
            "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE");

    private ContainerSecurity() {
    }

    /** setpriv's --bounding-set: the default set, less what is dropped ({@code ALL}: everything), plus what is added. */
    static String capabilities(SecuritySpec s) {
        Set<String> caps = new LinkedHashSet<>(DEFAULT);
        if (s.dropCapabilities().contains("ALL")) {
            caps.clear();
        }
        s.dropCapabilities().forEach(caps::remove);
        if (s.addCapabilities().contains("ALL")) {
            caps.addAll(allCapabilities());
        } else {
            caps.addAll(s.addCapabilities());
        }
        StringBuilder out = new StringBuilder("-all");
        caps.forEach(c -> out.append(",+").append(c.toLowerCase(Locale.ROOT)));
        return out.toString();
    }

    /**
     * setpriv's options for the user, group and no_new_privs, ',' between them (the launcher splits them), or "-".
     * A container that changes its user gets no supplementary groups (Kubernetes gives only runAsGroup and fsGroup).
     */
    static String setprivOptions(SecuritySpec s) {
        List<String> opts = new ArrayList<>();
        if (s.runAsUser() != null) {
            opts.add("--reuid=" + s.runAsUser());
        }
        if (s.runAsGroup() != null) {
            opts.add("--regid=" + s.runAsGroup());
        }
        if (s.runAsUser() != null || s.runAsGroup() != null) {
            opts.add("--clear-groups");
        }
        if (Boolean.FALSE.equals(s.allowPrivilegeEscalation())) {
            opts.add("--no-new-privs");
        }
        return opts.isEmpty() ? "-" : String.join(",", opts);
    }

    private static List<String> allCapabilities() {
        // Those setpriv knows by name on this util-linux; "ALL" in add is rare and mostly a mistake, but it is what was asked.
        return List.of("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
                "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
                "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
                "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
                "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
                "CHECKPOINT_RESTORE");
    }
}
