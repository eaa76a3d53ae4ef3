package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * 10,000 scoring calls leave native memory flat. Measured as the process's resident set size
 * (VmRSS in /proc/self/status), which covers the native heap: llama.cpp buffers, our arenas, and
 * the JVM. Everything a call allocates is freed when it returns, so after a warm-up (llama.cpp
 * sizes its buffers on the first calls, the JIT compiles) RSS must not keep growing. A leak of
 * even one small buffer per call (a few KB x 10,000) would show up as tens of MB.
 */
class NativeMemoryTest {

    private static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void tenThousandCallsLeaveNativeMemoryFlat() throws IOException {
        Model model = TestModels.tiny();
        int[] tokens = model.tokenize("Memory must stay flat over many calls.", true, false);
        List<Sequence> seqs = List.of(Sequence.of(tokens), Sequence.from(tokens, 3));
        ScoreOptions options = ScoreOptions.defaults().withTopK(4);
        try (Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(64).withThreads(1))) {
            for (int i = 0; i < 1_000; i++) {
                engine.score(seqs, options);
            }
            System.gc();
            long before = rssKb();
            for (int i = 0; i < 10_000; i++) {
                engine.score(seqs, options);
            }
            System.gc();
            long after = rssKb();
            long growthKb = after - before;
            System.out.printf("RSS before %d KB, after 10,000 calls %d KB, growth %d KB%n", before, after, growthKb);
            assertTrue(growthKb < 16 * 1024, "RSS grew by " + growthKb + " KB over 10,000 calls");
        }
    }
}
