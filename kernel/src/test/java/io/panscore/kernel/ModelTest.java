package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ModelTest {

    @Test
    void metadataAndInfo() {
        ModelInfo info = TestModels.qwen2().info();
        assertEquals(151_936, info.vocabSize());
        assertEquals("qwen2", info.architecture());
        assertTrue(info.name().startsWith("panscore-fixture-qwen2"), info.name());
        assertTrue(TestModels.qwen2().chatTemplate().orElseThrow().contains("im_start"));
        assertTrue(TestModels.qwen2().metadata("no.such.key").isEmpty());
        assertTrue(info.layers() > 0 && info.embedding() > 0 && info.parameters() > 0);
    }

    @Test
    void tokenizeRoundTrip() {
        for (Model model : new Model[] {TestModels.tiny(), TestModels.qwen2()}) {
            String text = "Hello, world! Ünïcödé and emoji 🙂 stay intact.\n\nNew paragraph.";
            int[] ids = model.tokenize(text, false, false);
            assertTrue(ids.length > 5);
            assertEquals(text, model.detokenize(ids, false), model.toString());
            int[] special = model.tokenize("<|im_start|>user", false, true);
            assertEquals("<|im_start|>", model.tokenText(special[0]), model.toString());
        }
    }

    @Test
    void fullVocabularyTokenizesCompactly() {
        int[] small = TestModels.tiny().tokenize(TestModels.TEXT, false, false);
        int[] full = TestModels.qwen2().tokenize(TestModels.TEXT, false, false);
        assertTrue(full.length < small.length, full.length + " vs " + small.length);
    }
}
