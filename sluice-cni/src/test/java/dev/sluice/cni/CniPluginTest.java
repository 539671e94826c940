package dev.sluice.cni;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spec's side of the plugin: environment, configuration, result and error objects, without the network. */
class CniPluginTest {
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    @TempDir
    Path dir;

    private static final String CONF = """
            {"cniVersion":"1.0.0","name":"sluice","type":"sluice-cni","agentSocket":"%s"}""";

    private record Call(int status, JsonNode out, String raw) {
    }

    private Call call(Map<String, String> env, String stdin) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int status = CniPlugin.run(env, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String raw = bytes.toString(StandardCharsets.UTF_8);
        return new Call(status, raw.isBlank() ? null : JSON.readTree(raw), raw);
    }

    private Map<String, String> addEnv() {
        Map<String, String> env = new HashMap<>();
        env.put("CNI_COMMAND", "ADD");
        env.put("CNI_CONTAINERID", "abc123");
        env.put("CNI_NETNS", "/run/netns/none");
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1");
        env.put("CNI_PATH", "/opt/cni/bin");
        return env;
    }

    @Test
    void versionListsTheSupportedVersions() throws Exception {
        Call c = call(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"1.0.0\"}");
        assertEquals(0, c.status());
        assertEquals("1.0.0", c.out().get("cniVersion").asText());
        assertEquals("[\"1.0.0\",\"1.1.0\"]", c.out().get("supportedVersions").toString());
    }

    @Test
    void environmentErrorsAreCode4NamingEachVariable() throws Exception {
        Call c = call(Map.of("CNI_COMMAND", "ADD", "CNI_IFNAME", "a/b"), CONF.formatted(dir.resolve("s")));
        assertEquals(1, c.status());
        assertEquals(4, c.out().get("code").asInt());
        String msg = c.out().get("msg").asText();
        assertTrue(msg.contains("CNI_CONTAINERID is not set") && msg.contains("CNI_NETNS is not set") && msg.contains("CNI_IFNAME 'a/b'"), msg);
        assertEquals("1.0.0", c.out().get("cniVersion").asText());

        Call unknown = call(Map.of("CNI_COMMAND", "FROB"), "{}");
        assertEquals(4, unknown.out().get("code").asInt());
        assertTrue(unknown.out().get("msg").asText().contains("CNI_COMMAND 'FROB'"));

        Map<String, String> badArgs = addEnv();
        badArgs.put("CNI_ARGS", "K8S_POD_NAME");
        assertEquals(4, call(badArgs, CONF.formatted(dir.resolve("s"))).out().get("code").asInt());

        Map<String, String> badId = addEnv();
        badId.put("CNI_CONTAINERID", "-x;rm");
        assertTrue(call(badId, CONF.formatted(dir.resolve("s"))).out().get("msg").asText().contains("CNI_CONTAINERID '-x;rm'"));
    }

    @Test
    void delNeedsNoNetns() {
        Map<String, String> env = addEnv();
        env.put("CNI_COMMAND", "DEL");
        env.remove("CNI_NETNS");
        CniEnv parsed = CniEnv.parse(env);
        assertEquals("", parsed.netns());
        assertEquals("shop", parsed.podNamespace("default"));
        assertEquals("web-1", parsed.podName("x"));
    }

    @Test
    void configurationErrorsNameTheField() throws Exception {
        Map<String, String> env = addEnv();
        Call notJson = call(env, "{\"cniVersion\": ");
        assertEquals(6, notJson.out().get("code").asInt(), notJson.raw());
        assertTrue(notJson.out().get("msg").asText().contains("not JSON"));

        Call noName = call(env, "{\"cniVersion\":\"1.0.0\",\"type\":\"sluice-cni\"}");
        assertEquals(7, noName.out().get("code").asInt());
        assertEquals("the network configuration has no 'name'", noName.out().get("msg").asText());

        Call oldVersion = call(env, "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"sluice-cni\"}");
        assertEquals(1, oldVersion.out().get("code").asInt());
        assertTrue(oldVersion.out().get("msg").asText().contains("'0.3.1'"));
        assertFalse(oldVersion.out().get("details").asText().isEmpty());

        Call ipam = call(env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice-cni\",\"ipam\":{\"type\":\"host-local\"}}");
        assertEquals(2, ipam.out().get("code").asInt());
        assertTrue(ipam.out().get("msg").asText().startsWith("ipam.type 'host-local'"));

        Call mtu = call(env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice-cni\",\"mtu\":\"big\"}");
        assertEquals(7, mtu.out().get("code").asInt());
        assertTrue(mtu.out().get("msg").asText().startsWith("mtu"));

        Call labels = call(env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice-cni\",\"args\":{\"cni\":{\"labels\":[{\"key\":\"a\"}]}}}");
        assertEquals(7, labels.out().get("code").asInt());
        assertTrue(labels.out().get("msg").asText().startsWith("args.cni.labels[0]"));

        Call socket = call(env, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice-cni\",\"agentSocket\":\"rel/sock\"}");
        assertEquals(7, socket.out().get("code").asInt());
    }

