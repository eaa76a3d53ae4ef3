package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Packing many sequences into one decode, splitting long ones across decodes and micro-batches,
 * must not change any statistic.
 */
class PackingTest {

    @Test
    void packedEqualsOneAtATime() {
        Model model = TestModels.tiny();
        int[] all = model.tokenize(TestModels.TEXT + " " + TestModels.TEXT, true, false);
        List<Sequence> seqs = new ArrayList<>();
        for (int len = 2; len < all.length; len += 9) {
            seqs.add(new Sequence(Arrays.copyOfRange(all, all.length - len, all.length), 1, len));
        }
        EngineOptions packed = EngineOptions.defaults().withContextSize(512).withBatchSize(64).withMicroBatchSize(32).withMaxSequences(8);
        try (Engine many = model.newEngine(packed); Engine one = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            List<TokenScores> together = many.score(seqs, ScoreOptions.defaults().withTopK(2));
            for (int s = 0; s < seqs.size(); s++) {
                TokenScores alone = one.score(List.of(seqs.get(s)), ScoreOptions.defaults().withTopK(2)).getFirst();
                TokenScores got = together.get(s);
                for (int i = 0; i < alone.size(); i++) {
                    assertEquals(alone.logprob()[i], got.logprob()[i], 1e-4, "seq " + s + " pos " + i);
                    assertEquals(alone.entropy()[i], got.entropy()[i], 1e-4, "seq " + s + " pos " + i);
                }
                assertArrayEquals(alone.rank(), got.rank(), "seq " + s);
                assertArrayEquals(alone.argmax(), got.argmax(), "seq " + s);
                assertArrayEquals(alone.topIds(), got.topIds(), "seq " + s);
            }
        }
    }

    @Test
    void repeatedCallsAreDeterministic() {
        Model model = TestModels.tiny();
        int[] tokens = model.tokenize(TestModels.TEXT, true, false);
        try (Engine e = model.newEngine(EngineOptions.defaults().withContextSize(256))) {
            TokenScores first = e.score(Sequence.of(tokens));
            TokenScores second = e.score(Sequence.of(tokens));
            assertArrayEquals(first.logprob(), second.logprob());
            assertArrayEquals(first.entropy(), second.entropy());
        }
    }
}
