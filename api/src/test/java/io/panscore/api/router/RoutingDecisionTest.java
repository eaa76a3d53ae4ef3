package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.Independent;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.Fixtures;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Both routes reached, with τ chosen from the float64 reference entropy of the same context: just
 * above it the step stays SMALL, just below it goes LARGE, in both entropy modes (passed explicitly,
 * never relying on the router's default mode or threshold).
 */
class RoutingDecisionTest {

    static Model model;
    static Engine scratch;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.tiny());
        scratch = model.newEngine(EngineOptions.defaults().withContextSize(1024));
    }

    @AfterAll
    static void free() {
        scratch.close();
        model.close();
    }

    /** The entropy a mode compares with τ, from the reference: full vocabulary, or the top 20 renormalised. */
    static double referenceEntropy(int[] context, EntropyMode mode) {
        ReferenceKernel.Stats ref = Independent.next(scratch, context, GlimpRouter.TOP_K);
        return mode == EntropyMode.EXACT ? ref.entropy() : Independent.renormalisedEntropy(ref.topLogprobs());
    }

    @Test
    void smallJustAboveTheEntropyLargeJustBelow() {
        String prompt = "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n";
        int[] context = model.tokenize(prompt, true, true);
        for (EntropyMode mode : EntropyMode.values()) {
            double h = referenceEntropy(context, mode);
            assertTrue(h > 0.05, mode + " entropy " + h);
            for (double tau : new double[] {h + 0.01, h - 0.01}) {
                Decision.Route want = tau > h ? Decision.Route.SMALL : Decision.Route.LARGE;
                try (GlimpRouter router = GlimpRouter.builder(model).entropyMode(mode).threshold(tau).delimiter("\n\n").contextSize(512).build();
                        GlimpRouter.RouterSession s = router.open(prompt)) {
                    Decision d = router.glimpse(s);
                    assertEquals(want, d.route(), mode + " tau " + tau + " entropy " + h);
                    assertEquals(want == Decision.Route.LARGE, d.large());
                    assertEquals(h, d.entropy(), 1e-4, mode.toString());
                    assertEquals(tau, d.threshold(), 0);
                    assertEquals(mode, d.mode());
                }
            }
        }
    }

    /** After appended steps (each followed by the delimiter), decisions follow the reference on the grown context. */
    @Test
    void decisionsAfterAppendsFollowTheGrownContext() {
        String prompt = "Count: ";
        int[] context = model.tokenize(prompt, true, true);
        String delimiter = " ### ";
        String[] steps = {"one", "two, three", "four", "five and six"};
        int small = 0;
        int large = 0;
        for (EntropyMode mode : EntropyMode.values()) {
            // the reference entropy before each step; τ in the middle of the widest gap between them, so the trace has both routes
            double[] hs = new double[steps.length];
            int[] c = context;
            for (int i = 0; i < steps.length; i++) {
                hs[i] = referenceEntropy(c, mode);
                c = concat(c, model.tokenize(steps[i] + delimiter, false, false));
            }
            double[] sorted = hs.clone();
            Arrays.sort(sorted);
            int gap = 0;
            for (int i = 1; i < sorted.length - 1; i++) {
                gap = sorted[i + 1] - sorted[i] > sorted[gap + 1] - sorted[gap] ? i : gap;
            }
            assertTrue(sorted[gap + 1] - sorted[gap] > 2e-3, mode + ": the fixture must give different entropies " + Arrays.toString(sorted));
            double tau = (sorted[gap] + sorted[gap + 1]) / 2;
            try (GlimpRouter router = GlimpRouter.builder(model).entropyMode(mode).threshold(tau).delimiter(delimiter).contextSize(512).build();
                    GlimpRouter.RouterSession s = router.open(prompt)) {
                int[] ctx = context;
                for (String step : steps) {
                    Decision d = router.glimpse(s);
                    double h = referenceEntropy(ctx, mode);
                    assertEquals(h, d.entropy(), 1e-4, mode + " at " + ctx.length + " tokens");
                    assertEquals(h >= tau ? Decision.Route.LARGE : Decision.Route.SMALL, d.route());
                    small += d.large() ? 0 : 1;
                    large += d.large() ? 1 : 0;
                    router.append(s, step);
                    ctx = concat(ctx, model.tokenize(step + delimiter, false, false));
                    assertEquals(ctx.length, s.length(), "the step and the delimiter were appended");
                }
            }
        }
        assertTrue(small > 0 && large > 0, small + " small, " + large + " large");
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
