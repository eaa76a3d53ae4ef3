package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Generator at the edges its other tests leave out (PIT survivors, docs/TESTING-kernel.md): what
 * a failed, cancelled or closed generation leaves behind (its session free for the next
 * generation, holding exactly the tokens generated), the KV budget running out under two
 * generations (the newest fails first), the top-k alternatives of a batched step, stop strings at
 * the text's first character, text held back for a stop string when the context fills, and a
 * generation that ends inside a multi-byte character. Expected tokens come from a separate
 * unbatched greedy run, expected text from the JDK's UTF-8 decoder over llama.cpp's token pieces.
 */
class GeneratorEdgesTest {

    private static final class Stories {
        static final Model MODEL = Model.load(Tol.requireStories260K());
    }

    /** A generation that never completes would hang the test: generous, only a hang fails it. */
    private static final Duration HANG = Duration.ofMinutes(5);

    /** Different decode shapes (batched vs alone) move llama.cpp's float sums by up to ~3e-3 nats (GeneratorTest). */
    private static final double DECODE_SHAPE_TOLERANCE = 5e-3;

    private static SessionPool pool(Model model, int contextSize, int maxSequences) {
        return new SessionPool(model, EngineOptions.defaults().withContextSize(contextSize).withMaxSequences(maxSequences).withThreads(2), 0);
    }

