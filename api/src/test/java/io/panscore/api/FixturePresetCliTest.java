package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code panscore fixture --preset qwen2}: the written GGUF read back by llama.cpp ({@code info
 * --json}) has the full Qwen2 vocabulary and the preset's hyper-parameters, worked out by hand
 * (d 256, 4 layers, 4 heads with 2 KV heads, ff 512, context 2048, F16 matrices). The 160 MB file
 * is written once, into a temporary directory.
 */
class FixturePresetCliTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void qwen2PresetHasTheFullVocabularyAndItsShape(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("qwen2.gguf");
        CliRun w = CliRun.of("fixture", "--out", out.toString(), "--preset", "qwen2");
        assertEquals(0, w.status(), w.err());
        CliRun info = CliRun.of("info", "--model", out.toString(), "--json");
        assertEquals(0, info.status(), info.err());
        JsonNode m = JSON.readTree(info.out()).get("model");
        long vocab = 151_936; // Qwen2's tokenizer (llama.cpp's ggml-vocab-qwen2.gguf)
        long d = 256;
        long layers = 4;
        long dKv = d / 4 * 2; // 4 heads of 64, 2 of them for K and V
        long ff = 512;
        assertEquals("qwen2", m.get("architecture").asText());
        assertEquals(vocab, m.get("vocab_size").asLong());
        assertEquals(d, m.get("embedding").asLong());
        assertEquals(layers, m.get("layers").asLong());
        assertEquals(2048, m.get("context_train").asLong());
        assertEquals("gpt2", m.get("tokenizer").asText());
        assertEquals("qwen2", m.get("tokenizer_pre").asText());
        // token_embd and output (V x d), output_norm; per layer: 2 norms, Q/K/V/O with Q/K/V biases, gate/up/down
        long perLayer = 2 * d + d * d + 2 * d * dKv + d + 2 * dKv + d * d + 3 * d * ff;
        assertEquals(2 * vocab * d + d + layers * perLayer, m.get("parameters").asLong());
        assertEquals("F16", m.get("quantization").asText(), "30 F16 matrices, 21 F32 norms and biases");
        // the default seed (42) is the fixture the tests and the demo use: the same bytes
        assertEquals(-1L, Files.mismatch(out, Fixtures.qwen2()));
    }
}
