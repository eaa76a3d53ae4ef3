package io.panscore.api.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.panscore.api.SharedModels;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * A heatmap's token texts, read left to right, are the text: their concatenation equals llama.cpp's
 * own detokenization of the whole sequence (the independent reference), for a byte-level BPE
 * vocabulary (the Qwen2 fixture) and a SentencePiece one (stories260K from shared/, when present),
 * whose leading spaces a token rendered alone loses.
 */
class TokenTextsTest {

    private static final String TEXT = "Once upon a time, there was a little girl named Lily. She liked to play outside.\n\nOne day she saw a big dog.";

    private static void assertJoinsToTheText(Path modelFile) {
        try (Model m = Model.load(modelFile)) {
            int[] ids = m.tokenize(TEXT, false, false);
            String[] pieces = TokenTexts.of(m).sequence(ids);
            assertEquals(ids.length, pieces.length);
            assertEquals(m.detokenize(ids, true), String.join("", pieces));
        }
    }

    @Test
    void bytePairVocabulary() {
        assertJoinsToTheText(Fixtures.tiny());
    }

    @Test
    void sentencePieceVocabulary() {
        Path stories = SharedModels.optionalStories260K().orElse(null);
        assumeTrue(stories != null, "stories260K.gguf not found beside the repository (../shared/models)");
        assertJoinsToTheText(stories);
    }
}
