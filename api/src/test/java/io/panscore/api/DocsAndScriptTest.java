package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.router.EntropyMode;
import io.panscore.kernel.TokenScores;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's snippets and CLI notes, the help texts, and the ./panscore script (issue 17, items 7 and 8). */
class DocsAndScriptTest {

    /** The repository root: the api module's parent. */
    private static Path root() {
        Path here = Path.of("").toAbsolutePath();
        return Files.exists(here.resolve("panscore")) && Files.exists(here.resolve("README.md")) ? here : here.getParent();
    }

    @Test
    void everyJavaSnippetInTheReadmeImportsWhatItUses() throws IOException {
        String readme = Files.readString(root().resolve("README.md"));
        Matcher blocks = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        Set<String> ours = new LinkedHashSet<>();
        // panscore's public types, by simple name
        try (var files = Files.walk(root())) {
            files.filter(p -> p.toString().contains("/src/main/java/io/panscore/") && p.toString().endsWith(".java"))
                    .forEach(p -> ours.add(p.getFileName().toString().replace(".java", "")));
        }
        int checked = 0;
        while (blocks.find()) {
            String code = blocks.group(1);
            Matcher used = Pattern.compile("\\b([A-Z][A-Za-z0-9]+)\\b").matcher(code.replaceAll("(?m)^import .*$", ""));
            while (used.find()) {
                String type = used.group(1);
                if (ours.contains(type)) {
                    assertTrue(Pattern.compile("(?m)^import io\\.panscore\\.[a-z.]+\\." + type + ";").matcher(code).find()
                            || Pattern.compile("(?m)^import io\\.panscore\\.[a-z.]+\\.[A-Z][A-Za-z]*;").matcher(code).results()
                                    .anyMatch(r -> r.group().endsWith("." + outer(type, code) + ";")),
                            "a README snippet uses " + type + " without importing it:\n" + code);
                    checked++;
                }
            }
        }
        assertTrue(checked > 5, "the README has Java snippets using panscore types");
    }

    /** For a nested type used as Outer.Inner, the outer type that the import names. */
    private static String outer(String type, String code) {
        Matcher m = Pattern.compile("\\b([A-Z][A-Za-z0-9]+)\\." + type + "\\b").matcher(code);
        return m.find() ? m.group(1) : type;
    }

    @Test
    void helpListsEveryCommandAndEscapesAlike() throws Exception {
        Process p = new ProcessBuilder("bash", root().resolve("panscore").toString(), "help").redirectErrorStream(true).start();
        String help = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        for (String command : List.of("demo", "test", "build", "cli", "bench", "java-home", "score", "rsr", "prm", "serve", "info", "fixture")) {
            assertTrue(Pattern.compile("\\b" + command + "\\b").matcher(help).find(), "./panscore help names " + command + ":\n" + help);
        }
        CliRun prm = CliRun.of("prm", "--help");
        CliRun rsr = CliRun.of("rsr", "--help");
        CliRun serve = CliRun.of("serve", "--help");
        assertTrue(rsr.out().contains("'\\n\\n'"), rsr.out());
        assertFalse(prm.out().contains("\\\\n"), prm.out());
        assertTrue(prm.out().contains("\\n\\n"), prm.out());
        assertFalse(serve.out().contains("\\\\n"), serve.out());
        assertTrue(serve.out().contains("--template"), serve.out());
        assertEquals("top-k", EntropyMode.TOP_K.label());
        assertEquals("exact", EntropyMode.EXACT.label());
    }

    @Test
    void tokenScoresPrintTheirValues() {
        TokenScores s = new TokenScores(1, new int[] {5, 6}, new float[] {-0.5f, -1.25f}, new float[] {0.75f, 2f}, new int[] {1, 3},
                new int[] {5, 9}, new float[] {-0.5f, -0.25f}, 0, new int[0], new float[0]);
        String text = s.toString();
        assertTrue(text.contains("[5, 6]") && text.contains("[-0.5, -1.25]") && text.contains("[1, 3]"), text);
        assertFalse(text.contains("[I@") || text.contains("[F@"), text);
    }

    // 8. ./panscore demo builds only when a build input changed

    @Test
    void demoSkipsTheBuildWhenNothingChanged(@TempDir Path dir) throws Exception {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Files.copy(root().resolve("panscore"), repo.resolve("panscore"));
        Files.writeString(repo.resolve("pom.xml"), "<project/>");
        Path source = Files.createDirectories(repo.resolve("api/src/main/java")).resolve("A.java");
        Files.writeString(source, "class A {}");
        Files.writeString(repo.resolve("api/pom.xml"), "<project/>");
        Path log = dir.resolve("calls.log");
        // a fake JDK and Maven: the JDK answers the version probe and logs runs; Maven logs builds and writes the jar
        Path jdk = Files.createDirectories(dir.resolve("jdk/bin"));
        String java = "#!/bin/bash\nif [ \"$1\" = -XshowSettings:properties ]; then echo '    java.specification.version = 25' >&2; exit 0; fi\n"
                + "echo java >> '" + log + "'\n";
        Files.writeString(jdk.resolve("java"), java);
        Files.writeString(jdk.resolve("javac"), "#!/bin/bash\n");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.writeString(bin.resolve("mvn"), "#!/bin/bash\necho mvn >> '" + log + "'\nmkdir -p api/target && touch api/target/panscore.jar\n");
        for (Path f : List.of(jdk.resolve("java"), jdk.resolve("javac"), bin.resolve("mvn"), repo.resolve("panscore"))) {
            f.toFile().setExecutable(true);
        }

        demo(repo, dir, bin);
        demo(repo, dir, bin);
        assertEquals(List.of("mvn", "java", "java"), Files.readAllLines(log), "the second demo does not build");
        // a source changed after the last build (its mtime after the stamp's) builds again
        Path stamp = repo.resolve("target/panscore-build.stamp");
        assertTrue(Files.exists(stamp));
        Instant built = Instant.now().minusSeconds(60);
        Files.setLastModifiedTime(stamp, FileTime.from(built));
        Files.setLastModifiedTime(source, FileTime.from(built.plusSeconds(10)));
        demo(repo, dir, bin);
        assertEquals(List.of("mvn", "java", "java", "mvn", "java"), Files.readAllLines(log));
        demo(repo, dir, bin);
        assertEquals(List.of("mvn", "java", "java", "mvn", "java", "java"), Files.readAllLines(log), "and then no more builds");
        // another JDK or other Maven options build again too
        Files.writeString(stamp, "another JDK\n");
        demo(repo, dir, bin);
        assertEquals("mvn", Files.readAllLines(log).get(6));
    }

    private static void demo(Path repo, Path dir, Path bin) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", repo.resolve("panscore").toString(), "demo").directory(repo.toFile()).redirectErrorStream(true);
        pb.environment().put("PANSCORE_JAVA_HOME", dir.resolve("jdk").toString());
        pb.environment().remove("JAVA_HOME");
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().remove("PANSCORE_MVN_ARGS");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }
}
