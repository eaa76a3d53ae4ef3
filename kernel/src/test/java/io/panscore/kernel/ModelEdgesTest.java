package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.Fixtures;
import io.panscore.kernel.fixture.GgufFile.StringArray;
import io.panscore.kernel.fixture.GgufFile.StringValue;
import io.panscore.kernel.fixture.GgufFile.Value;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model's text paths at the sizes where its first buffer is too small (the retry with the size
 * llama.cpp asks for), chat rendering by pattern and by Jinja, per-token byte lengths, its
 * settings parser, and what a failed load says when the Java validation is off. Expected texts are
 * written by hand (the chatml format, repeated special tokens, a template's output).
 */
class ModelEdgesTest {

    private static final String IM_START = "<|im_start|>";

    @Test
    void longOutputsGrowTheirBuffers(@TempDir Path dir) throws IOException {
        Model tiny = TestModels.tiny();
        int imStart = tiny.tokenize(IM_START, false, true)[0];
        int[] many = new int[20];
        Arrays.fill(many, imStart);
        // 20 x 12 bytes = 240, more than the first guess of 8 bytes a token + 16
        assertEquals(IM_START.repeat(20), tiny.detokenize(many, true));
        assertEquals("", tiny.detokenize(many, false), "special tokens render as nothing unless asked");

        // a token whose piece is 300 bytes: more than the 64 (tokenText) and 256 (first token) byte buffers
        Path f = dir.resolve("long-token.gguf");
        String longText = "z".repeat(300);
        int imStartId = imStart;
        String longSpecial = "<|" + "s".repeat(100) + "|>";
        new GgufMutants(Fixtures.tiny()).edited(m -> {
            List<String> t = new ArrayList<>(((StringArray) m.get("tokenizer.ggml.tokens")).values());
            t.set(1000, longText);
            t.set(imStartId, longSpecial); // a control token whose text is longer than the first buffer
            m.put("tokenizer.ggml.tokens", new StringArray(t));
            m.put("panscore.test.empty", new StringValue(""));
            m.put("panscore.test.long", new StringValue("v".repeat(5000)));
        }, f);
        Model loaded;
        try (Model m = Model.load(f)) {
            loaded = m;
            assertEquals(f, m.path());
            assertFalse(m.isClosed());
            assertEquals(longSpecial, m.tokenText(imStartId), "a special token's text, rendered after growing the buffer");
            assertEquals(Optional.of(""), m.metadata("panscore.test.empty"), "an empty value is a value");
            assertEquals(Optional.of("v".repeat(5000)), m.metadata("panscore.test.long"));
            assertEquals(longText, m.tokenText(1000));
            assertEquals(300, m.pieceBytes(1000, false).length);
            assertArrayEquals(new int[] {300, 300}, m.pieceByteLengths(new int[] {1000, 1000}));
            assertEquals(longText + longText, m.detokenize(new int[] {1000, 1000}, false));
        }
        assertTrue(loaded.isClosed());
    }

    @Test
    void oneTokenAndOutOfRangeTokensAndWhatTheTokenizerAdds() {
        Model tiny = TestModels.tiny();
        int imStart = tiny.tokenize(IM_START, false, true)[0];
        assertEquals(IM_START, tiny.detokenize(new int[] {imStart}, true));
        int vocab = tiny.info().vocabSize();
        for (int bad : new int[] {-1, vocab}) {
            assertThrows(TokenOutOfRangeException.class, () -> tiny.detokenize(new int[] {bad}, false), "detokenize " + bad);
            assertThrows(TokenOutOfRangeException.class, () -> tiny.tokenText(bad), "tokenText " + bad);
            assertThrows(TokenOutOfRangeException.class, () -> tiny.pieceByteLengths(new int[] {bad}), "pieceByteLengths " + bad);
            assertThrows(TokenOutOfRangeException.class, () -> tiny.pieceByteLengths(new int[] {imStart, bad}), "pieceByteLengths, second " + bad);
        }
        // Qwen2's tokenizer adds no BOS; stories260K's (SentencePiece llama) does
        assertFalse(tiny.info().addsBos());
        try (Model stories = Model.load(Tol.requireStories260K())) {
            assertTrue(stories.info().addsBos());
            assertEquals(stories.info().bos(), stories.tokenize("Hi", true, false)[0]);
        }
    }

    @Test
    void pieceByteLengthsCoverTheTextExactly() {
        // byte-level BPE (Qwen2): the pieces are the text's bytes, multi-byte characters included
        Model tiny = TestModels.tiny();
        String text = "Hello, wörld! € and 🙂.";
        int[] ids = tiny.tokenize(text, false, false);
        int[] lengths = tiny.pieceByteLengths(ids);
        assertEquals(ids.length, lengths.length);
        assertEquals(text.getBytes(StandardCharsets.UTF_8).length, Arrays.stream(lengths).sum());
        for (int i = 0; i < ids.length; i++) {
            assertEquals(tiny.pieceBytes(ids[i], false).length, lengths[i], "token " + i);
        }
        assertArrayEquals(new int[0], tiny.pieceByteLengths(new int[0]));
        // SentencePiece (stories260K) adds a space in front of the text: the first token's length leaves it out
        Model stories = Model.load(Tol.requireStories260K());
        try (stories) {
            String words = "Hello world";
            int[] sp = stories.tokenize(words, false, false);
            int[] spLengths = stories.pieceByteLengths(sp);
            assertEquals(words.length(), Arrays.stream(spLengths).sum());
            assertEquals(stories.pieceBytes(sp[0], false).length - 1, spLengths[0], "the first piece without its space");
            for (int i = 1; i < sp.length; i++) {
                assertEquals(stories.pieceBytes(sp[i], false).length, spLengths[i], "token " + i);
            }
        }
    }

    @Test
    void chatRenderingByPatternAndByJinja() {
        Model tiny = TestModels.tiny();
        List<ChatMessage> chat = List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi!"));
        String chatml = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n";
        assertEquals(chatml + "<|im_start|>assistant\n", tiny.renderChat(chat, "chatml", true));
        assertEquals(chatml, tiny.renderChat(chat, "chatml", false));
        // a long message: 2,000 three-byte characters, more than the first buffer's 2 bytes a character
        String euros = "€".repeat(2000);
        assertEquals("<|im_start|>user\n" + euros + "<|im_end|>\n", tiny.renderChat(List.of(new ChatMessage("user", euros)), "chatml", false));
        assertThrows(InvalidInputException.class, () -> tiny.renderChat(chat, "no-such-template-xyz", true));

        String listing = "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}<gen>{% endif %}";
        assertEquals("[system:Be brief.][user:Hi!]<gen>", tiny.renderChatJinja(chat, listing, true, false));
        assertEquals("[system:Be brief.][user:Hi!]", tiny.renderChatJinja(chat, listing, false, false));
        // 600 x 8 characters: more than the first buffer of 1,024 bytes + 3 a message character
        assertEquals("abcdefgh".repeat(600), tiny.renderChatJinja(chat, "{% for i in range(600) %}abcdefgh{% endfor %}", false, false));
        assertThrows(InvalidInputException.class, () -> tiny.renderChatJinja(chat, listing, true, true));
        // the model's own template (the fixture's is Qwen2's chatml)
        assertTrue(tiny.renderChatJinja(List.of(new ChatMessage("user", "Hi!")), null, true, false).endsWith("<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"));
    }

    @Test
    void settingsReadTrueFalseAndOtherValues() {
        String key = "panscore.test.k16.setting";
        try {
            assertEquals("dflt", Model.setting(key, "PANSCORE_TEST_K16_NO_SUCH_VARIABLE", "dflt"), "unset");
            String[][] cases = {{"1", "true"}, {" YES ", "true"}, {"On", "true"}, {"true", "true"}, {"0", "false"}, {"no", "false"}, {"OFF", "false"},
                {"Maybe", "maybe"}, {"   ", "dflt"}};
            for (String[] c : cases) {
                System.setProperty(key, c[0]);
                assertEquals(c[1], Model.setting(key, "PANSCORE_TEST_K16_NO_SUCH_VARIABLE", "dflt"), "'" + c[0] + "'");
            }
        } finally {
            System.clearProperty(key);
        }
    }

    @Test
    void aDirectoryNamesTheModelsInIt(@TempDir Path dir) throws IOException {
        for (String name : List.of("f.gguf", "b.gguf", "a.gguf", "e.gguf", "d.gguf", "c.gguf", "0-notes.txt")) {
            Files.writeString(dir.resolve(name), "x");
        }
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(dir));
        assertEquals("'" + dir + "' is a directory, not a model file: give the path of a .gguf file, e.g. " + dir.resolve("a.gguf")
                + " (it holds a.gguf, b.gguf, c.gguf, d.gguf, e.gguf)", e.getMessage());
    }

    @Test
    void withoutTheJavaValidationLlamaCppsRefusalIsExplained(@TempDir Path dir) throws IOException {
        byte[] whole = Files.readAllBytes(TestModels.tinyPath());
        Path truncated = dir.resolve("truncated.gguf");
        Files.write(truncated, Arrays.copyOf(whole, whole.length - 16)); // the last tensor's data cut short
        Path text = dir.resolve("text.gguf");
        Files.writeString(text, "this is a text file, not a model");
        String before = System.getProperty("panscore.gguf.validate");
        System.setProperty("panscore.gguf.validate", "false");
        try {
            ModelLoadException t = assertThrows(ModelLoadException.class, () -> Model.load(truncated));
            assertTrue(t.getMessage().startsWith("cannot load " + truncated + ": the file is truncated (incomplete download or copy?): "), t.getMessage());
            ModelLoadException d = assertThrows(ModelLoadException.class, () -> Model.load(text));
            assertTrue(d.getMessage().startsWith("cannot load " + text + ": the file is damaged: "), d.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty("panscore.gguf.validate");
            } else {
                System.setProperty("panscore.gguf.validate", before);
            }
        }
    }
}