    @Test
    void labelsAndDefaultsAreRead() {
        NetConf c = NetConf.parse("""
                {"cniVersion":"1.1.0","name":"n","type":"sluice-cni","mtu":1400,
                 "args":{"cni":{"labels":[{"key":"app","value":"web"},{"key":"tier","value":"front"}]}}}""".getBytes(StandardCharsets.UTF_8));
        assertEquals(NetConf.DEFAULT_SOCKET, c.agentSocket());
        assertEquals(1400, c.mtu());
        assertEquals(Map.of("app", "web", "tier", "front"), c.labels());
    }

    @Test
    void anAgentThatDoesNotAnswerIsTryAgainLater() throws Exception {
        Call c = call(addEnv(), CONF.formatted(dir.resolve("no-agent.sock")));
        assertEquals(1, c.status());
        assertEquals(11, c.out().get("code").asInt());
        assertTrue(c.out().get("msg").asText().contains("does not answer on " + dir.resolve("no-agent.sock")), c.raw());

        Map<String, String> status = new HashMap<>(Map.of("CNI_COMMAND", "STATUS"));
        Call s = call(status, CONF.formatted(dir.resolve("no-agent.sock")));
        assertEquals(50, s.out().get("code").asInt());
    }

    @Test
    void checkWithoutPrevResultIsInvalidConfig() {
        Map<String, String> env = addEnv();
        env.put("CNI_COMMAND", "CHECK");
        NetConf conf = NetConf.parse(CONF.formatted(dir.resolve("s")).getBytes(StandardCharsets.UTF_8));
        CniError e = assertThrows(CniError.class, () -> CniPlugin.check(CniEnv.parse(env), conf, new AgentClient(dir.resolve("s"))));
        assertEquals(7, e.code());
    }

    @Test
    void resultHasBothEndsTheAddressAndTheRoute() throws Exception {
        CniResult r = CniResult.of("1.0.0", "lxc0123456789a", "02:00:00:00:00:01", "eth0", "02:00:00:00:00:02", "/run/netns/p", "10.244.1.2");
        JsonNode j = JSON.readTree(Json.writeString(r.toMap()));
        assertEquals("1.0.0", j.get("cniVersion").asText());
        assertEquals("lxc0123456789a", j.at("/interfaces/0/name").asText());
        assertTrue(j.at("/interfaces/0/sandbox").isMissingNode(), "the node's end has no sandbox");
        assertEquals("/run/netns/p", j.at("/interfaces/1/sandbox").asText());
        assertEquals("02:00:00:00:00:02", j.at("/interfaces/1/mac").asText());
        assertEquals("10.244.1.2/32", j.at("/ips/0/address").asText());
        assertEquals("169.254.1.1", j.at("/ips/0/gateway").asText());
        assertEquals(1, j.at("/ips/0/interface").asInt());
        assertEquals("0.0.0.0/0", j.at("/routes/0/dst").asText());
        assertEquals("169.254.1.1", j.at("/routes/0/gw").asText());
    }

    @Test
    void hostVethNamesAreStableShortAndDistinct() {
        String a = PodInterface.hostVeth("abc", "eth0");
        assertEquals(a, PodInterface.hostVeth("abc", "eth0"));
        assertEquals(14, a.length());
        assertFalse(a.equals(PodInterface.hostVeth("abc", "eth1")));
        String mac = PodInterface.randomMac();
        assertEquals(2, Integer.parseInt(mac.substring(0, 2), 16) & 3, "locally administered unicast: " + mac);
    }
}
