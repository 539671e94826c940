package dev.sluice.dns;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.ObjectRef;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResponderTest {
    private static final ClusterView VIEW = new ClusterView(
            List.of(new ClusterView.Node("node-1", "10.254.0.1", "10.244.1.0/24", "169.254.1.1")),
            List.of(new NamespaceSpec("shop", Map.of())),
            List.of(pod("web-1", "10.244.1.10", true), pod("web-2", "10.244.1.11", false), pod("db-0", "10.244.1.12", true)),
            List.of(service("web", null, new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)),
                    service("web-direct", "None", new ServicePort("grpc", 50051, TargetPort.of("grpc"), Protocol.TCP)),
                    new ServiceSpec(new ObjectRef("shop", "ext"), "ExternalName", null, List.of(), Map.of(), false, null)),
            Map.of("shop/web", "10.96.0.20"), List.of());

    private final Responder responder = new Responder(() -> ClusterRecords.of(VIEW, "cluster.local", 1));

    private static ClusterView.Pod pod(String name, String ip, boolean ready) {
        return new ClusterView.Pod("shop", name, "node-1", ip, "lxc0", "", Map.of("app", name.startsWith("web") ? "web" : "db"),
                List.of(new ContainerPort("grpc", 9090, Protocol.TCP)), true, ready);
    }

    private static ServiceSpec service(String name, String clusterIp, ServicePort port) {
        return new ServiceSpec(new ObjectRef("shop", name), "ClusterIP", clusterIp, List.of(port), Map.of("app", "web"), false, null);
    }

    private Message ask(String name, int type) throws Exception {
        Message q = Message.newQuery(Record.newRecord(Name.fromString(name), type, org.xbill.DNS.DClass.IN));
        return new Message(responder.answer(q.toWire(), Responder.UDP_LIMIT));
    }

    private static List<String> answers(Message m) {
        return m.getSection(Section.ANSWER).stream().map(Record::rdataToString).sorted().toList();
    }

    @Test
    void aServiceHasItsClusterIpAndTheReverse() throws Exception {
        Message a = ask("web.shop.svc.cluster.local.", Type.A);
        assertEquals(Rcode.NOERROR, a.getRcode());
        assertTrue(a.getHeader().getFlag(Flags.AA));
        assertEquals(List.of("10.96.0.20"), answers(a));
        assertEquals(List.of("web.shop.svc.cluster.local."), answers(ask("20.0.96.10.in-addr.arpa.", Type.PTR)));
        // Case as asked comes back.
        assertEquals("WEB.shop.svc.cluster.local.", ask("WEB.shop.svc.cluster.local.", Type.A).getSection(Section.ANSWER).getFirst().getName().toString());
    }

    @Test
    void namedPortsHaveSrvRecordsWithTheTargetsAddress() throws Exception {
        Message srv = ask("_http._tcp.web.shop.svc.cluster.local.", Type.SRV);
        assertEquals(List.of("0 100 80 web.shop.svc.cluster.local."), answers(srv));
        assertEquals("10.96.0.20", srv.getSection(Section.ADDITIONAL).getFirst().rdataToString());
        assertEquals(Rcode.NXDOMAIN, ask("_http._udp.web.shop.svc.cluster.local.", Type.SRV).getRcode());
    }

    @Test
    void aHeadlessServiceNamesItsReadyPodsOnly() throws Exception {
        assertEquals(List.of("10.244.1.10"), answers(ask("web-direct.shop.svc.cluster.local.", Type.A)),
                "web-2 is not ready, db-0 not selected");
        assertEquals(List.of("0 100 9090 10-244-1-10.web-direct.shop.svc.cluster.local."),
                answers(ask("_grpc._tcp.web-direct.shop.svc.cluster.local.", Type.SRV)), "the named target port, resolved in the pod");
        assertEquals(List.of("10-244-1-10.web-direct.shop.svc.cluster.local."), answers(ask("10.1.244.10.in-addr.arpa.", Type.PTR)));
        assertEquals(List.of("10-244-1-12.shop.pod.cluster.local."), answers(ask("12.1.244.10.in-addr.arpa.", Type.PTR)));
        assertEquals(List.of("10.244.1.11"), answers(ask("10-244-1-11.shop.pod.cluster.local.", Type.A)));
    }

    @Test
    void unknownNamesInTheZoneAreNxdomainWithTheSoa() throws Exception {
        Message nx = ask("nope.shop.svc.cluster.local.", Type.A);
        assertEquals(Rcode.NXDOMAIN, nx.getRcode());
        assertEquals(Type.SOA, nx.getSection(Section.AUTHORITY).getFirst().getType());
        assertEquals(Rcode.NXDOMAIN, ask("ext.shop.svc.cluster.local.", Type.A).getRcode(), "ExternalName: no CNAME served");
        assertEquals(Rcode.NXDOMAIN, ask("99.1.244.10.in-addr.arpa.", Type.PTR).getRcode());
    }

    @Test
    void otherTypesAndNamesAboveRecordsAreNodata() throws Exception {
        // glibc and c-ares ask AAAA beside A: NXDOMAIN there would hide the A record.
        Message aaaa = ask("web.shop.svc.cluster.local.", Type.AAAA);
        assertEquals(Rcode.NOERROR, aaaa.getRcode());
        assertEquals(List.of(), answers(aaaa));
        assertEquals(Rcode.NOERROR, ask("shop.svc.cluster.local.", Type.A).getRcode());
        assertEquals(Rcode.NOERROR, ask("cluster.local.", Type.SOA).getRcode());
        assertEquals(1, ask("cluster.local.", Type.SOA).getSection(Section.ANSWER).size());
    }

    @Test
    void namesOutsideTheClusterAreRefused() throws Exception {
        Message out = ask("example.com.", Type.A);
        assertEquals(Rcode.REFUSED, out.getRcode());
        assertEquals(List.of(), answers(out));
        assertEquals(Rcode.REFUSED, ask("8.8.8.8.in-addr.arpa.", Type.PTR).getRcode());
    }

    @Test
    void garbageIsAnsweredFormerrOrIgnored() {
        byte[] header = new byte[12];
        header[0] = 0x12;
        header[1] = 0x34;
        header[5] = 1; // one question, which is missing
        assertEquals(Rcode.FORMERR, header(responder.answer(header, 512)));
        assertNull(responder.answer(new byte[3], 512));
    }

    private static int header(byte[] wire) {
        return wire[3] & 0x0f;
    }
}
