package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #13 item 3 and the GGUF campaign: a malformed GGUF is refused in Java with a message that
 * names the problem, before llama.cpp could abort the JVM on it. Without the validation the first
 * case (a duplicated token string) kills the test JVM in llama-vocab.cpp's
 * {@code GGML_ASSERT(id_to_token.size() == token_to_id.size())}.
 */
class GgufValidationTest {

    private static void refused(GgufMutants m, String semantic, Path dir, String... messageParts) throws IOException {
        Path f = dir.resolve(semantic + ".gguf");
        m.semantic(semantic, f);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(f), semantic);
        for (String part : messageParts) {
            assertTrue(e.getMessage().contains(part), semantic + ": \"" + e.getMessage() + "\" should mention \"" + part + "\"");
        }
    }

    @Test
    void vocabularyForgeriesAreRefusedByName(@TempDir Path dir) throws IOException {
        GgufMutants m = new GgufMutants(Fixtures.tiny());
        refused(m, "duplicate-token", dir, "twice", "ids 4 and 5");
        refused(m, "empty-token-collision", dir, "[EMPTY_3]", "twice");
        refused(m, "missing-tokens", dir, "missing tokenizer.ggml.tokens");
        refused(m, "tokens-not-strings", dir, "tokenizer.ggml.tokens must be an array of strings");
        refused(m, "short-scores", dir, "tokenizer.ggml.scores has");
        refused(m, "bad-token-type", dir, "unknown token type 9");
        refused(m, "huge-token", dir, "characters long");
        refused(m, "tokenizer-bogus", dir, "unknown tokenizer model 'bogus'");
        refused(m, "merges-missing", dir, "merges");
        refused(m, "bos-required-missing", dir, "BOS");
    }

    @Test
    void hyperParameterAndArchitectureForgeriesAreRefusedByName(@TempDir Path dir) throws IOException {
        GgufMutants m = new GgufMutants(Fixtures.tiny());
        refused(m, "block-count-0", dir, "block_count must be in [1, 512]");
        refused(m, "block-count-1000", dir, "block_count must be in [1, 512], is 1000");
        refused(m, "kv-heads-3", dir, "head_count_kv = 3");
        refused(m, "experts-2000", dir, "expert_count = 2000");
        refused(m, "experts-used-no-experts", dir, "expert_used_count = 2 is more than the 0 experts");
        refused(m, "rope-scaling-bogus", dir, "rope.scaling.type 'bogus'");
        refused(m, "arch-mamba", dir, "'mamba' is recurrent or hybrid");
        refused(m, "arch-rwkv6", dir, "recurrent or hybrid");
        refused(m, "context-0", dir, "context_length");
        refused(m, "nextn-5", dir, "nextn_predict_layers");
    }

    @Test
    void tensorForgeriesAreRefusedByName(@TempDir Path dir) throws IOException {
        GgufMutants m = new GgufMutants(Fixtures.tiny());
        Map<String, String> expect = new TreeMap<>(Map.of("tensor-type-i32", "type i32", "tensor-type-99", "unknown or removed ggml type 99",
                "tensor-type-removed", "unknown or removed ggml type 4", "tensor-offset-plus-32", "expected", "tensor-vector-q8", "is a vector",
                "tensor-type-q4_0", "has data offset", "tensor-dim-double", "extends beyond the end"));
        for (var c : expect.entrySet()) {
            Path f = dir.resolve(c.getKey() + ".gguf");
            m.forged(c.getKey(), f);
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(f), c.getKey());
            assertTrue(e.getMessage().contains(c.getValue()), c.getKey() + ": " + e.getMessage());
        }
    }

    @Test
    void realModelsPassTheValidation() throws IOException {
        for (Path p : new Path[] {Fixtures.tiny(), Fixtures.model(FixtureSpec.llamaSmall())}) {
            GgufValidator.validate(p);
        }
        Optional<Path> stories = Tol.stories260K();
        Assumptions.assumeTrue(stories.isPresent(), "stories260K.gguf not found");
        GgufValidator.validate(stories.get());
        assertEquals(GgufMutants.Outcome.LOADED_AND_SCORED, GgufMutants.check(stories.get(), msg -> {}));
    }

    /**
     * The GGUF campaign: {@code -Dcampaign.gguf.count=N} corrupted variants (default 80 for CI)
     * through Model.load in this JVM; each must be refused with a ModelLoadException or load and
     * score exactly like the float64 reference on its own logits. A JVM death fails the build (the
     * fork dies); the log names the last mutant. {@code scripts/campaign-gguf.sh} runs 1,000.
     */
    @Test
    void campaign(@TempDir Path dir) throws IOException {
        int count = Integer.getInteger("campaign.gguf.count", 80);
        long seed = Long.getLong("campaign.gguf.seed", 13);
        Path log = Path.of(System.getProperty("campaign.gguf.log", "target/campaign-gguf.log"));
        Files.createDirectories(log.toAbsolutePath().getParent());
        GgufMutants[] bases = {new GgufMutants(Fixtures.tiny()), new GgufMutants(Fixtures.model(FixtureSpec.llamaSmall()))};
        Map<GgufMutants.Outcome, Integer> outcomes = new EnumMap<>(GgufMutants.Outcome.class);
        Map<String, Integer> reasons = new TreeMap<>();
        long t0 = System.nanoTime();
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8))) {
            for (int i = 0; i < count; i++) {
                GgufMutants base = bases[i % 2];
                Path f = dir.resolve("mutant.gguf");
                String what = base.write(i, seed, f);
                out.println("mutant " + i + " of " + base.base().getFileName() + ": " + what);
                out.flush(); // the last line names the culprit if the JVM dies
                GgufMutants.Outcome o = GgufMutants.check(f, msg -> {
                    String reason = msg.replaceAll(".*\\.gguf'?:? ?", "").replaceAll("[0-9]+", "N");
                    reasons.merge(reason.length() > 90 ? reason.substring(0, 90) : reason, 1, Integer::sum);
                    out.println("  refused: " + msg);
                });
                outcomes.merge(o, 1, Integer::sum);
                out.println("  " + o);
            }
            out.printf("%d mutants in %.1f s, 0 JVM deaths: %s%n", count, (System.nanoTime() - t0) / 1e9, outcomes);
            reasons.forEach((r, n) -> out.printf("  %5d  %s%n", n, r));
        }
        assertEquals(count, outcomes.values().stream().mapToInt(Integer::intValue).sum());
        assertTrue(outcomes.getOrDefault(GgufMutants.Outcome.REFUSED, 0) > 0 && outcomes.getOrDefault(GgufMutants.Outcome.LOADED_AND_SCORED, 0) > 0,
                outcomes.toString());
        System.out.println("GGUF campaign: " + count + " mutants, 0 JVM deaths, " + outcomes + " (log: " + log + ")");
    }
}
