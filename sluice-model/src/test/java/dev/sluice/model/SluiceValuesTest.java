package dev.sluice.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.linux.KernelConfig.Setting;
import dev.sluice.model.Feature.State;
import dev.sluice.model.SluiceValues.Encryption;
import dev.sluice.model.SluiceValues.KubeProxyReplacement;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SluiceValuesTest {
    private static final KernelFeatures WITHOUT_ANY = KernelFeatures.of(option -> Setting.NOT_SET);
    private static final KernelFeatures WITH_ALL = KernelFeatures.of(option -> Setting.BUILT_IN);

    @TempDir
    Path dir;

    @Test
    void theSeedValuesOnAKernelWithoutWireGuard() {
        Path file = Repo.seed("cilium-values.yaml");
        SluiceValues values = SluiceValues.load(file, WITHOUT_ANY);

        assertEquals(KubeProxyReplacement.STRICT, values.kubeProxyReplacement());
        assertTrue(values.socketLb());
        assertEquals(new SluiceValues.Hubble(true, true, true, 4095, List.of(), "medium", 4 << 20, 4244), values.hubble());
        assertTrue(values.serviceMesh());
        assertEquals("sidecar-free", values.proxyMode());
        assertEquals(new Encryption(true, Encryption.Type.WIREGUARD), values.encryption());
        assertTrue(values.preallocateMaps());
        assertEquals(524288, values.ctMapMax());

        assertEquals(List.of("KubeProxyReplacement", "SocketLB", "Hubble", "Hubble Relay", "Hubble UI", "ServiceMesh", "Encryption"),
                values.features().stream().map(Feature::name).toList());
        assertEquals(List.of(State.ENABLED, State.ENABLED, State.ENABLED, State.ENABLED, State.ENABLED, State.ENABLED,
                State.UNAVAILABLE), values.features().stream().map(Feature::state).toList());
        assertEquals(new Feature("Hubble UI", State.ENABLED, "the lab runs `sluice ui`, the service map (http://127.0.0.1:12000 by default)"), values.features().get(4));
        assertEquals(new Feature("Encryption", State.UNAVAILABLE, "WireGuard requested but unavailable: CONFIG_WIREGUARD is not set"
                + " in this kernel; traffic between nodes is NOT encrypted"), values.features().getLast());

        assertEquals(List.of(
                file + ": operator.replicas: Sluice has no separate operator; ignored",
                file + ": securityContext.privileged: accepted: Sluice agents always run privileged",
                file + ": encryption: WireGuard requested but unavailable: CONFIG_WIREGUARD is not set in this kernel;"
                        + " traffic between nodes is NOT encrypted"), values.warnings());
    }

    @Test
    void theSeedValuesOnAKernelWithWireGuardBuiltIn() {
        SluiceValues values = SluiceValues.load(Repo.seed("cilium-values.yaml"), WITH_ALL);
        assertEquals(new Feature("Encryption", State.ENABLED, "traffic between nodes is encrypted with WireGuard"),
                values.features().getLast());
        assertEquals(2, values.warnings().size());
    }

    @Test
    void ipsecNeedsEsp() throws IOException {
        Path file = write("encryption:\n  enabled: true\n  type: ipsec\n");
        List<String> asked = new java.util.ArrayList<>();
        SluiceValues values = SluiceValues.load(file, KernelFeatures.of(option -> {
            asked.add(option);
            return Setting.NOT_SET;
        }));
        assertEquals(List.of("CONFIG_INET_ESP"), asked);
        assertTrue(values.features().getFirst().detail().startsWith("IPsec (ESP) requested but unavailable: CONFIG_INET_ESP"));
    }

    @Test
    void unknownKeysAreWarnedAndTouchedFeaturesOnlyAreListed() throws IOException {
        Path file = write("""
                foo:
                  bar: 1
                hubble:
                  ui:
                    enabled: false
                  relay:
                    replicas: 2
                socketLB:
                  enabled: false
                """);
        SluiceValues values = SluiceValues.load(file, WITHOUT_ANY);
        assertEquals(List.of(file + ": unknown key 'foo.bar' is ignored", file + ": unknown key 'hubble.relay.replicas' is ignored"),
                values.warnings());
        assertEquals(List.of(new Feature("SocketLB", State.DISABLED, "Services are translated packet by packet at tc"),
                new Feature("Hubble Relay", State.DISABLED, "flows are not gathered across nodes"),
                new Feature("Hubble UI", State.DISABLED, "not requested")), values.features());
        assertFalse(values.socketLb());
    }

    @Test
    void theDefaultsAreCiliumsExceptThatSluiceReplacesKubeProxy() throws IOException {
        SluiceValues defaults = SluiceValues.defaults();
        assertEquals(KubeProxyReplacement.STRICT, defaults.kubeProxyReplacement());
        assertTrue(defaults.socketLb());
        assertEquals(new SluiceValues.Hubble(true, false, false, 4095, List.of(), "medium", 4 << 20, 4244), defaults.hubble());
        assertEquals(524288, defaults.ctMapMax());
        assertEquals(1021, defaults.maglevTableSize());
        assertFalse(defaults.encryption().enabled());
        assertEquals(defaults, SluiceValues.load(write("# all defaults\n"), WITHOUT_ANY));
    }

    @ParameterizedTest
    @CsvSource({"true, STRICT", "'\"strict\"', STRICT", "partial, PARTIAL", "false, DISABLED", "disabled, DISABLED"})
    void kubeProxyReplacementTakesEitherCiliumSpelling(String value, KubeProxyReplacement expected) throws IOException {
        assertEquals(expected, SluiceValues.load(write("kubeProxyReplacement: " + value + "\n"), WITHOUT_ANY).kubeProxyReplacement());
    }

    @Test
    void theRestOfTheKnownKeys() throws IOException {
        SluiceValues values = SluiceValues.load(write("""
                bpf:
                  ctTcpMax: 1048576
                  monitorAggregation: Maximum
                  eventsRingBytes: 65536
                hubble:
                  eventBufferCapacity: 65535
                  listenAddress: "localhost:4245"
                  metrics:
                    enabled: [drop, dns, "httpV2:exemplars=true"]
                serviceMesh:
                  enabled: true
                  proxy: sidecar
                """), WITHOUT_ANY);
        assertEquals(1048576, values.ctMapMax());
        assertEquals(65535, values.hubble().eventBufferCapacity());
        assertEquals("maximum", values.hubble().monitorAggregation());
        assertEquals(65536, values.hubble().eventsRingBytes());
        assertEquals(4245, values.hubble().listenPort());
        assertEquals(List.of("drop", "dns", "httpV2:exemplars=true"), values.hubble().metrics());
        assertEquals(List.of("dns"), values.hubble().unsupportedMetrics());
        assertTrue(values.warnings().stream().anyMatch(w -> w.contains("hubble.metrics.enabled: \"dns\" is not available in Sluice")),
                values.warnings().toString());
        assertEquals("sidecar", values.proxyMode());
        assertTrue(values.warnings().stream().anyMatch(w -> w.contains("serviceMesh.proxy: \"sidecar\" is not supported")),
                values.warnings().toString());
        assertTrue(values.features().getFirst().detail().contains("ring of 65535 per node"), values.features().toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            socketLB: {enabled: "maybe"}            | socketLB.enabled            | must be true or false, got "maybe"
            socketLB: true                          | socketLB                    | must be a mapping (with enabled), got true
            kubeProxyReplacement: probe             | kubeProxyReplacement        | got "probe"
            encryption: {enabled: true, type: tls}  | encryption.type             | must be wireguard or ipsec, got "tls"
            hubble: {eventBufferCapacity: 4096}     | hubble.eventBufferCapacity  | must be one less than a power of two
            hubble: {eventBufferCapacity: lots}     | hubble.eventBufferCapacity  | must be an integer, got "lots"
            hubble: {metrics: {enabled: dns}}       | hubble.metrics.enabled      | must be a list of strings, got "dns"
            bpf: {ctGlobalTcpMax: 10}               | bpf.ctGlobalTcpMax          | must be from 1024 to 16777216, got 10
            maglev: {tableSize: 1000}               | maglev.tableSize            | must be a prime from 251 to 131071 (e.g. 1021 or Cilium's 16381), got 1000
            serviceMesh: {proxy: [a]}               | serviceMesh.proxy           | must be a string, got a list
            bpf: {monitorAggregation: all}          | bpf.monitorAggregation      | must be one of none, low, medium, maximum, got "all"
            bpf: {eventsRingBytes: 5000}            | bpf.eventsRingBytes         | must be a power of two from 4096 to 268435456
            hubble: {listenAddress: "4244"}         | hubble.listenAddress        | must be [HOST]:PORT
            """)
    void typeErrorsNameTheFileAndTheKey(String yaml, String key, String says) throws IOException {
        Path file = write(yaml + "\n");
        ValuesException e = assertThrows(ValuesException.class, () -> SluiceValues.load(file, WITHOUT_ANY));
        assertTrue(e.getMessage().startsWith(file + ": key " + key + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(says), e.getMessage());
        assertEquals(key, e.key());
        assertEquals(file, e.file());
    }

    @Test
    void unparsableValuesNameTheLine() throws IOException {
        Path file = write("hubble:\n  enabled: true\n relay: {}\n");
        ValuesException e = assertThrows(ValuesException.class, () -> SluiceValues.load(file, WITHOUT_ANY));
        assertTrue(e.getMessage().startsWith(file + ": invalid YAML at line 3"), e.getMessage());
        assertNull(e.key());
    }

    @Test
    void thePrefilterTakesCiliumsKeysAndSluicesCidrs() throws IOException {
        assertEquals(new SluiceValues.Prefilter(false, "native", java.util.List.of()), SluiceValues.defaults().prefilter());
        SluiceValues values = SluiceValues.load(write("prefilter:\n  enabled: true\n  mode: generic\n  device: eth1\n"
                + "  cidrs: [203.0.113.0/24, 198.51.100.7]\n"), WITHOUT_ANY);
        assertEquals(new SluiceValues.Prefilter(true, "generic", java.util.List.of("203.0.113.0/24", "198.51.100.7")), values.prefilter());
        assertTrue(values.warnings().stream().noneMatch(w -> w.contains("prefilter")), values.warnings().toString());
        ValuesException bad = org.junit.jupiter.api.Assertions.assertThrows(ValuesException.class,
                () -> SluiceValues.load(write("prefilter:\n  cidrs: [fe80::/64]\n"), WITHOUT_ANY));
        assertTrue(bad.getMessage().contains("prefilter.cidrs"), bad.getMessage());
    }

    private Path write(String yaml) throws IOException {
        return Files.writeString(dir.resolve("values.yaml"), yaml);
    }
}