    private static GenerateOptions greedy(int n) {
        return GenerateOptions.greedy(n).withStopAtEndOfGeneration(false);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aFailedGenerationFreesItsSessionWhichHoldsExactlyTheTokensGenerated() {
        Model model = Stories.MODEL;
        int[] prompt = model.tokenize("Once upon a time, there was a big dog.", true, false);
        try (SessionPool pool = pool(model, 256, 4); Generator gen = new Generator(pool)) {
            assertSame(pool, gen.pool());
            int[] expected = gen.generate(pool.open(prompt), greedy(4)).tokenIds();

            // a listener that throws a RuntimeException: that generation fails, after its first token
            SessionPool.Session s = pool.open(prompt);
            Generator.Handle bad = gen.submit(s, greedy(50), (t, d) -> {
                throw new IllegalStateException("listener broke");
            });
            assertThrows(IllegalStateException.class, () -> assertTimeoutPreemptively(HANG, bad::await));
            // the session is free again and holds the prompt and that one token: generating on it goes on from there
            Generation next = assertTimeoutPreemptively(HANG, () -> gen.generate(s, greedy(3)));
            assertArrayEquals(Arrays.copyOfRange(expected, 1, 4), next.tokenIds());
            assertEquals(prompt.length + 4, s.length());

            // a listener that throws an Error: the generator's thread survives, the generation fails with it as the cause
            SessionPool.Session e = pool.open(prompt);
            Error boom = new Error("listener error");
            Generator.Handle worse = gen.submit(e, greedy(50), (t, d) -> {
                throw boom;
            });
            PanscoreException failed = assertThrows(PanscoreException.class, () -> assertTimeoutPreemptively(HANG, worse::await));
            assertSame(boom, failed.getCause());
            assertTrue(failed.getMessage().contains("listener error"), failed.getMessage());
            Generation after = assertTimeoutPreemptively(HANG, () -> gen.generate(e, greedy(3)));
            assertArrayEquals(Arrays.copyOfRange(expected, 1, 4), after.tokenIds());

            // a session closed between two steps (here by the listener): the generation fails with a ClosedException
            SessionPool.Session c = pool.open(prompt);
            Generator.Handle closing = gen.submit(c, greedy(50), (t, d) -> pool.close(c));
            ClosedException closed = assertThrows(ClosedException.class, () -> assertTimeoutPreemptively(HANG, closing::await));
            assertEquals("session " + c.id() + " was closed while generating", closed.getMessage());

            // a generation cancelled by its listener: the session is free and holds what it generated
            SessionPool.Session k = pool.open(prompt);
            AtomicReference<Generator.Handle> self = new AtomicReference<>();
            CountDownLatch submitted = new CountDownLatch(1);
            int[] count = {0};
            self.set(gen.submit(k, greedy(50), (t, d) -> {
                await(submitted);
                if (++count[0] == 2) {
                    self.get().cancel();
                }
            }));
            submitted.countDown();
            Generation cancelled = assertTimeoutPreemptively(HANG, () -> self.get().await());
            assertEquals(Generation.FinishReason.CANCELLED, cancelled.finishReason());
            assertArrayEquals(Arrays.copyOf(expected, 2), cancelled.tokenIds());
            Generation rest = assertTimeoutPreemptively(HANG, () -> gen.generate(k, greedy(2)));
            assertArrayEquals(Arrays.copyOfRange(expected, 2, 4), rest.tokenIds());
        }
    }

    @Test
    void whenTwoGenerationsFillTheKvBudgetTheNewestFailsFirst() {
        Model model = Stories.MODEL;
        int[] a = model.tokenize("Once upon a time", true, false);
        int[] b = model.tokenize("The sun was hot.", true, false);
        try (SessionPool pool = pool(model, 64, 2); Generator gen = new Generator(pool)) {
            SessionPool.Session sa = pool.open(a);
            SessionPool.Session sb = pool.open(b);
            CountDownLatch bSubmitted = new CountDownLatch(1);
            Generator.Handle ha = gen.submit(sa, greedy(200), (t, d) -> await(bSubmitted));
            Generator.Handle hb = gen.submit(sb, greedy(200), null);
            bSubmitted.countDown();
            // both generate one token per step until the 64 cells are full: a step that needs 2 more
            // cells fails the newest (b); a, alone, goes on until 1 more does not fit either
            CapacityException eb = assertThrows(CapacityException.class, () -> assertTimeoutPreemptively(HANG, hb::await));
            assertTrue(eb.getMessage().contains("; 2 more would not fit the KV cache of 64"), eb.getMessage());
            CapacityException ea = assertThrows(CapacityException.class, () -> assertTimeoutPreemptively(HANG, ha::await));
            assertTrue(ea.getMessage().contains("the open sessions hold 64 tokens; 1 more would not fit the KV cache of 64"), ea.getMessage());
            assertEquals(64, pool.usedTokens());
        }
    }

    @Test
    void batchedStepsGiveEachGenerationItsOwnTopAlternatives() {
        Model model = Stories.MODEL;
        String[] starts = {"Once upon a time", "Tom had a red car."};
        GenerateOptions o = greedy(8).withTopK(3);
        List<Generation> alone = new ArrayList<>();
        try (SessionPool pool = pool(model, 512, 4); Generator gen = new Generator(pool)) {
            for (String s : starts) {
                alone.add(gen.generate(pool.open(model.tokenize(s, true, false)), o));
            }
            CountDownLatch second = new CountDownLatch(1);
            Generator.Handle h0 = gen.submit(pool.open(model.tokenize(starts[0], true, false)), o, (t, d) -> await(second));
            Generator.Handle h1 = gen.submit(pool.open(model.tokenize(starts[1], true, false)), o, null);
            second.countDown();
            List<Generation> together = List.of(h0.await(), h1.await());
            for (int g = 0; g < 2; g++) {
                assertArrayEquals(alone.get(g).tokenIds(), together.get(g).tokenIds(), "generation " + g);
                for (int i = 0; i < 8; i++) {
                    GeneratedToken x = alone.get(g).tokens().get(i);
                    GeneratedToken y = together.get(g).tokens().get(i);
                    assertArrayEquals(x.topIds(), y.topIds(), "generation " + g + " token " + i);
                    // greedy: the best alternative is the token itself, with its log-prob; stories260K never ends a generation
                    assertEquals(3, y.topIds().length);
                    assertEquals(y.id(), y.topIds()[0], "generation " + g + " token " + i);
                    assertEquals(y.logprob(), y.topLogprobs()[0], 1e-6, "generation " + g + " token " + i);
                    assertEquals(false, y.endOfGeneration());
                    for (int j = 0; j < 3; j++) {
                        assertEquals(x.topLogprobs()[j], y.topLogprobs()[j], DECODE_SHAPE_TOLERANCE, "generation " + g + " token " + i + " alternative " + j);
                    }
                }
            }
            double apart = 0;
            for (int i = 0; i < 8; i++) {
                for (int j = 0; j < 3; j++) {
                    apart = Math.max(apart, Math.abs(alone.get(0).tokens().get(i).topLogprobs()[j] - alone.get(1).tokens().get(i).topLogprobs()[j]));
                }
            }
            assertTrue(apart > 0.05, "the two generations' alternatives differ, so a mix-up would show: " + apart);
        }
    }

    @Test
    void stopStringsAtTheFirstCharacterAndTheEarliestOfTwoAtOnePlace() {
        Model model = Stories.MODEL;
        int[] prompt = model.tokenize("Once upon a time, there was a little girl named Lily.", true, false);
        try (SessionPool pool = pool(model, 256, 4); Generator gen = new Generator(pool)) {
            Generation free = gen.generate(pool.open(prompt), greedy(20));
            String text = free.text();
            String first = model.tokenText(free.tokenIds()[0]);
            assertTrue(first.length() >= 2 && first.startsWith(" ") && text.startsWith(first), first + " / " + text); // " She loved to play ..."
            String two1 = first.substring(0, 2);
            // a stop string that is the text's first character: nothing is generated but that token
            Generation atZero = gen.generate(pool.open(prompt), greedy(20).withStop(List.of(" ")));
            assertEquals(Generation.FinishReason.STOP_STRING, atZero.finishReason());
            assertEquals("", atZero.text());
            assertEquals(1, atZero.tokens().size());
            // two stop strings found at the same place in one token: the first listed wins
            Generation two = gen.generate(pool.open(prompt), greedy(20).withStop(List.of(two1, " ")));
            assertEquals(two1, two.stopString());
            assertEquals(1, two.tokens().size());
            Generation other = gen.generate(pool.open(prompt), greedy(20).withStop(List.of(" ", two1)));
            assertEquals(" ", other.stopString());
        }
    }

    @Test
    void textHeldBackForAStopStringIsDeliveredWhenTheContextFills() {
        Model model = Stories.MODEL;
        int[] prompt = model.tokenize("Once upon a time", true, false);
        try (SessionPool pool = pool(model, 32, 2); Generator gen = new Generator(pool)) {
            SessionPool.Session s = pool.open(prompt);
            Generation free = gen.generate(s, greedy(100));
            assertEquals(Generation.FinishReason.CONTEXT_FULL, free.finishReason());
            pool.close(s);
            String text = free.text();
            // a stop string that starts with the text's last character but never occurs: that
            // character is held back at the last token, and must still be delivered
            String stop = text.substring(text.length() - 1) + "\u0001";
            List<String> deltas = new ArrayList<>();
            Generation held = gen.submit(pool.open(prompt), greedy(100).withStop(List.of(stop)), (t, d) -> deltas.add(d)).await();
            assertEquals(Generation.FinishReason.CONTEXT_FULL, held.finishReason());
            assertEquals(text, held.text());
            assertEquals(text, String.join("", deltas));
            assertEquals(held.tokens().size(), deltas.size());
        }
    }

    /** The text of {@code bytes} as the JDK decodes it, and whether it ends inside a multi-byte character. */
    private static boolean endsInsideACharacter(byte[] bytes) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        d.decode(in, CharBuffer.allocate(bytes.length * 2 + 4), false); // not the end of input: an incomplete tail stays unread
        return in.hasRemaining();
    }

