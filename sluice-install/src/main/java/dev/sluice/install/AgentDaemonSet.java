package dev.sluice.install;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One agent per node: host network (it programs the node's datapath and serves on the node's address), privileged
 * or with the capabilities BPF and namespaces need, the node's bpffs (so pinned maps and links outlive a restart of
 * the pod, and traffic does not notice one), its cgroup v2 hierarchy (socket-level load balancing and the socket
 * bypass attach there) and /run/sluice (the agent's state and sockets, which the CNI plugin talks to). Init
 * containers mount bpffs if the node has not, and install the CNI plugin and its conflist on the host.
 */
final class AgentDaemonSet {
    static final String MAIN_CLASS = "dev.sluice.agent.AgentMain";
    /** What the agent needs without privileged: BPF and perf events, interfaces and routes, namespaces, memlock. */
    static final List<String> CAPABILITIES = List.of("BPF", "PERFMON", "NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_RESOURCE");

    private AgentDaemonSet() {
    }

    static List<String> capabilities(InstallValues values) {
        List<String> caps = new ArrayList<>(CAPABILITIES);
        if (values.wireguard()) {
            // To load the wireguard module where the kernel has it as a module.
            caps.add("SYS_MODULE");
        }
        return caps;
    }

    static DaemonSet of(InstallValues values, String configChecksum) {
        List<Volume> volumes = new ArrayList<>(List.of(
                hostPath("bpf-maps", "/sys/fs/bpf", "DirectoryOrCreate"),
                hostPath("cgroup", "/sys/fs/cgroup", "Directory"),
                hostPath("sluice-run", "/run/sluice", "DirectoryOrCreate"),
                hostPath("cni-bin", "/opt/cni/bin", "DirectoryOrCreate"),
                hostPath("cni-conf", "/etc/cni/net.d", "DirectoryOrCreate"),
                hostPath("host-java", "/opt/java", "DirectoryOrCreate"),
                new VolumeBuilder().withName("config").withNewConfigMap().withName(Names.CONFIG).endConfigMap().build(),
                new VolumeBuilder().withName("cni-config").withNewConfigMap().withName(Names.CNI_CONFIG).endConfigMap().build()));
        List<VolumeMount> mounts = new ArrayList<>(List.of(
                new VolumeMountBuilder().withName("bpf-maps").withMountPath("/sys/fs/bpf").withMountPropagation("HostToContainer").build(),
                mount("cgroup", "/sys/fs/cgroup", false),
                mount("sluice-run", "/run/sluice", false),
                mount("config", "/etc/sluice", true)));
        if (values.wireguard()) {
            volumes.add(hostPath("lib-modules", "/lib/modules", "Directory"));
            mounts.add(mount("lib-modules", "/lib/modules", true));
        }

        List<String> args = List.of("--source", "kubernetes", "--node", "$(NODE_NAME)", "--cluster", values.clusterName(),
                "--state-dir", "/run/sluice", "--cgroup", "/sys/fs/cgroup", "--values", "/etc/sluice/" + Names.VALUES_FILE);
        Container agent = new ContainerBuilder()
                .withName("agent")
                .withImage(values.image().reference()).withImagePullPolicy(values.image().pullPolicy())
                // Small heap and code cache: one agent per node, idle most of the time (docs/benchmarks.md).
                .withCommand("java", "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-XX:ReservedCodeCacheSize=16m",
                        "-cp", Names.JAR, MAIN_CLASS)
                .withArgs(args)
                .withEnv(env(values))
                .withPorts(ports(values))
                .withSecurityContext(securityContext(values, capabilities(values)))
                .withVolumeMounts(mounts)
                .withNewResources().withRequests(new java.util.TreeMap<>(Map.of("cpu", new Quantity("100m"), "memory", new Quantity("300Mi")))).endResources()
                // kubelet probes from the node's network namespace, where the agent serves its metrics on 127.0.0.1.
                .withNewLivenessProbe().withNewHttpGet().withHost("127.0.0.1").withPath("/metrics")
                .withPort(new IntOrString(Names.METRICS_PORT)).endHttpGet()
                .withInitialDelaySeconds(10).withPeriodSeconds(10).withFailureThreshold(6).endLivenessProbe()
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                .build();

        Container mountBpf = new ContainerBuilder()
                .withName("mount-bpf-fs")
                .withImage(values.image().reference()).withImagePullPolicy(values.image().pullPolicy())
                .withCommand("sh", "-c", "grep -q ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf")
                // Always privileged, as Cilium's is: Kubernetes allows Bidirectional propagation (the mount must reach
                // the host) only to privileged containers. It exits before the agent starts.
                .withSecurityContext(new SecurityContextBuilder().withPrivileged(true).build())
                .withVolumeMounts(new VolumeMountBuilder().withName("bpf-maps").withMountPath("/sys/fs/bpf").withMountPropagation("Bidirectional").build())
                .build();
        // deploy/image/install-cni: the plugin, its jar and a JRE for it onto the host, then the conflist.
        Container installCni = new ContainerBuilder()
                .withName("install-cni")
                .withImage(values.image().reference()).withImagePullPolicy(values.image().pullPolicy())
                .withCommand(Names.INSTALL_CNI)
                .withVolumeMounts(mount("cni-bin", "/host/opt/cni/bin", false), mount("cni-conf", "/host/etc/cni/net.d", false),
                        mount("host-java", "/host/opt/java", false), mount("cni-config", "/etc/sluice-cni", true))
                .build();

        return new DaemonSetBuilder()
                .withNewMetadata().withName(Names.AGENT).withNamespace(values.namespace()).withLabels(Names.labels(Names.AGENT)).endMetadata()
                .withNewSpec()
                .withNewSelector().withMatchLabels(Names.selector(Names.AGENT)).endSelector()
                .withNewUpdateStrategy().withType("RollingUpdate").withNewRollingUpdate()
                .withMaxUnavailable(new IntOrString(2)).endRollingUpdate().endUpdateStrategy()
                .withNewTemplate()
                .withNewMetadata().withLabels(Names.labels(Names.AGENT))
                .withAnnotations(Map.of("sluice.dev/config-sha256", configChecksum)).endMetadata()
                .withNewSpec()
                .withServiceAccountName(Names.AGENT)
                .withHostNetwork(true)
                .withDnsPolicy("ClusterFirstWithHostNet")
                // Pods of the node cannot start without it (it is their CNI plugin), so it must not be evicted first.
                .withPriorityClassName("system-node-critical")
                .withAutomountServiceAccountToken(true)
                .addNewToleration().withOperator("Exists").endToleration()
                .withTerminationGracePeriodSeconds(10L)
                .withInitContainers(mountBpf, installCni)
                .withContainers(agent)
                .withVolumes(volumes)
                .endSpec()
                .endTemplate()
                .endSpec()
                .build();
    }

    private static List<EnvVar> env(InstallValues values) {
        List<EnvVar> env = new ArrayList<>();
        env.add(new EnvVarBuilder().withName("NODE_NAME").withNewValueFrom().withNewFieldRef().withFieldPath("spec.nodeName")
                .endFieldRef().endValueFrom().build());
        env.add(new EnvVarBuilder().withName("POD_NAMESPACE").withNewValueFrom().withNewFieldRef().withFieldPath("metadata.namespace")
                .endFieldRef().endValueFrom().build());
        values.k8sServiceHost().ifPresent(host -> {
            env.add(new EnvVar("KUBERNETES_SERVICE_HOST", host, null));
            env.add(new EnvVar("KUBERNETES_SERVICE_PORT", String.valueOf(values.k8sServicePort()), null));
        });
        return env;
    }

    private static List<ContainerPort> ports(InstallValues values) {
        List<ContainerPort> ports = new ArrayList<>();
        ports.add(new ContainerPortBuilder().withName("metrics").withContainerPort(Names.METRICS_PORT).withProtocol("TCP").build());
        if (values.agent().hubble().enabled() && values.agent().hubble().listenPort() != 0) {
            ports.add(new ContainerPortBuilder().withName("observer").withContainerPort(values.agent().hubble().listenPort())
                    .withProtocol("TCP").build());
        }
        if (values.wireguard()) {
            ports.add(new ContainerPortBuilder().withName("wireguard").withContainerPort(Names.WIREGUARD_PORT).withProtocol("UDP").build());
        }
        return ports;
    }

    private static SecurityContext securityContext(InstallValues values, List<String> capabilities) {
        if (values.privileged()) {
            return new SecurityContextBuilder().withPrivileged(true).build();
        }
        // Unconfined: the default seccomp and AppArmor profiles refuse bpf() and mount().
        return new SecurityContextBuilder().withPrivileged(false)
                .withNewCapabilities().withAdd(capabilities).withDrop("ALL").endCapabilities()
                .withNewSeccompProfile().withType("Unconfined").endSeccompProfile()
                .withNewAppArmorProfile().withType("Unconfined").endAppArmorProfile()
                .build();
    }

    private static Volume hostPath(String name, String path, String type) {
        return new VolumeBuilder().withName(name).withNewHostPath().withPath(path).withType(type).endHostPath().build();
    }

    private static VolumeMount mount(String name, String path, boolean readOnly) {
        return new VolumeMountBuilder().withName(name).withMountPath(path).withReadOnly(readOnly ? true : null).build();
    }
}
