package dev.sluice.observe;

import com.google.protobuf.Timestamp;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.ICMPv4;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TCP;
import dev.sluice.observe.v1.TCPFlags;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.UDP;
import dev.sluice.observe.v1.Verdict;

import java.time.Instant;

/** The seed's story as flows: the client reaching product-service, a rogue pod dropped, an HTTP call, DNS, a ping. */
public final class Flows {
    /** 2025-04-10T12:34:56.789Z */
    public static final Instant T0 = Instant.parse("2025-04-10T12:34:56.789Z");

    private Flows() {}

    public static Timestamp at(Instant instant) {
        return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
    }

    public static Endpoint client() {
        return Endpoint.newBuilder().setNamespace("default").setPodName("fortio-client-xxxxx")
                .addLabels("k8s:app=fortio").addLabels("k8s:io.kubernetes.pod.namespace=default")
                .setIdentity(5012).setNode("node-1").build();
    }

    public static Endpoint product() {
        return Endpoint.newBuilder().setNamespace("default").setPodName("product-service-v1-yyyyy")
                .addLabels("k8s:app=product-service").addLabels("k8s:version=v1")
                .addLabels("k8s:io.kubernetes.pod.namespace=default").setIdentity(7310).setNode("node-2").build();
    }

    public static Endpoint rogue() {
        return Endpoint.newBuilder().setNamespace("default").setPodName("some-rogue-pod-zzzzz")
                .addLabels("k8s:app=rogue").setIdentity(9120).setNode("node-1").build();
    }

    public static Endpoint world() {
        return Endpoint.newBuilder().setIdentity(2).build();
    }

    public static Layer4 tcp(int sourcePort, int destinationPort, TCPFlags flags) {
        return Layer4.newBuilder().setTCP(TCP.newBuilder().setSourcePort(sourcePort)
                .setDestinationPort(destinationPort).setFlags(flags)).build();
    }

    public static TCPFlags syn() {
        return TCPFlags.newBuilder().setSYN(true).build();
    }

    /** fortio-client -> product-service-v1 SYN, forwarded on ingress to the endpoint. */
    public static Flow forwarded() {
        return Flow.newBuilder().setTime(at(T0)).setVerdict(Verdict.FORWARDED)
                .setSource(client()).setDestination(product())
                .setIP(IP.newBuilder().setSource("10.0.1.5").setDestination("10.0.2.9"))
                .setL4(tcp(41234, 50051, syn()))
                .setDestinationService(Service.newBuilder().setNamespace("default").setName("product-service"))
                .setTrafficDirection(TrafficDirection.INGRESS).setIsReply(false).setNodeName("node-2")
                .setPolicy(Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace("default")
                        .setName("product-service-allow-fortio").setRule("ingress[0]"))
                .setEventType("trace").setTraceObservationPoint("to-endpoint").build();
    }

    /** The rogue pod's SYN, dropped by the policy's default deny. */
    public static Flow dropped() {
        return Flow.newBuilder().setTime(at(T0.plusMillis(334))).setVerdict(Verdict.DROPPED)
                .setDropReason(133).setDropReasonDesc("Policy denied")
                .setSource(rogue()).setDestination(product())
                .setIP(IP.newBuilder().setSource("10.0.1.7").setDestination("10.0.2.9"))
                .setL4(tcp(51022, 50051, syn()))
                .setDestinationService(Service.newBuilder().setNamespace("default").setName("product-service"))
                .setTrafficDirection(TrafficDirection.INGRESS).setNodeName("node-2")
                .setPolicy(Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace("default")
                        .setName("product-service-allow-fortio").setRule("default-deny"))
                .setEventType("drop").build();
    }

    /** product-service answering the client: a reply, SYN-ACK. */
    public static Flow reply() {
        return forwarded().toBuilder().setTime(at(T0.plusMillis(1)))
                .setSource(product()).setDestination(client())
                .setIP(IP.newBuilder().setSource("10.0.2.9").setDestination("10.0.1.5"))
                .setL4(tcp(50051, 41234, TCPFlags.newBuilder().setSYN(true).setACK(true).build()))
                .clearDestinationService().setTrafficDirection(TrafficDirection.EGRESS).setIsReply(true)
                .setTraceObservationPoint("to-stack").build();
    }

    /** An HTTP 503 response from product-service to the client. */
    public static Flow httpResponse() {
        return forwarded().toBuilder().setTime(at(T0.plusMillis(2)))
                .setSource(product()).setDestination(client()).setIsReply(true)
                .setL4(tcp(8080, 41300, TCPFlags.newBuilder().setACK(true).setPSH(true).build()))
                .clearDestinationService().setTrafficDirection(TrafficDirection.EGRESS)
                .setL7(Layer7.newBuilder().setLatencyNs(4_000_000).setHttp(HTTP.newBuilder().setCode(503)
                        .setMethod("GET").setUrl("http://product-service:8080/products/42").setProtocol("HTTP/1.1")))
                .setEventType("l7").build();
    }

    /** A DNS query from the client to kube-dns, known only as a service, egress from node-1. */
    public static Flow udpToService() {
        return Flow.newBuilder().setTime(at(T0.plusMillis(3))).setVerdict(Verdict.FORWARDED)
                .setSource(client()).setDestination(Endpoint.newBuilder().setIdentity(4821))
                .setIP(IP.newBuilder().setSource("10.0.1.5").setDestination("10.96.0.10"))
                .setL4(Layer4.newBuilder().setUDP(UDP.newBuilder().setSourcePort(53100).setDestinationPort(53)))
                .setDestinationService(Service.newBuilder().setNamespace("kube-system").setName("kube-dns"))
                .setTrafficDirection(TrafficDirection.EGRESS).setIsReply(false).setNodeName("node-1")
                .setEventType("trace").setTraceObservationPoint("to-stack").build();
    }

    /** A ping from outside the cluster to the client. */
    public static Flow icmpFromWorld() {
        return Flow.newBuilder().setTime(at(T0.plusMillis(4))).setVerdict(Verdict.FORWARDED)
                .setSource(world()).setDestination(client())
                .setIP(IP.newBuilder().setSource("192.0.2.1").setDestination("10.0.1.5"))
                .setL4(Layer4.newBuilder().setICMPv4(ICMPv4.newBuilder().setType(8)))
                .setTrafficDirection(TrafficDirection.INGRESS).setIsReply(false).setNodeName("node-1")
                .setEventType("trace").setTraceObservationPoint("to-endpoint").build();
    }
}
