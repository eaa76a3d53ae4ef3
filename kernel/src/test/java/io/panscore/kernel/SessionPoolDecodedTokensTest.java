package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.panscore.kernel.fixture.Fixtures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link SessionPool#decodedTokens}: what glimpses and generation steps decode, counted by hand. */
class SessionPoolDecodedTokensTest {

    @Test
    void countsEveryDecodedTokenIncludingTheRedecodedLastOne() {
        try (Model model = Model.load(Fixtures.tiny());
                SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(512).withMaxSequences(2), 0);
                Generator gen = new Generator(pool)) {
            SessionPool.Session s = pool.open(new int[] {1, 2, 3, 4, 5, 6, 7});
            assertEquals(0, pool.decodedTokens(), "opening decodes nothing");
            pool.glimpse(List.of(s));
            assertEquals(7, pool.decodedTokens());
            pool.glimpse(List.of(s));
            assertEquals(7, pool.decodedTokens(), "nothing pending: answered from the last glimpse");
            pool.append(s, new int[] {8, 9, 10});
            pool.glimpse(List.of(s));
            assertEquals(10, pool.decodedTokens());
            // nothing pending: the first step re-decodes token 10, then each sampled token but the last is decoded
            Generation g = gen.generate(s, GenerateOptions.greedy(4).withStopAtEndOfGeneration(false));
            assertEquals(4, g.tokens().size());
            assertEquals(10 + 1 + 3, pool.decodedTokens());
            // the last sampled token is pending: the next glimpse decodes it alone
            pool.glimpse(List.of(s));
            assertEquals(15, pool.decodedTokens());
        }
    }
}
