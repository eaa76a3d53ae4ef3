package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.CapacityException;
import io.panscore.kernel.ClosedException;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.Fixtures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GlimpRouterTest {

    static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.tiny());
    }

    @AfterAll
    static void free() {
        model.close();
    }

    private static ReferenceKernel.Stats reference(int[] context) {
        try (Engine e = model.newEngine(EngineOptions.defaults().withContextSize(2048))) {
            int[] withNext = Arrays.copyOf(context, context.length + 1);
            float[] logits = e.logits(List.of(new Sequence(withNext, context.length, context.length + 1)));
            return ReferenceKernel.stats(logits, 0, model.info().vocabSize(), 0, 1.0, GlimpRouter.TOP_K);
        }
    }

    @Test
    void decisionsFollowTheReferenceEntropyInBothModes() {
        String prompt = "<|im_start|>user\nWhat is 12 times 12?<|im_end|>\n<|im_start|>assistant\n";
        for (EntropyMode mode : EntropyMode.values()) {
            try (GlimpRouter router = GlimpRouter.builder(model).entropyMode(mode).threshold(2.5).contextSize(1024).build();
                    GlimpRouter.RouterSession s = router.open(prompt)) {
                List<Integer> context = new ArrayList<>();
                for (int t : model.tokenize(prompt, true, true)) {
                    context.add(t);
                }
                for (String step : List.of("Twelve twelves.", "That is 144.")) {
                    Decision d = router.glimpse(s);
                    ReferenceKernel.Stats ref = reference(context.stream().mapToInt(Integer::intValue).toArray());
                    double topK = io.panscore.api.Independent.renormalisedEntropy(ref.topLogprobs()); // float64, not the code under test
                    assertEquals(ref.entropy(), d.exactEntropy(), 1e-4);
                    assertEquals(topK, d.topKEntropy(), 1e-4);
                    assertEquals(mode == EntropyMode.EXACT ? d.exactEntropy() : d.topKEntropy(), d.entropy());
                    assertEquals(d.entropy() >= 2.5, d.large());
                    assertEquals(ref.argmax(), d.token());
                    assertEquals(ref.argmaxLogprob(), d.logprob(), 1e-4);
                    assertEquals(model.tokenText(ref.argmax()), d.tokenText());
                    router.append(s, step);
                    for (int t : model.tokenize(step + "\n\n", false, false)) {
                        context.add(t);
                    }
                }
            }
        }
    }

    /** 32 threads x 200 glimpses at once give the same decisions as the same work done one at a time. */
    @Test
    void concurrentGlimpsesEqualSequentialOnes() throws Exception {
        int threads = 32;
        int glimpses = 200;
        List<List<Decision>> sequential = new ArrayList<>();
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(threads).contextSize(16384).maxWait(Duration.ZERO).build()) {
            for (int t = 0; t < threads; t++) {
                sequential.add(trace(router, t, glimpses));
            }
        }
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(threads).contextSize(16384).maxWait(Duration.ofMillis(1)).build();
                ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<List<Decision>>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                futures.add(pool.submit(() -> trace(router, id, glimpses)));
            }
            for (int t = 0; t < threads; t++) {
                List<Decision> got = futures.get(t).get();
                List<Decision> want = sequential.get(t);
                for (int i = 0; i < glimpses; i++) {
                    assertEquals(want.get(i).token(), got.get(i).token(), "thread " + t + " glimpse " + i);
                    assertEquals(want.get(i).exactEntropy(), got.get(i).exactEntropy(), 1e-4, "thread " + t + " glimpse " + i);
                    assertEquals(want.get(i).route(), got.get(i).route(), "thread " + t + " glimpse " + i);
                }
            }
            assertEquals(0, router.openSessions());
        }
    }

    /** One thread's work: a session, 200 glimpses, a step appended after every 10th. */
    private static List<Decision> trace(GlimpRouter router, int id, int glimpses) {
        List<Decision> out = new ArrayList<>();
        try (GlimpRouter.RouterSession s = router.open("Problem " + id + ": add " + id + " and " + (id * 7) + ".")) {
            for (int i = 0; i < glimpses; i++) {
                out.add(router.glimpse(s));
                if (i % 10 == 9) {
                    router.append(s, "Step " + i + " of " + id + ".");
                }
            }
        }
        return out;
    }

    @Test
    void capacityClosedSessionsAndCalibration() {
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(2).contextSize(256).build()) {
            GlimpRouter.RouterSession a = router.open("first");
            GlimpRouter.RouterSession b = router.open("second");
            assertThrows(CapacityException.class, () -> router.open("third"));
            b.close();
            assertThrows(ClosedException.class, () -> router.glimpse(b));
            GlimpRouter.RouterSession c = router.open("third");
            assertThrows(CapacityException.class, () -> router.fork(a));
            c.close();
            GlimpRouter.RouterSession f = router.fork(a);
            assertThrows(CapacityException.class, () -> router.open("fourth"));
            assertEquals(router.glimpse(a).token(), router.glimpse(f).token());
            f.close();
            a.close();
            Calibration cal = router.calibrate(List.of("one", "two words", "three little words", "and four words here", "five"), 0.4);
            assertEquals(0.4, cal.largeFraction(), 1e-9);
            assertTrue(cal.toString().contains("p50"), cal.toString());
        }
        GlimpRouter closed = GlimpRouter.builder(model).build();
        closed.close();
        closed.close();
        assertThrows(ClosedException.class, () -> closed.open("x"));
    }

    @Test
    void calibrationPicksAQuantile() {
        Calibration c = Calibration.of(new double[] {5, 1, 4, 2, 3}, 0.4);
        assertEquals(4, c.threshold(), 0);
        assertEquals(0.4, c.largeFraction(), 1e-12);
        assertEquals(1.0, Calibration.of(new double[] {5, 1, 4, 2, 3}, 1.0).threshold(), 0);
        assertEquals(0.0, Calibration.of(new double[] {5, 1, 4, 2, 3}, 0.0).largeFraction(), 0);
    }
}
