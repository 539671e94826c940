package dev.sluice.model;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Reads the user's manifests, the files and directories {@code kubectl apply -f} would take, into a
 * {@link Desired}. Everything is checked before anything is returned: when some document is wrong, one
 * {@link ManifestException} lists every problem, each with its file, document and field.
 */
public final class ManifestReader {
    private static final System.Logger LOG = System.getLogger(ManifestReader.class.getName());

    private ManifestReader() {
    }

    /**
     * Reads the manifests, logging each warning (see {@link #read(List, Consumer)}) through {@link System.Logger}.
     *
     * @param filesOrDirs files (read whatever their name), and directories, of which the {@code *.yaml},
     *                    {@code *.yml} and {@code *.json} files are read in name order, not descending into
     *                    subdirectories
     * @throws ManifestException naming each problem found
     */
    public static Desired read(List<Path> filesOrDirs) {
        return read(filesOrDirs, warning -> LOG.log(System.Logger.Level.WARNING, warning));
    }

    /**
     * @param warnings gets what Sluice accepts but the user should know, each a sentence naming the file and
     *                 document: a key written twice in one mapping (the last value is used, as in Kubernetes)
     * @throws ManifestException naming each problem found
     */
    public static Desired read(List<Path> filesOrDirs, Consumer<String> warnings) {
        List<ManifestException> problems = new ArrayList<>();
        Map<String, Source> defined = new HashMap<>();
        List<NamespaceSpec> namespaces = new ArrayList<>();
        List<DeploymentSpec> deployments = new ArrayList<>();
        List<PodSpec> pods = new ArrayList<>();
        List<ServiceSpec> services = new ArrayList<>();
        List<OtherObject> others = new ArrayList<>();
        for (Path file : files(filesOrDirs, problems)) {
            List<YamlDocuments.Document> documents;
            try {
                documents = YamlDocuments.read(file);
            } catch (IOException e) {
                problems.add(new ManifestException(new Source(file, 0), null, null, "cannot be read: " + reason(e)));
                continue;
            } catch (YamlDocuments.SyntaxException e) {
                problems.add(new ManifestException(new Source(file, e.document()), null, null, e.getMessage()));
                continue;
            }
            for (YamlDocuments.Document document : documents) {
                if (document.tree() == null) {
                    continue;
                }
                Source source = new Source(file, document.index());
                for (YamlDocuments.DuplicateKey duplicate : document.duplicateKeys()) {
                    warnings.accept(source + ": key " + duplicate.path() + " is written twice (again at line "
                            + duplicate.line() + "); the last value is used");
                }
                for (Object object : ObjectParser.parse(source, document.tree(), problems)) {
                    String identity = Desired.identity(object);
                    Source first = defined.putIfAbsent(identity, source);
                    if (first != null) {
                        problems.add(new ManifestException(source, identity, "metadata.name",
                                "defined twice: " + identity + " is also defined in " + first));
                        continue;
                    }
                    switch (object) {
                        case NamespaceSpec n -> namespaces.add(n);
                        case DeploymentSpec d -> deployments.add(d);
                        case PodSpec p -> pods.add(p);
                        case ServiceSpec s -> services.add(s);
                        case OtherObject o -> others.add(o);
                        default -> throw new IllegalStateException("unexpected object " + object);
                    }
                }
            }
        }
        if (!problems.isEmpty()) {
            throw ManifestException.of(problems);
        }
        return new Desired(namespaces, deployments, pods, services, others);
    }

    private static List<Path> files(List<Path> filesOrDirs, List<ManifestException> problems) {
        List<Path> files = new ArrayList<>();
        for (Path path : filesOrDirs) {
            if (!Files.isDirectory(path)) {
                files.add(path);
                continue;
            }
            try (Stream<Path> entries = Files.list(path)) {
                entries.filter(ManifestReader::isManifest)
                        .sorted(Comparator.comparing(p -> p.getFileName().toString()))
                        .forEach(files::add);
            } catch (IOException e) {
                problems.add(new ManifestException(new Source(path, 0), null, null, "cannot be listed: " + reason(e)));
            }
        }
        return files;
    }

    private static boolean isManifest(Path entry) {
        String name = entry.getFileName().toString();
        return Files.isRegularFile(entry) && (name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json"));
    }

    private static String reason(IOException e) {
        return switch (e) {
            case NoSuchFileException _ -> "no such file or directory";
            case AccessDeniedException _ -> "permission denied";
            default -> e.getMessage();
        };
    }
}
