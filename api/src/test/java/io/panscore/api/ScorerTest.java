package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.ClosedException;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.ModelLoadException;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScorerTest {

    @Test
    void scoredTextMatchesTheReferenceOnRawLogits() {
        try (Scorer scorer = Scorer.open(Fixtures.tiny(), ModelOptions.defaults(), EngineOptions.defaults().withContextSize(128))) {
            String text = "Scoring a short text, token by token.";
            ScoredText scored = scorer.scoreText(text);
            int[] ids = scorer.model().tokenize(text, true, false);
            assertEquals(ids.length, scored.tokenCount());
            assertEquals(ids.length - 1, scored.tokens().size());
            float[] logits = scorer.engine().logits(List.of(Sequence.of(ids)));
            int vocab = scorer.model().info().vocabSize();
            for (ScoredToken t : scored.tokens()) {
                int row = t.position() - 1;
                ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, row * vocab, vocab, ids[t.position()], 1.0, 0);
                assertEquals(ref.logprob(), t.logprob(), 1e-4);
                assertEquals(ref.entropy(), t.entropy(), 1e-4);
                assertEquals(ref.rank(), t.rank());
                assertEquals(scorer.model().tokenText(ids[t.position()]), t.text());
            }
            assertTrue(scored.perplexity() > 1 && Double.isFinite(scored.perplexity()));
            assertEquals(scored.meanSurprisal(), scored.tokens().stream().mapToDouble(ScoredToken::surprisal).average().orElseThrow(), 1e-12);
        }
    }

    @Test
    void closeIsIdempotentAndLaterUseIsTyped() {
        Scorer scorer = Scorer.open(Fixtures.tiny(), ModelOptions.defaults(), EngineOptions.defaults().withContextSize(64));
        scorer.close();
        scorer.close();
        assertThrows(ClosedException.class, () -> scorer.scoreText("x y z"));
        assertThrows(ClosedException.class, () -> scorer.score(List.of(Sequence.of(1, 2, 3)), ScoreOptions.defaults()));
    }

    @Test
    void missingModelIsAModelLoadException() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Scorer.open(Path.of("/no/such/model.gguf")));
        assertTrue(e.getMessage().contains("/no/such/model.gguf"), e.getMessage());
    }
}
