package io.panscore.kernel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The optional child-process first load ({@code -Dpanscore.load.isolate=true} or
 * {@code PANSCORE_LOAD_ISOLATE=1}): before a model file is loaded in this JVM for the first time,
 * a child JVM on the same class path loads it, creates an engine and scores a few tokens. If
 * llama.cpp aborts there (a {@code GGML_ASSERT} the Java validation does not foresee), the child
 * dies instead of this JVM and the load fails with a {@link ModelLoadException}. A file that passed
 * is remembered (by path, size and modification time) for the life of the JVM.
 *
 * <p>{@link #main} is the child's entry point.
 */
final class LoadProbe {

    private static final Set<String> PASSED = ConcurrentHashMap.newKeySet();
    /** The child's exit status when loading failed cleanly (a PanscoreException). */
    static final int FAILED_CLEANLY = 3;

    private LoadProbe() {}

    static void requireLoadsInChild(Path path, ModelOptions options) {
        String key;
        try {
            key = path.toAbsolutePath().normalize() + "|" + Files.size(path) + "|" + Files.getLastModifiedTime(path).toMillis() + "|" + options;
        } catch (IOException e) {
            return; // the in-process load reports it
        }
        if (PASSED.contains(key)) {
            return;
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED", "-Dpanscore.load.isolate=false",
                "-cp", System.getProperty("java.class.path"), LoadProbe.class.getName(), path.toString(), Integer.toString(options.gpuLayers()),
                Boolean.toString(options.useMmap())));
        for (String p : List.of("panscore.cache.dir", "panscore.library.path", "panscore.gguf.validate")) {
            if (System.getProperty(p) != null) {
                cmd.add(1, "-D" + p + "=" + System.getProperty(p));
            }
        }
        Process child;
        try {
            child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new ModelLoadException(3, "could not start the child process that first loads '" + path + "': " + e.getMessage());
        }
        String out;
        int status;
        try {
            child.getOutputStream().close();
            byte[] bytes = child.getInputStream().readAllBytes();
            out = new String(bytes, StandardCharsets.UTF_8);
            if (!child.waitFor(10, TimeUnit.MINUTES)) {
                child.destroyForcibly();
                throw new ModelLoadException(3, "the child process that first loads '" + path + "' did not finish within 10 minutes");
            }
            status = child.exitValue();
        } catch (IOException e) {
            child.destroyForcibly();
            throw new ModelLoadException(3, "the child process that first loads '" + path + "' failed: " + e.getMessage());
        } catch (InterruptedException e) {
            child.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ModelLoadException(3, "interrupted while a child process first loads '" + path + "'");
        }
        if (status == 0) {
            PASSED.add(key);
            return;
        }
        String tail = lastLines(out, 4);
        if (status == FAILED_CLEANLY) {
            throw new ModelLoadException(3, tail.isEmpty() ? "loading '" + path + "' failed in a child process" : tail);
        }
        throw new ModelLoadException(3, "llama.cpp crashed while a child process first loaded '" + path + "' (exit status " + status
                + (status > 128 ? ", signal " + (status - 128) : "") + "); this JVM did not load it. Last output: " + tail);
    }

    private static String lastLines(String s, int n) {
        String[] lines = s.strip().split("\n");
        return String.join(" | ", java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - n), lines.length)).strip();
    }

    /** Child: load, create an engine, score a few tokens; exit 0, or 3 with the message on a clean failure. */
    public static void main(String[] args) {
        try (Model m = Model.load(Path.of(args[0]), new ModelOptions(Integer.parseInt(args[1]), 0, Boolean.parseBoolean(args[2]), false));
                Engine e = m.newEngine(EngineOptions.defaults().withContextSize(64).withThreads(1))) {
            int[] ids = m.tokenize("Hello, world.", true, false);
            if (ids.length >= 2) {
                e.score(List.of(Sequence.of(ids)), ScoreOptions.defaults());
            }
        } catch (PanscoreException | IllegalArgumentException e) {
            System.out.println(e.getMessage());
            System.out.flush();
            System.exit(FAILED_CLEANLY);
        }
        System.exit(0);
    }
}
