package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.model.ValuesException;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Service;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each key the seed's values file sets changes what it should in the rendered objects, and every key of the seed
 * (unmodified) is accounted for: rendered or reported as unsupported.
 */
class ValuesKeysTest {
    @TempDir
    Path dir;

    private InstallValues values(String yaml) throws IOException {
        Path file = Files.createTempFile(dir, "values", ".yaml");
        Files.writeString(file, yaml);
        return InstallValues.load(file, InstallValues.DEFAULT_NAMESPACE);
    }

    private static List<HasMetadata> render(InstallValues v) {
        return SluiceManifests.render(v);
    }

    private static <T extends HasMetadata> Optional<T> find(List<HasMetadata> objects, Class<T> kind, String name) {
        return objects.stream().filter(kind::isInstance).map(kind::cast).filter(o -> o.getMetadata().getName().equals(name)).findFirst();
    }

    private static Container agent(List<HasMetadata> objects) {
        return find(objects, DaemonSet.class, Names.AGENT).orElseThrow().getSpec().getTemplate().getSpec().getContainers().getFirst();
    }

    private static String setting(List<HasMetadata> objects, String key) {
        return find(objects, ConfigMap.class, Names.CONFIG).orElseThrow().getData().get(key);
    }

    private static Set<String> names(List<HasMetadata> objects) {
        return objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).collect(Collectors.toCollection(LinkedHashSet::new));
    }

    @Test
    void everyKeyOfTheSeedIsRenderedOrReported() throws IOException {
        InstallValues seed = InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE);
        List<String> expected = List.of("kubeProxyReplacement", "hubble.enabled", "hubble.relay.enabled", "hubble.ui.enabled",
                "securityContext.privileged", "bpf.preallocateMaps", "operator.replicas", "serviceMesh.enabled", "serviceMesh.proxy",
                "socketLB.enabled", "encryption.enabled", "encryption.type");
        assertEquals(expected, seed.report().stream().map(KeyOutcome::key).toList());
        // The two the seed asks for that Sluice lacks, named with the reason.
        assertEquals(Set.of("bpf.preallocateMaps", "operator.replicas"),
                seed.unsupported().stream().map(KeyOutcome::key).collect(Collectors.toSet()), seed.report().toString());
        // The seed's file is what the agents read: verbatim in the ConfigMap.
        assertEquals(Files.readString(Repo.seedValues()), setting(render(seed), Names.VALUES_FILE));
    }

    @Test
    void theSeedRendersTheAgentRelayUiAndAllCrds() throws IOException {
        List<HasMetadata> objects = render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE));
        Set<String> names = names(objects);
        for (String n : List.of("CustomResourceDefinition/ciliumnetworkpolicies.cilium.io",
                "CustomResourceDefinition/ciliumclusterwidenetworkpolicies.cilium.io", "CustomResourceDefinition/ciliumenvoyconfigs.cilium.io",
                "CustomResourceDefinition/ciliumclusterwideenvoyconfigs.cilium.io", "CustomResourceDefinition/ciliumidentities.cilium.io",
                "ServiceAccount/sluice-agent", "ClusterRole/sluice-agent", "ClusterRoleBinding/sluice-agent", "ConfigMap/sluice-config",
                "ConfigMap/sluice-cni-config", "DaemonSet/sluice-agent", "Service/sluice-metrics", "Service/sluice-peer",
                "Deployment/sluice-relay", "Service/sluice-relay", "Deployment/sluice-ui", "Service/sluice-ui")) {
            assertTrue(names.contains(n), n + " in " + names);
        }
        Container agent = agent(objects);
        assertEquals(List.of("--source", "kubernetes", "--node", "$(NODE_NAME)", "--cluster", "default", "--state-dir", "/run/sluice",
                "--cgroup", "/sys/fs/cgroup", "--values", "/etc/sluice/values.yaml"), agent.getArgs());
        Set<String> mounts = agent.getVolumeMounts().stream().map(m -> m.getMountPath()).collect(Collectors.toSet());
        assertTrue(mounts.containsAll(Set.of("/sys/fs/bpf", "/sys/fs/cgroup", "/run/sluice", "/etc/sluice")), mounts.toString());
        DaemonSet ds = find(objects, DaemonSet.class, Names.AGENT).orElseThrow();
        assertTrue(ds.getSpec().getTemplate().getSpec().getHostNetwork());
        List<Container> init = ds.getSpec().getTemplate().getSpec().getInitContainers();
        assertEquals(List.of("mount-bpf-fs", "install-cni"), init.stream().map(Container::getName).toList());
        assertEquals(List.of(Names.INSTALL_CNI), init.get(1).getCommand());
        assertEquals(Set.of("/host/opt/cni/bin", "/host/etc/cni/net.d", "/host/opt/java", "/etc/sluice-cni"),
                init.get(1).getVolumeMounts().stream().map(m -> m.getMountPath()).collect(Collectors.toSet()));
        assertTrue(setting(objects, Names.VALUES_FILE).contains("kubeProxyReplacement"));
    }

    @Test
    void kubeProxyReplacement() throws IOException {
        assertEquals("strict", setting(render(values("kubeProxyReplacement: strict\n")), "kube-proxy-replacement"));
        assertEquals("strict", setting(render(values("kubeProxyReplacement: true\n")), "kube-proxy-replacement"));
        assertEquals("disabled", setting(render(values("kubeProxyReplacement: false\n")), "kube-proxy-replacement"));
        // With kube-proxy gone the agent must reach the API server directly.
        InstallValues direct = values("kubeProxyReplacement: strict\nk8sServiceHost: api.internal\nk8sServicePort: 443\n");
        assertTrue(agent(render(direct)).getEnv().stream().anyMatch(e -> e.getName().equals("KUBERNETES_SERVICE_HOST")
                && e.getValue().equals("api.internal")));
        assertTrue(agent(render(values("kubeProxyReplacement: strict\n"))).getEnv().stream()
                .noneMatch(e -> e.getName().equals("KUBERNETES_SERVICE_HOST")));
        assertTrue(values("kubeProxyReplacement: strict\n").report().getFirst().toString().contains("set k8sServiceHost"));
    }

    @Test
    void socketLb() throws IOException {
        assertEquals("true", setting(render(values("socketLB:\n  enabled: true\n")), "bpf-lb-sock"));
        assertEquals("false", setting(render(values("socketLB:\n  enabled: false\n")), "bpf-lb-sock"));
    }

    @Test
    void hubbleAddsTheObserverServiceAndPort() throws IOException {
        List<HasMetadata> on = render(values("hubble:\n  enabled: true\n"));
        List<HasMetadata> off = render(values("hubble:\n  enabled: false\n"));
        assertTrue(find(on, Service.class, Names.PEER_SERVICE).isPresent());
        assertFalse(find(off, Service.class, Names.PEER_SERVICE).isPresent());
        assertTrue(agent(on).getPorts().stream().anyMatch(p -> p.getContainerPort() == Names.OBSERVER_PORT));
        assertFalse(agent(off).getPorts().stream().anyMatch(p -> p.getContainerPort() == Names.OBSERVER_PORT));
        assertEquals("false", setting(off, "enable-hubble"));
    }

    @Test
    void relayAddsItsDeployment() throws IOException {
        List<HasMetadata> on = render(values("hubble:\n  relay:\n    enabled: true\n"));
        Deployment relay = find(on, Deployment.class, Names.RELAY).orElseThrow();
        assertEquals(List.of("relay", "--listen-address", "0.0.0.0:4245", "--peer-service", "sluice-peer.kube-system.svc:4244"),
                relay.getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs());
        assertTrue(find(on, Service.class, Names.RELAY).isPresent());
        List<HasMetadata> off = render(values("hubble:\n  relay:\n    enabled: false\n"));
        assertFalse(find(off, Deployment.class, Names.RELAY).isPresent());
        assertFalse(find(off, Service.class, Names.RELAY).isPresent());
        // A relay of nothing is reported, not rendered.
        InstallValues noHubble = values("hubble:\n  enabled: false\n  relay:\n    enabled: true\n");
        assertFalse(find(render(noHubble), Deployment.class, Names.RELAY).isPresent());
        assertEquals(List.of("hubble.relay.enabled"), noHubble.unsupported().stream().map(KeyOutcome::key).toList());
    }

    @Test
    void uiAddsItsDeploymentWhenThereIsARelay() throws IOException {
        List<HasMetadata> on = render(values("hubble:\n  relay:\n    enabled: true\n  ui:\n    enabled: true\n"));
        assertTrue(find(on, Deployment.class, Names.UI).isPresent());
        assertEquals(List.of("ui", "--server", "sluice-relay.kube-system.svc:80", "--address", "0.0.0.0", "--port", "12000"),
                find(on, Deployment.class, Names.UI).orElseThrow().getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs());
        assertFalse(find(render(values("hubble:\n  relay:\n    enabled: true\n  ui:\n    enabled: false\n")), Deployment.class, Names.UI).isPresent());
        InstallValues noRelay = values("hubble:\n  ui:\n    enabled: true\n");
        assertFalse(find(render(noRelay), Deployment.class, Names.UI).isPresent());
        assertEquals(List.of("hubble.ui.enabled"), noRelay.unsupported().stream().map(KeyOutcome::key).toList());
    }

    @Test
    void privilegedOrCapabilities() throws IOException {
        Container privileged = agent(render(values("securityContext:\n  privileged: true\n")));
        assertTrue(privileged.getSecurityContext().getPrivileged());
        assertEquals(null, privileged.getSecurityContext().getCapabilities());
        Container capable = agent(render(values("securityContext:\n  privileged: false\n")));
        assertFalse(capable.getSecurityContext().getPrivileged());
        assertEquals(AgentDaemonSet.CAPABILITIES, capable.getSecurityContext().getCapabilities().getAdd());
        assertEquals(List.of("ALL"), capable.getSecurityContext().getCapabilities().getDrop());
    }

    @Test
    void preallocateMapsIsReportedNotRendered() throws IOException {
        InstallValues on = values("bpf:\n  preallocateMaps: true\n");
        InstallValues off = values("bpf:\n  preallocateMaps: false\n");
        assertEquals(List.of("bpf.preallocateMaps"), on.unsupported().stream().map(KeyOutcome::key).toList());
        assertTrue(on.unsupported().getFirst().reason().contains("BPF_F_NO_PREALLOC"));
        assertTrue(off.unsupported().isEmpty());
        // Either way the agents run without preallocation, and the ConfigMap says so.
        assertEquals("false", setting(render(on), "preallocate-bpf-maps"));
    }

    @Test
    void operatorReplicasIsReportedAndRendersNoOperator() throws IOException {
        InstallValues one = values("operator:\n  replicas: 1\n");
        assertEquals(List.of("operator.replicas"), one.unsupported().stream().map(KeyOutcome::key).toList());
        assertTrue(one.unsupported().getFirst().reason().contains("no operator"));
        assertTrue(values("operator:\n  replicas: 0\n").unsupported().isEmpty());
        assertTrue(render(one).stream().noneMatch(o -> o.getMetadata().getName().contains("operator")));
        assertEquals(render(values("operator:\n  replicas: 0\n")).size(), render(one).size());
    }

    @Test
    void serviceMeshAddsTheEnvoyConfigCrds() throws IOException {
        List<HasMetadata> on = render(values("serviceMesh:\n  enabled: true\n  proxy: sidecar-free\n"));
        List<HasMetadata> off = render(values("serviceMesh:\n  enabled: false\n"));
        assertTrue(find(on, CustomResourceDefinition.class, "ciliumenvoyconfigs.cilium.io").isPresent());
        assertTrue(find(on, CustomResourceDefinition.class, "ciliumclusterwideenvoyconfigs.cilium.io").isPresent());
        assertFalse(find(off, CustomResourceDefinition.class, "ciliumenvoyconfigs.cilium.io").isPresent());
        assertTrue(find(off, CustomResourceDefinition.class, "ciliumnetworkpolicies.cilium.io").isPresent());
        // The agent's informers follow these kinds either way (an absent CRD is an empty kind to them).
        assertEquals(resources(find(on, ClusterRole.class, Names.AGENT).orElseThrow()),
                resources(find(off, ClusterRole.class, Names.AGENT).orElseThrow()));
        assertEquals("true", setting(on, "enable-envoy-config"));
        assertEquals("false", setting(off, "enable-envoy-config"));
        InstallValues perPod = values("serviceMesh:\n  enabled: true\n  proxy: sidecar\n");
        assertEquals(List.of("serviceMesh.proxy"), perPod.unsupported().stream().map(KeyOutcome::key).toList());
    }

    private static Set<String> resources(ClusterRole role) {
        return role.getRules().stream().flatMap(r -> r.getResources().stream()).collect(Collectors.toSet());
    }

    @Test
    void rbacGrantsOnlyWhatInformersAndIdentitiesNeed() throws IOException {
        ClusterRole role = find(render(values("serviceMesh:\n  enabled: true\n")), ClusterRole.class, Names.AGENT).orElseThrow();
        Set<String> listed = new java.util.TreeSet<>();
        for (var rule : role.getRules()) {
            Set<String> verbs = Set.copyOf(rule.getVerbs());
            if (rule.getResources().contains("ciliumidentities")) {
                assertEquals(Set.of("list", "watch", "create", "update", "delete"), verbs);
            } else if (verbs.equals(Set.of("patch"))) {
                // The agent's own Node annotation (its WireGuard public key): nodes only.
                assertEquals(List.of("nodes"), rule.getResources());
            } else {
                assertEquals(Set.of("list", "watch"), verbs, rule.getResources().toString());
                listed.addAll(rule.getResources());
            }
        }
        // Each kind sluice-k8s's informers follow (WatchedKind), and nothing more.
        assertEquals(new java.util.TreeSet<>(List.of("pods", "services", "namespaces", "nodes", "endpointslices", "networkpolicies",
                "ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ciliumenvoyconfigs", "ciliumclusterwideenvoyconfigs",
                "httproutes", "grpcroutes")), listed);
    }

    @Test
    void wireguardAddsItsPortModulesAndCapability() throws IOException {
        List<HasMetadata> on = render(values("encryption:\n  enabled: true\n  type: wireguard\nsecurityContext:\n  privileged: false\n"));
        List<HasMetadata> off = render(values("encryption:\n  enabled: false\n  type: wireguard\nsecurityContext:\n  privileged: false\n"));
        assertTrue(agent(on).getPorts().stream().anyMatch(p -> p.getContainerPort() == Names.WIREGUARD_PORT && p.getProtocol().equals("UDP")));
        assertFalse(agent(off).getPorts().stream().anyMatch(p -> p.getContainerPort() == Names.WIREGUARD_PORT));
        assertTrue(agent(on).getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/lib/modules")));
        assertFalse(agent(off).getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/lib/modules")));
        assertTrue(agent(on).getSecurityContext().getCapabilities().getAdd().contains("SYS_MODULE"));
        assertFalse(agent(off).getSecurityContext().getCapabilities().getAdd().contains("SYS_MODULE"));
        assertEquals("true", setting(on, "enable-wireguard"));
        assertEquals("false", setting(off, "enable-wireguard"));
        InstallValues ipsec = values("encryption:\n  enabled: true\n  type: ipsec\n");
        assertEquals(List.of("encryption.enabled", "encryption.type"), ipsec.unsupported().stream().map(KeyOutcome::key).toList());
        assertEquals("false", setting(render(ipsec), "enable-wireguard"));
    }

    @Test
    void aChangedValueRollsTheAgents() throws IOException {
        String a = find(render(values("socketLB:\n  enabled: true\n")), DaemonSet.class, Names.AGENT).orElseThrow()
                .getSpec().getTemplate().getMetadata().getAnnotations().get("sluice.dev/config-sha256");
        String b = find(render(values("socketLB:\n  enabled: false\n")), DaemonSet.class, Names.AGENT).orElseThrow()
                .getSpec().getTemplate().getMetadata().getAnnotations().get("sluice.dev/config-sha256");
        assertFalse(a.equals(b));
    }

    @Test
    void imageAndNamespace() throws IOException {
        Path file = Files.createTempFile(dir, "values", ".yaml");
        Files.writeString(file, "image:\n  repository: registry.example/sluice\n  tag: v0.1.0\n  pullPolicy: Always\n");
        List<HasMetadata> objects = render(InstallValues.load(file, "sluice"));
        assertEquals("registry.example/sluice:v0.1.0", agent(objects).getImage());
        assertEquals("Always", agent(objects).getImagePullPolicy());
        assertTrue(objects.stream().anyMatch(o -> o.getKind().equals("Namespace") && o.getMetadata().getName().equals("sluice")));
        assertTrue(objects.stream().filter(o -> !(o instanceof CustomResourceDefinition) && !o.getKind().startsWith("Cluster")
                && !o.getKind().equals("Namespace")).allMatch(o -> "sluice".equals(o.getMetadata().getNamespace())));
    }

    @Test
    void unknownKeysAreReportedByName() throws IOException {
        InstallValues v = values("ipam:\n  mode: kubernetes\nhubble:\n  enabled: true\n");
        assertEquals(List.of("ipam.mode"), v.unsupported().stream().map(KeyOutcome::key).toList());
        assertTrue(v.unsupported().getFirst().reason().contains("unknown key"), v.unsupported().toString());
    }

    @Test
    void badValuesNameTheFileAndTheField() throws IOException {
        Path file = Files.createTempFile(dir, "bad", ".yaml");
        Files.writeString(file, "image:\n  pullPolicy: Sometimes\n");
        ValuesException e = assertThrows(ValuesException.class, () -> InstallValues.load(file, "kube-system"));
        assertEquals("image.pullPolicy", e.key());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        Files.writeString(file, "hubble:\n  relay:\n    enabled: yes please\n");
        assertEquals("hubble.relay.enabled", assertThrows(ValuesException.class, () -> InstallValues.load(file, "kube-system")).key());
        Files.writeString(file, "operator:\n  replicas: two\n");
        assertEquals("operator.replicas", assertThrows(ValuesException.class, () -> InstallValues.load(file, "kube-system")).key());
        Files.writeString(file, "kubeProxyReplacement: sometimes\n");
        assertEquals("kubeProxyReplacement", assertThrows(ValuesException.class, () -> InstallValues.load(file, "kube-system")).key());
        Files.writeString(file, "hubble: [\n");
        ValuesException syntax = assertThrows(ValuesException.class, () -> InstallValues.load(file, "kube-system"));
        assertTrue(syntax.getMessage().startsWith(file.toString()), syntax.getMessage());
    }

    @Test
    void everyRenderedObjectParsesAsItsKind() throws IOException {
        List<HasMetadata> objects = render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE));
        List<HasMetadata> parsed = Parsing.objects(SluiceManifests.yaml(objects));
        assertEquals(objects.size(), parsed.size());
        for (int i = 0; i < objects.size(); i++) {
            assertInstanceOf(objects.get(i).getClass(), parsed.get(i));
            // Nothing lost or changed on the way: the parsed object writes the same YAML.
            assertEquals(SluiceManifests.yaml(List.of(objects.get(i))), SluiceManifests.yaml(List.of(parsed.get(i))));
        }
    }
}
