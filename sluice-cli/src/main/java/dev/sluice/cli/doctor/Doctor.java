package dev.sluice.cli.doctor;

import dev.sluice.datapath.Programs;
import dev.sluice.libbpf.BpfException;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BpfSystem;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;
import dev.sluice.linux.Kernel;
import dev.sluice.linux.KernelConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The checks behind {@code sluice doctor}. Each says what works and, when something does not, what to do.
 * Nothing here changes the machine: bpffs and cgroups are inspected, not mounted, and tcx is probed
 * without attaching to any interface.
 */
public final class Doctor {
    /** Oldest kernel with every hook the datapath needs: ring buffers, bpf links for cgroups and XDP, sock_release. */
    static final int MIN_MAJOR = 5;
    static final int MIN_MINOR = 10;

    public List<Check> run() {
        List<Check> checks = new ArrayList<>();
        Kernel kernel = Kernel.running();
        checks.add(kernel(kernel));
        checks.add(btf());
        Check libbpf = libbpf();
        checks.add(libbpf);
        boolean bpfUsable = false;
        if (libbpf.status() != Check.Status.FAIL) {
            Check bpf = bpfSyscall();
            checks.add(bpf);
            bpfUsable = bpf.status() == Check.Status.OK;
        }
        checks.add(bpffs());
        checks.add(cgroupV2());
        checks.add(podLimits());
        if (bpfUsable) {
            checks.add(tcx(kernel));
            checks.add(programsLoad());
        }
        checks.add(clang());
        checks.addAll(encryption());
        return checks;
    }

    static Check kernel(Kernel kernel) {
        if (!kernel.atLeast(MIN_MAJOR, MIN_MINOR)) {
            return Check.fail("Kernel", kernel.release() + ": Sluice needs " + MIN_MAJOR + "." + MIN_MINOR + " or newer");
        }
        return Check.ok("Kernel", kernel.release());
    }

    static Check btf() {
        Path vmlinux = Path.of("/sys/kernel/btf/vmlinux");
        return Files.isReadable(vmlinux)
                ? Check.ok("BTF", vmlinux + " present")
                : Check.warn("BTF", "no " + vmlinux + ": the kernel was built without CONFIG_DEBUG_INFO_BTF; CO-RE programs will not load");
    }

    static Check libbpf() {
        try {
            String version = BpfSystem.libbpfVersion();
            String[] parts = version.split("\\.");
            boolean recent = Integer.parseInt(parts[0]) > 1 || (Integer.parseInt(parts[0]) == 1 && Integer.parseInt(parts[1]) >= 1);
            return recent ? Check.ok("libbpf", "libbpf.so.1, version " + version)
                    : Check.fail("libbpf", "version " + version + " is too old: install libbpf1 1.1 or newer");
        } catch (BpfException | ExceptionInInitializerError | NoClassDefFoundError e) {
            return Check.fail("libbpf", "cannot load libbpf.so.1: install the libbpf1 package (1.1 or newer)");
        }
    }

    static Check bpfSyscall() {
        try {
            BpfSystem.checkBpfSyscall();
            return Check.ok("bpf()", "maps can be created (CAP_BPF present)");
        } catch (BpfException e) {
            return Check.fail("bpf()", e.getMessage());
        }
    }

    static Check bpffs() {
        if (BpfFs.isMounted(BpfFs.DEFAULT_ROOT)) {
            return Check.ok("bpffs", "mounted at " + BpfFs.DEFAULT_ROOT);
        }
        return Check.warn("bpffs", "not mounted at " + BpfFs.DEFAULT_ROOT
                + ": Sluice mounts it when it runs as root (or: mount -t bpf bpf " + BpfFs.DEFAULT_ROOT + ")");
    }

