package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** deploy/image/install-cni, the init container's program, run on a directory standing in for the host. */
class InstallCniScriptTest {
    @TempDir
    Path dir;

    private int run(Path host, Path src, Path jre, Path conf) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("sh", Repo.root().resolve("deploy/image/install-cni").toString())
                .redirectErrorStream(true);
        pb.environment().put("HOST_ROOT", host.toString());
        pb.environment().put("SLUICE_CNI_SRC", src.toString());
        pb.environment().put("SLUICE_JRE_SRC", jre.toString());
        pb.environment().put("SLUICE_CNI_CONF", conf.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), out);
        return p.exitValue();
    }

    private static List<String> tree(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).filter(n -> !n.isEmpty()).collect(Collectors.toCollection(TreeSet::new)).stream().toList();
        }
    }

    @Test
    void installsPluginJarJreAndConflistAndAgainCleanly() throws Exception {
        Path host = dir.resolve("host");
        Path src = Files.createDirectories(dir.resolve("src"));
        Path jre = Files.createDirectories(dir.resolve("jre/bin"));
        Path conf = Files.createDirectories(dir.resolve("conf"));
        Files.writeString(src.resolve("sluice-cni"), "#!/bin/sh\necho v1\n");
        Files.writeString(src.resolve("sluice-cni.jar"), "jar v1");
        Files.writeString(jre.resolve("java"), "java v1");
        Files.writeString(jre.getParent().resolve("release"), "JAVA_VERSION=\"25.0.1\"\n");
        Files.writeString(conf.resolve(Names.CNI_CONFLIST), "{\"cniVersion\": \"1.0.0\"}\n");

        assertEquals(0, run(host, src, jre.getParent(), conf));
        assertEquals("#!/bin/sh\necho v1\n", Files.readString(host.resolve("opt/cni/bin/sluice-cni")));
        assertTrue(Files.isExecutable(host.resolve("opt/cni/bin/sluice-cni")));
        assertEquals("jar v1", Files.readString(host.resolve("opt/cni/bin/sluice-cni.jar")));
        assertEquals("JAVA_VERSION=\"25.0.1\"\n", Files.readString(host.resolve("opt/java/sluice-jre/release")));
        assertEquals("java v1", Files.readString(host.resolve("opt/java/sluice-jre/bin/java")));
        assertEquals("{\"cniVersion\": \"1.0.0\"}\n", Files.readString(host.resolve("etc/cni/net.d/" + Names.CNI_CONFLIST)));
        List<String> first = tree(host);

        // A new version over the old one: replaced, the stale ahead-of-time cache dropped, nothing left aside.
        Files.writeString(host.resolve("opt/cni/bin/sluice-cni.aot"), "cache of v1");
        Files.writeString(src.resolve("sluice-cni.jar"), "jar v2");
        Files.writeString(jre.resolve("java"), "java v2");
        Files.writeString(host.resolve("opt/java/sluice-jre/stale-file"), "from v1");
        assertEquals(0, run(host, src, jre.getParent(), conf));
        assertEquals("jar v2", Files.readString(host.resolve("opt/cni/bin/sluice-cni.jar")));
        assertEquals("java v2", Files.readString(host.resolve("opt/java/sluice-jre/bin/java")));
        assertFalse(Files.exists(host.resolve("opt/cni/bin/sluice-cni.aot")));
        assertFalse(Files.exists(host.resolve("opt/java/sluice-jre/stale-file")));
        assertEquals(first, tree(host));
    }

    @Test
    void aMissingPieceFailsAndLeavesNoConflist() throws Exception {
        Path host = dir.resolve("host");
        Path src = Files.createDirectories(dir.resolve("src"));
        Path jre = Files.createDirectories(dir.resolve("jre"));
        Path conf = Files.createDirectories(dir.resolve("conf"));
        Files.writeString(src.resolve("sluice-cni"), "#!/bin/sh\n");
        Files.writeString(conf.resolve(Names.CNI_CONFLIST), "{}\n");
        // No jar: the runtime must not be told the network is ready.
        assertTrue(run(host, src, jre, conf) != 0);
        assertFalse(Files.exists(host.resolve("etc/cni/net.d/" + Names.CNI_CONFLIST)));
    }
}
