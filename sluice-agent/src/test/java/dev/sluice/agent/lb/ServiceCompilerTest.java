package dev.sluice.agent.lb;

import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.Backend;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.ObjectRef;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.Source;
import dev.sluice.model.TargetPort;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServiceCompilerTest {
    private static final Source SRC = new Source(Path.of("test.yaml"), 1);

    private static ServiceSpec service(String name, String clusterIp, List<ServicePort> ports, Map<String, String> selector, boolean affinity) {
        return new ServiceSpec(new ObjectRef("default", name), "ClusterIP", clusterIp, ports, selector, affinity, SRC);
    }

    private static Endpoint pod(String name, String ip, String version, boolean ready) {
        return new Endpoint("default", name, ip, Map.of("app", "web", "version", version),
                List.of(new ContainerPort("http", 8080, Protocol.TCP), new ContainerPort("dns", 5353, Protocol.UDP)), ready);
    }

    private final List<Endpoint> pods = List.of(pod("web-1", "10.244.1.10", "v1", true), pod("web-2", "10.244.2.10", "v2", true),
            pod("web-3", "10.244.1.11", "v1", false),
            new Endpoint("other", "web-x", "10.244.1.12", Map.of("app", "web"), List.of(), true));

    @Test
    void readyPodsOfTheNamespaceThatMatchTheSelectorAreTheBackends() {
        ServiceSpec web = service("web", null, List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("app", "web"), false);
        List<Frontend> fs = new ServiceCompiler(Map.of(), Map.of()).compile(List.of(web), Map.of("default/web", "10.96.0.10"), pods);
        assertEquals(1, fs.size());
        Frontend f = fs.getFirst();
        assertEquals("10.96.0.10:80/6", f.key());
        assertEquals(List.of("10.244.1.10:8080/6", "10.244.2.10:8080/6"), f.backends().stream().map(Backend::key).toList(),
                "not ready and other-namespace pods are left out");
    }

    @Test
    void namedTargetPortsResolvePerPodAndProtocol() {
        ServiceSpec web = service("web", null, List.of(new ServicePort("http", 80, TargetPort.of("http"), Protocol.TCP),
                new ServicePort("dns", 53, TargetPort.of("dns"), Protocol.UDP)), Map.of("app", "web"), false);
        List<Frontend> fs = new ServiceCompiler(Map.of(), Map.of()).compile(List.of(web), Map.of("default/web", "10.96.0.10"), pods);
        assertEquals(2, fs.size());
        assertEquals(List.of(8080, 8080), fs.get(0).backends().stream().map(Backend::port).toList());
        assertEquals(17, fs.get(1).proto());
        assertEquals(List.of(5353, 5353), fs.get(1).backends().stream().map(Backend::port).toList());
    }

    @Test
    void idsInForceAreKeptAndNewOnesTakeTheLowestFree() {
        ServiceSpec web = service("web", null, List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("app", "web"), true);
        ServiceSpec api = service("api", null, List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("version", "v2"), false);
        ServiceCompiler compiler = new ServiceCompiler(Map.of("10.96.0.10:80/6", 7), Map.of("10.244.2.10:8080/6", 3));
        List<Frontend> fs = compiler.compile(List.of(web, api), Map.of("default/web", "10.96.0.10", "default/api", "10.96.0.11"),
                List.of(pod("web-1", "10.244.1.10", "v1", true), pod("web-2", "10.244.2.10", "v2", true)));
        Frontend webF = fs.stream().filter(f -> f.address().equals("10.96.0.10")).findFirst().orElseThrow();
        Frontend apiF = fs.stream().filter(f -> f.address().equals("10.96.0.11")).findFirst().orElseThrow();
        assertEquals(7, webF.id());
        assertEquals(1, apiF.id());
        assertTrue(webF.affinity());
        assertEquals(3, apiF.backends().getFirst().id(), "the backend keeps its id");
        assertEquals(3, webF.backends().stream().filter(b -> b.address().equals("10.244.2.10")).findFirst().orElseThrow().id(),
                "one backend, one id, whichever frontend uses it");
        assertEquals(1, webF.backends().stream().filter(b -> b.address().equals("10.244.1.10")).findFirst().orElseThrow().id());
    }

    @Test
    void headlessServicesAndServicesWithoutEndpointsCompileAsExpected() {
        ServiceSpec headless = service("h", "None", List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("app", "web"), false);
        ServiceSpec empty = service("e", null, List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("app", "none"), false);
        List<Frontend> fs = new ServiceCompiler(Map.of(), Map.of()).compile(List.of(headless, empty),
                Map.of("default/e", "10.96.0.12"), pods);
        assertEquals(1, fs.size(), "a headless Service has no frontend");
        assertTrue(fs.getFirst().backends().isEmpty(), "a Service without endpoints has a frontend with no backends (connect is refused)");
    }
}