    static Check cgroupV2() {
        Optional<Path> root = Cgroups.v2Root();
        if (root.isEmpty()) {
            return Check.fail("cgroup v2", "not mounted: socket load balancing attaches to cgroup v2 (mount -t cgroup2 none /sys/fs/cgroup)");
        }
        String mode = root.get().equals(Path.of("/sys/fs/cgroup")) ? "unified mode" : "hybrid mode";
        return Check.ok("cgroup v2", "mounted at " + root.get() + " (" + mode + ")");
    }

    /** Whether the lab can put pods' resources.limits in force, and how (optional: pods run unlimited without). */
    static Check podLimits() {
        String how = dev.sluice.lab.Lab.limitsMechanism();
        return how.startsWith("none") ? Check.info("Pod limits", how + ": a lab pod with resources.limits cannot start")
                : Check.ok("Pod limits", how);
    }

    static Check tcx(Kernel kernel) {
        try {
            if (BpfSystem.tcxSupported()) {
                return Check.ok("TC attach", "tcx (bpf_link) available");
            }
            return Check.warn("TC attach", "no tcx on " + kernel.release() + " (needs 6.6): falling back to legacy TC (clsact)");
        } catch (BpfException e) {
            return Check.fail("TC attach", e.getMessage());
        }
    }

    static Check programsLoad() {
        int programs = 0;
        for (String name : Programs.BUNDLED) {
            try (BpfObject object = Programs.open(name).load()) {
                programs += object.programs().size();
            } catch (BpfException e) {
                return Check.fail("Datapath", "bundled object " + name + " does not load: " + e.getMessage().lines().findFirst().orElse(""));
            }
        }
        return Check.ok("Datapath", Programs.BUNDLED.size() + " bundled object(s), " + programs + " program(s) pass the verifier");
    }

    static Check clang() {
        Command.Result r;
        try {
            r = Command.exec(List.of("clang", "--version"));
        } catch (RuntimeException e) {
            return Check.info("clang", "not installed: only needed to build Sluice from source (apt-get install clang)");
        }
        String first = r.stdout().lines().findFirst().orElse("").strip();
        return r.ok() ? Check.ok("clang", first) : Check.info("clang", "not usable: only needed to build Sluice from source");
    }

    /** Transparent encryption: which of the kernel's mechanisms this kernel has, and why not when it lacks one. */
    static List<Check> encryption() {
        Optional<KernelConfig> config = KernelConfig.running();
        List<Check> checks = new ArrayList<>();
        Check wireguard = feature(config, "WireGuard", "CONFIG_WIREGUARD", "wireguard");
        if (wireguard.status() != Check.Status.OK && dev.sluice.model.KernelFeatures.running().userspaceWireGuard()) {
            // What the agents fall back to (docs/encryption.md): same protocol, in user space.
            wireguard = Check.info(wireguard.name(), wireguard.detail() + "; wireguard-go is installed, which the agents run instead");
        }
        checks.add(wireguard);
        checks.add(feature(config, "IPsec (ESP)", "CONFIG_INET_ESP", "esp4"));
        checks.add(feature(config, "kTLS", "CONFIG_TLS", "tls"));
        return checks;
    }

    private static Check feature(Optional<KernelConfig> config, String name, String option, String module) {
        if (Files.isDirectory(Path.of("/sys/module", module))) {
            return Check.ok(name, "available (module " + module + " loaded)");
        }
        if (config.isEmpty()) {
            return Check.info(name, "unknown: the kernel exposes no configuration (/proc/config.gz)");
        }
        return switch (config.get().setting(option)) {
            case BUILT_IN -> Check.ok(name, "available (built into the kernel)");
            case MODULE -> Files.isDirectory(Path.of("/lib/modules", Kernel.running().release()))
                    ? Check.ok(name, "available as module " + module)
                    : Check.info(name, "unavailable: built as a module but this machine has no /lib/modules for " + Kernel.running().release());
            case NOT_SET -> Check.info(name, "unavailable: " + option + " is not set in this kernel");
        };
    }
}