    @Test
    void aGenerationEndingInsideAMultiByteCharacterEndsWithAReplacementCharacter() {
        // the random-weight fixture at temperature 100 draws nearly uniformly from its 2,051
        // byte-level tokens (UTF-8 lead and continuation bytes among them); the seed is fixed
        Model model = TestModels.tiny();
        int[] prompt = model.tokenize("Hello", true, false);
        SamplingOptions nearlyUniform = new SamplingOptions(100, 1, 0, 0, SEED);
        try (SessionPool pool = pool(model, 256, 4); Generator gen = new Generator(pool)) {
            Generation free = gen.generate(pool.open(prompt), new GenerateOptions(80, nearlyUniform, List.of(), 0, false));
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            int cut = -1;
            for (int i = 0; i < free.tokens().size() && cut < 0; i++) {
                bytes.writeBytes(model.pieceBytes(free.tokenIds()[i], false));
                if (endsInsideACharacter(bytes.toByteArray())) {
                    cut = i + 1;
                }
            }
            assertTrue(cut > 0, "the draw should end inside a character somewhere");
            String expected = new String(bytes.toByteArray(), StandardCharsets.UTF_8);
            assertTrue(expected.endsWith("\ufffd"), expected);
            // stopped there by maxTokens: the incomplete character becomes U+FFFD, and is delivered
            List<String> deltas = new ArrayList<>();
            Generation g = gen.submit(pool.open(prompt), new GenerateOptions(cut, nearlyUniform, List.of(), 0, false), (t, d) -> deltas.add(d)).await();
            assertEquals(Generation.FinishReason.MAX_TOKENS, g.finishReason());
            assertEquals(expected, g.text());
            assertEquals(expected, String.join("", deltas));
            // cancelled there: the same text
            AtomicReference<Generator.Handle> self = new AtomicReference<>();
            CountDownLatch submitted = new CountDownLatch(1);
            int[] seen = {0};
            int stopAt = cut;
            self.set(gen.submit(pool.open(prompt), new GenerateOptions(80, nearlyUniform, List.of(), 0, false), (t, d) -> {
                await(submitted);
                if (++seen[0] == stopAt) {
                    self.get().cancel();
                }
            }));
            submitted.countDown();
            Generation c = assertTimeoutPreemptively(HANG, () -> self.get().await());
            assertEquals(Generation.FinishReason.CANCELLED, c.finishReason());
            assertEquals(expected, c.text());
        }
    }

