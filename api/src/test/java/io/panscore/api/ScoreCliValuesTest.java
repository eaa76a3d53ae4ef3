package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code panscore score --file --format jsonl --temperature --threads --ctx} and {@code fixture --seed}, by their values. */
class ScoreCliValuesTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** The kernel's 2.4e-6 (docs/TESTING.md) plus the JSONL's 6 significant digits. */
    private static double tol(double v) {
        return 2.4e-6 * (1 + Math.abs(v)) + 5e-6 * Math.abs(v);
    }

    @Test
    void scoreFileJsonlEqualsTheReferenceAtTheTemperature(@TempDir Path dir) throws Exception {
        String text = "The quick brown fox jumps over the lazy dog.\nA second line, with numbers 3.14 and 2026.";
        Path file = Files.writeString(dir.resolve("t.txt"), text);
        CliRun r = CliRun.of("score", "--model", Fixtures.tiny().toString(), "--file", file.toString(), "--format", "jsonl", "--temperature", "0.7",
                "--threads", "1", "--ctx", "128", "--batch", "32", "--ubatch", "16");
        assertEquals(0, r.status(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        try (Model model = Model.load(Fixtures.tiny()); Engine e = model.newEngine(EngineOptions.defaults().withContextSize(128))) {
            int[] ids = model.tokenize(text, true, false);
            assertEquals(ids.length - 1, lines.size());
            int vocab = model.info().vocabSize();
            float[] logits = e.logits(List.of(Sequence.of(ids)));
            for (int i = 0; i < lines.size(); i++) {
                JsonNode n = JSON.readTree(lines.get(i));
                ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, i * vocab, vocab, ids[i + 1], 0.7, 0);
                assertEquals(i + 1, n.get("pos").asInt());
                assertEquals(ids[i + 1], n.get("id").asInt());
                assertEquals(ref.logprob(), n.get("logprob").asDouble(), tol(ref.logprob()), "pos " + (i + 1));
                assertEquals(ref.entropy(), n.get("entropy").asDouble(), tol(ref.entropy()), "pos " + (i + 1));
                assertEquals(ref.rank(), n.get("rank").asInt(), "pos " + (i + 1));
                assertEquals(ref.argmax(), n.get("argmax_id").asInt(), "pos " + (i + 1));
                assertEquals(ref.argmaxLogprob(), n.get("argmax_logprob").asDouble(), tol(ref.argmaxLogprob()), "pos " + (i + 1));
            }
            // at T = 1 the numbers differ (the temperature was applied)
            ReferenceKernel.Stats t1 = ReferenceKernel.stats(logits, 0, vocab, ids[1], 1.0, 0);
            assertTrue(Math.abs(t1.entropy() - JSON.readTree(lines.getFirst()).get("entropy").asDouble()) > 1e-3);
        }
    }

    /**
     * {@code --flash-attn on}: llama.cpp's flash attention accumulates in F16 on the CPU, so its
     * log-probs differ from the default path's by more than the kernel's error; the CLI's numbers
     * must equal the float64 reference on an FA-on engine's logits, and differ from the FA-off ones.
     */
    @Test
    void flashAttnOnScoresWithFlashAttention(@TempDir Path dir) throws Exception {
        String text = "Flash attention changes the rounding of every attention sum, a little, over a long enough line of text like this one.";
        Path file = Files.writeString(dir.resolve("t.txt"), text);
        CliRun r = CliRun.of("score", "--model", Fixtures.tiny().toString(), "--file", file.toString(), "--format", "jsonl", "--threads", "1", "--ctx", "128",
                "--flash-attn", "on");
        assertEquals(0, r.status(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        try (Model model = Model.load(Fixtures.tiny());
                Engine on = model.newEngine(EngineOptions.defaults().withContextSize(128).withFlashAttention(EngineOptions.FlashAttention.ON));
                Engine off = model.newEngine(EngineOptions.defaults().withContextSize(128))) {
            int[] ids = model.tokenize(text, true, false);
            assertEquals(ids.length - 1, lines.size());
            int vocab = model.info().vocabSize();
            float[] onLogits = on.logits(List.of(Sequence.of(ids)));
            float[] offLogits = off.logits(List.of(Sequence.of(ids)));
            double apart = 0;
            for (int i = 0; i < lines.size(); i++) {
                double got = JSON.readTree(lines.get(i)).get("logprob").asDouble();
                ReferenceKernel.Stats withFa = ReferenceKernel.stats(onLogits, i * vocab, vocab, ids[i + 1], 1.0, 0);
                ReferenceKernel.Stats withoutFa = ReferenceKernel.stats(offLogits, i * vocab, vocab, ids[i + 1], 1.0, 0);
                assertEquals(withFa.logprob(), got, tol(withFa.logprob()), "pos " + (i + 1));
                apart = Math.max(apart, Math.abs(withoutFa.logprob() - got) / tol(withoutFa.logprob()));
            }
            assertTrue(apart > 2, "flash attention must change some log-prob by more than twice the tolerance here (max " + apart + " tolerances)");
        }
    }

    @Test
    void fixtureSeedsAreReproducibleAndDistinct(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.gguf");
        Path b = dir.resolve("b.gguf");
        Path c = dir.resolve("c.gguf");
        assertEquals(0, CliRun.of("fixture", "--out", a.toString(), "--preset", "tiny", "--seed", "5").status());
        assertEquals(0, CliRun.of("fixture", "--out", b.toString(), "--preset", "tiny", "--seed", "5").status());
        assertEquals(0, CliRun.of("fixture", "--out", c.toString(), "--preset", "tiny", "--seed", "6").status());
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "same seed, same bytes");
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(c)), "another seed, other weights");
        Path llama = dir.resolve("llama.gguf");
        assertEquals(0, CliRun.of("fixture", "--out", llama.toString(), "--preset", "llama", "--seed", "1").status());
        CliRun llamaInfo = CliRun.of("info", "--model", llama.toString());
        assertEquals(0, llamaInfo.status(), llamaInfo.err());
        assertTrue(llamaInfo.out().contains("llama"), llamaInfo.out());
        CliRun info = CliRun.of("info", "--model", c.toString());
        assertEquals(0, info.status(), info.err());
        assertTrue(info.out().contains("2,051") || info.out().contains("2051"), info.out());
    }
}
