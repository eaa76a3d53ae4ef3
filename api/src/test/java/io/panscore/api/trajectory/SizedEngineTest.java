package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.FixtureSpec;

import io.panscore.kernel.fixture.Fixtures;
import org.junit.jupiter.api.Test;

/**
 * The context an engine gets for a given amount of work: powers of two from 4096 up to the limit
 * (the model's training context, or a fixed size), worked out by hand for fixtures whose training
 * context is 512, 6000 and 16384 tokens.
 */
class SizedEngineTest {

    private static Model fixture(int nCtxTrain) {
        return Model.load(Fixtures.model(new FixtureSpec(FixtureSpec.QWEN2, FixtureSpec.FixtureVocabulary.SMALL, 64, 2, 4, 2, 128, nCtxTrain,
                FixtureSpec.DEFAULT_SEED, FixtureSpec.WeightType.F32)));
    }

    @Test
    void powersOfTwoUpToTheTrainingContext() {
        try (Model m = fixture(16384); SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults())) {
            assertEquals(16384, s.limit());
            assertSame(m, s.model());
            int[][] cases = {{0, 4096}, {1, 4096}, {4095, 4096}, {4096, 4096}, {4097, 8192}, {8192, 8192}, {8193, 16384}, {16384, 16384},
                    {16385, 16384}, {1 << 30, 16384}};
            for (int[] c : cases) {
                assertEquals(c[1], s.contextFor(c[0]), "tokens " + c[0]);
            }
        }
        // a limit that is no power of two caps the doubling
        try (Model m = fixture(6000); SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults())) {
            assertEquals(6000, s.limit());
            assertEquals(4096, s.contextFor(4096));
            assertEquals(6000, s.contextFor(4097));
            assertEquals(6000, s.contextFor(9000));
        }
        // a training context below the smallest size: the training context
        try (Model m = Model.load(Fixtures.tiny()); SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults())) {
            assertEquals(512, s.limit());
            assertEquals(512, s.contextFor(1));
            assertEquals(512, s.contextFor(5000));
        }
    }

    @Test
    void theDoublingStopsAtTheLargestInt() {
        // a training context of 2^31 - 1: 4096 doubles to 2^30, and the next step is capped at 2^31 - 1, not overflowed
        try (Model m = fixture(Integer.MAX_VALUE); SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults())) {
            assertEquals(Integer.MAX_VALUE, s.limit());
            assertEquals(1 << 30, s.contextFor(1 << 30));
            assertEquals(Integer.MAX_VALUE, s.contextFor((1 << 30) + 1));
            assertEquals(Integer.MAX_VALUE, s.contextFor(Integer.MAX_VALUE));
        }
    }

    @Test
    void aGivenContextSizeIsFixed() {
        try (Model m = fixture(16384)) {
            try (SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults().withContextSize(3000))) {
                assertEquals(3000, s.limit());
                assertEquals(3000, s.contextFor(1));
                assertEquals(3000, s.contextFor(3000));
                assertEquals(3000, s.contextFor(20000));
            }
            // above the training context too: the caller asked for it
            try (SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults().withContextSize(20000))) {
                assertEquals(20000, s.limit());
                assertEquals(20000, s.contextFor(1));
            }
        }
    }

    @Test
    void enginesAreKeptWhileTheSizeStaysAndReplacedWhenItChanges() {
        try (Model m = fixture(16384)) {
            Engine first;
            Engine bigger;
            try (SizedEngine s = SizedEngine.sized(m, EngineOptions.defaults())) {
                first = s.forTokens(10);
                assertEquals(4096, first.options().contextSize());
                assertSame(first, s.forTokens(4000), "the same size: the same engine");
                bigger = s.forTokens(5000);
                assertNotSame(first, bigger);
                assertEquals(8192, bigger.options().contextSize());
                assertTrue(first.isClosed(), "the smaller engine is freed");
                assertFalse(bigger.isClosed());
                Engine back = s.forTokens(1);
                assertEquals(4096, back.options().contextSize());
                assertTrue(bigger.isClosed());
                s.close();
                assertTrue(back.isClosed(), "close frees the engine it made");
            }
            // the caller's engine: its context is the limit, it is handed out whatever the work, and it is not closed
            try (Engine mine = m.newEngine(EngineOptions.defaults().withContextSize(1000))) {
                SizedEngine s = SizedEngine.fixed(mine);
                assertEquals(1000, s.limit());
                assertEquals(1000, s.contextFor(1));
                assertEquals(1000, s.contextFor(50000));
                assertSame(mine, s.forTokens(1));
                assertSame(mine, s.forTokens(5000));
                s.close();
                assertFalse(mine.isClosed());
            }
        }
    }
}