    private static final long SEED = 3;

    @Test
    void closingAnInterruptedCallerKeepsItsInterrupt() {
        Model model = TestModels.tiny();
        try (SessionPool pool = pool(model, 64, 2)) {
            Generator gen = new Generator(pool);
            Thread.currentThread().interrupt();
            gen.close();
            assertTrue(Thread.interrupted(), "close() restores the caller's interrupt flag");
            assertThrows(ClosedException.class, () -> gen.submit(pool.open(new int[] {1}), greedy(1), null));
        }
    }

    @Test
    void utf8LeadBytesAtTheirBoundariesAndWhatIsHeldBackForAStopString() {
        // the first byte value of each lead class (UTF-8, RFC 3629): 0xC0.. two bytes, 0xE0.. three, 0xF0.. four
        assertEquals(0, Generator.completeLength(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98}), "3 of the 4 bytes of U+1F600");
        assertEquals(4, Generator.completeLength(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98, (byte) 0x80}));
        assertEquals(1, Generator.completeLength(new byte[] {'a', (byte) 0xE0, (byte) 0xA4}), "2 of the 3 bytes of U+0900");
        assertEquals(1, Generator.completeLength(new byte[] {'a', (byte) 0xC0}), "a lone two-byte lead");
        assertEquals(3, Generator.completeLength(new byte[] {'a', (byte) 0xDF, (byte) 0xBF}), "a and U+07FF");
        assertEquals(3, Generator.completeLength(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80}), "no lead byte in the last 3: as they are");
        assertEquals(4, Generator.completeLength(new byte[] {'a', (byte) 0x80, (byte) 0x80, (byte) 0x80}));
        assertEquals(0, Generator.completeLength(new byte[0]));
        // a stop string that already ends the text is a hit, not a start: only proper prefixes are held back
        assertEquals(0, Generator.heldBack("zab", List.of("wxyzq", "ab")));
        assertEquals(1, Generator.heldBack("zab", List.of("wxyzq", "bc")));
        assertEquals(3, Generator.heldBack("zab", List.of("abcd", "zabq")));
        assertEquals(0, Generator.heldBack("", List.of("ab")));
        assertEquals(0, Generator.heldBack("ab", List.of()));
    }
}
