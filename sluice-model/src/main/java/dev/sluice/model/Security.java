package dev.sluice.model;

import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.SecurityContext;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** A container's securityContext (over its pod's) and resources.limits, checked and made into Sluice's model. */
final class Security {
    /** The capabilities Linux knows (capability.h), as Kubernetes writes them. */
    static final Set<String> CAPABILITIES = Set.of("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
            "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
            "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN",
            "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
            "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
            "PERFMON", "BPF", "CHECKPOINT_RESTORE");

    private Security() {
    }

    static SecuritySpec context(String at, SecurityContext c, String podAt, PodSecurityContext pod) {
        Long user = null;
        Long group = null;
        boolean nonRoot = false;
        if (pod != null) {
            user = id(podAt + ".securityContext.runAsUser", pod.getRunAsUser());
            group = id(podAt + ".securityContext.runAsGroup", pod.getRunAsGroup());
            nonRoot = Boolean.TRUE.equals(pod.getRunAsNonRoot());
        }
        if (c == null) {
            return check(podAt + ".securityContext", new SecuritySpec(user, group, nonRoot, List.of(), List.of(), false, null));
        }
        String field = at + ".securityContext";
        if (Boolean.TRUE.equals(c.getPrivileged())) {
            throw new FieldProblem(field + ".privileged", "is not supported in the lab: a privileged container could leave its namespaces");
        }
        if (c.getRunAsUser() != null) {
            user = id(field + ".runAsUser", c.getRunAsUser());
        }
        if (c.getRunAsGroup() != null) {
            group = id(field + ".runAsGroup", c.getRunAsGroup());
        }
        if (c.getRunAsNonRoot() != null) {
            nonRoot = c.getRunAsNonRoot();
        }
        List<String> add = List.of();
        List<String> drop = List.of();
        if (c.getCapabilities() != null) {
            add = capabilities(field + ".capabilities.add", c.getCapabilities().getAdd());
            drop = capabilities(field + ".capabilities.drop", c.getCapabilities().getDrop());
        }
        return check(field, new SecuritySpec(user, group, nonRoot, add, drop, Boolean.TRUE.equals(c.getReadOnlyRootFilesystem()),
                c.getAllowPrivilegeEscalation()));
    }

    /** runAsNonRoot with runAsUser 0 can never start: the API server lets it through, the kubelet refuses it; we say so at once. */
    private static SecuritySpec check(String field, SecuritySpec s) {
        if (s.runAsNonRoot() && s.runAsUser() != null && s.runAsUser() == 0) {
            throw new FieldProblem(field + ".runAsNonRoot", "is true, but runAsUser is 0 (root): the container could never start");
        }
        if (s.runAsNonRoot() && s.runAsUser() == null) {
            // The lab's images have no USER of their own: they run as root, which runAsNonRoot forbids.
            throw new FieldProblem(field + ".runAsNonRoot", "is true, but no runAsUser is set and the lab's images run as root:"
                    + " set runAsUser to a non-zero user id");
        }
        return s;
    }

    private static Long id(String field, Long value) {
        if (value != null && (value < 0 || value > 2147483647L)) {
            throw new FieldProblem(field, "must be 0..2147483647, got " + value);
        }
        return value;
    }

    private static List<String> capabilities(String field, List<String> names) {
        List<String> out = new ArrayList<>();
        List<String> given = names == null ? List.of() : names;
        for (int i = 0; i < given.size(); i++) {
            String name = given.get(i) == null ? "" : given.get(i).toUpperCase(Locale.ROOT);
            name = name.startsWith("CAP_") ? name.substring(4) : name;
            if (!name.equals("ALL") && !CAPABILITIES.contains(name)) {
                throw new FieldProblem(field + "[" + i + "]", "is not a Linux capability: " + FieldProblem.show(given.get(i)));
            }
            out.add(name);
        }
        return out;
    }

    static ResourceLimits limits(String at, ResourceRequirements resources) {
        if (resources == null || resources.getLimits() == null) {
            return ResourceLimits.NONE;
        }
        Long cpu = null;
        Long memory = null;
        for (var e : resources.getLimits().entrySet()) {
            String field = at + ".resources.limits." + e.getKey();
            BigDecimal amount;
            try {
                amount = Quantity.getAmountInBytes(e.getValue());
            } catch (RuntimeException bad) {
                throw new FieldProblem(field, "is not a quantity: " + FieldProblem.show(String.valueOf(e.getValue())));
            }
            if (amount.signum() <= 0) {
                throw new FieldProblem(field, "must be more than 0, got " + e.getValue());
            }
            switch (e.getKey()) {
                case "cpu" -> {
                    cpu = amount.multiply(BigDecimal.valueOf(1000)).setScale(0, java.math.RoundingMode.CEILING).longValueExact();
                }
                case "memory" -> memory = amount.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
                default -> {
                    // ephemeral-storage, hugepages, extended resources: nothing in the lab to limit them with.
                }
            }
        }
        return new ResourceLimits(cpu, memory);
    }
}
