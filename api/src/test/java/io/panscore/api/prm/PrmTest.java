package io.panscore.api.prm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.Independent;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrmTest {

    /** The kernel's tolerance (docs/TESTING.md). */
    private static final double TOL = 2.4e-6;

    static Model policy;
    static Model reference;
    static Engine policyEngine;
    static Engine referenceEngine;

    static final List<Trajectory> TRAJECTORIES = List.of(
            Trajectory.of("a", "p1", "", "Add 17 and 25.", "17 + 25: first 17 + 20 = 37.\n\nThen 37 + 5 = 42.\n\nThe answer is 42."),
            Trajectory.of("b", "p1", "", "Add 17 and 25.", "It is 32.\n\nNo wait, 42."),
            Trajectory.of("c", "p2", "", "Is 91 prime?", "91 = 7 × 13.\n\nSo it is not prime."),
            new Trajectory("d", "p2", "", "Is 91 prime?", null, "91 is odd. It is 7 × 13. Not prime.",
                    List.of("91 is odd. ", "It is 7 × 13. ", "Not prime.")));

    @BeforeAll
    static void open() {
        policy = Model.load(Fixtures.tiny());
        reference = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)));
        policyEngine = policy.newEngine(EngineOptions.defaults().withContextSize(512));
        referenceEngine = reference.newEngine(EngineOptions.defaults().withContextSize(512));
    }

    @AfterAll
    static void close() {
        policyEngine.close();
        referenceEngine.close();
        policy.close();
        reference.close();
    }

    /**
     * ℓ_i, r^t and q^t against the float64 reference on tokens built in the test (template "none"
     * and β passed explicitly), steps mapped to tokens independently (prefix detokenization).
     */
    @Test
    void logRatiosAreTheDifferenceOfReferenceLogprobs() {
        double beta = 0.05;
        PrmScorer scorer = new PrmScorer(policyEngine, referenceEngine,
                PrmOptions.defaults().withBeta(beta).withTemplate(PromptTemplate.none()).withDelimiter("\n\n").withKeepLogRatios(true));
        List<PrmScorer.Outcome> out = scorer.scoreAll(TRAJECTORIES);
        for (int j = 0; j < TRAJECTORIES.size(); j++) {
            Trajectory t = TRAJECTORIES.get(j);
            PrmScore s = ((PrmScorer.Scored) out.get(j)).score();
            Independent.Tokens tok = Independent.tokensNoTemplate(policy, t);
            ReferenceKernel.Stats[] lp = Independent.reference(policyEngine, tok.sequence(), 0);
            ReferenceKernel.Stats[] lr = Independent.reference(referenceEngine, tok.sequence(), 0);
            int[] step = t.steps() != null ? Independent.tokenStepsAt(policy, tok.response(), explicitEnds(t.steps()))
                    : Independent.tokenSteps(policy, tok.response(), t.response(), "\n\n");
            assertEquals(lp.length, s.tokenCount(), t.id());
            double[] r = new double[step[step.length - 1] + 1];
            int[] count = new int[r.length];
            for (int i = 0; i < s.tokenCount(); i++) {
                double expected = lp[i].logprob() - lr[i].logprob();
                assertEquals(expected, s.logRatios()[i], 2 * TOL * (1 + Math.abs(lp[i].logprob())), t.id() + " token " + i);
                r[step[i]] += beta * expected;
                count[step[i]]++;
            }
            double q = 0;
            int k = 0;
            for (int st = 0; st < r.length; st++) {
                if (count[st] == 0) {
                    continue;
                }
                q += r[st];
                StepReward got = s.steps().get(k++);
                assertEquals(st, got.index(), t.id());
                assertEquals(count[st], got.tokenCount(), t.id() + " step " + st + " tokens");
                assertEquals(r[st], got.reward(), 1e-5, t.id() + " step " + st + " r");
                assertEquals(q, got.value(), 1e-5, t.id() + " step " + st + " q");
            }
            assertEquals(k, s.steps().size(), t.id());
            assertEquals(q, s.responseReward(), 1e-5, t.id());
            assertEquals(beta, s.beta(), 0);
        }
        assertEquals(3, ((PrmScorer.Scored) out.get(3)).score().steps().size(), "explicit steps are used as given");
        assertEquals(3, ((PrmScorer.Scored) out.get(0)).score().steps().size(), "three \\n\\n-separated steps");
    }

    private static int[] explicitEnds(List<String> steps) {
        int[] ends = new int[steps.size()];
        int at = 0;
        for (int i = 0; i < ends.length; i++) {
            at += steps.get(i).getBytes(StandardCharsets.UTF_8).length;
            ends[i] = at;
        }
        return ends;
    }

    @Test
    void sameModelAsBothGivesZeroRewards() {
        try (Engine second = policy.newEngine(EngineOptions.defaults().withContextSize(512))) {
            for (PrmScorer.Outcome o : new PrmScorer(policyEngine, second, PrmOptions.defaults()).scoreAll(TRAJECTORIES)) {
                PrmScore s = ((PrmScorer.Scored) o).score();
                for (StepReward r : s.steps()) {
                    assertEquals(0.0, r.reward(), 0.0, s.id());
                    assertEquals(0.0, r.value(), 0.0, s.id());
                }
            }
        }
    }

    @Test
    void noReferenceUsesThePolicyLogprobs() {
        PrmScore s = ((PrmScorer.Scored) new PrmScorer(policyEngine, null,
                PrmOptions.defaults().withBeta(0.5).withTemplate(PromptTemplate.none()).withKeepLogRatios(true))
                .scoreAll(TRAJECTORIES.subList(0, 1)).getFirst()).score();
        double sum = 0;
        for (ReferenceKernel.Stats x : Independent.reference(policyEngine, Independent.tokensNoTemplate(policy, TRAJECTORIES.getFirst()).sequence(), 0)) {
            sum += x.logprob();
        }
        assertEquals(0.5 * sum, s.responseReward(), 1e-5);
        assertTrue(s.responseReward() < 0);
    }

    @Test
    void aggregationsOnAHandComputedExample() {
        // r = [0.5, -1.0, 2.0]; q = [0.5, -0.5, 1.5]
        List<StepReward> steps = List.of(new StepReward(0, 3, 0.5, 0.5, 0, 0, 0, 0), new StepReward(1, 2, -1.0, -0.5, 0, 0, 0, 0),
                new StepReward(2, 4, 2.0, 1.5, 0, 0, 0, 0));
        PrmScore s = new PrmScore("x", "p", "", 9, 0.05, null, steps);
        assertEquals(-1.0, s.aggregate(Aggregation.MIN, Aggregation.Over.R), 1e-12);
        assertEquals(0.5, s.aggregate(Aggregation.MEAN, Aggregation.Over.R), 1e-12);
        assertEquals(1.5, s.aggregate(Aggregation.SUM, Aggregation.Over.R), 1e-12);
        assertEquals(2.0, s.aggregate(Aggregation.LAST, Aggregation.Over.R), 1e-12);
        assertEquals(-0.5, s.aggregate(Aggregation.MIN, Aggregation.Over.Q), 1e-12);
        assertEquals(0.5, s.aggregate(Aggregation.MEAN, Aggregation.Over.Q), 1e-12);
        assertEquals(1.5, s.aggregate(Aggregation.SUM, Aggregation.Over.Q), 1e-12);
        assertEquals(1.5, s.aggregate(Aggregation.LAST, Aggregation.Over.Q), 1e-12);
        assertEquals(1.5, s.responseReward(), 1e-12);
        assertEquals(1, s.firstStepBelow(0));
        assertTrue(Selection.filter(s, 0, Selection.FilterMode.DROP).isEmpty());
        Selection.Kept kept = Selection.filter(s, 0, Selection.FilterMode.TRUNCATE).orElseThrow();
        assertEquals(1, kept.keptSteps());
        assertEquals("One.\n\n", Selection.truncate("One.\n\nTwo.\n\nThree.", "\n\n", 1));
        PrmScore other = new PrmScore("y", "p", "", 9, 0.05, null, List.of(new StepReward(0, 9, -0.2, -0.2, 0, 0, 0, 0)));
        assertEquals("y", Selection.bestOfN(List.of(s, other), Aggregation.MIN, Aggregation.Over.R).getFirst().id());
        assertEquals("x", Selection.bestOfN(List.of(s, other), Aggregation.LAST, Aggregation.Over.Q).getFirst().id());
    }

    @Test
    void mismatchedVocabulariesAreRefused(@TempDir Path dir) throws IOException {
        try (Model big = Model.load(Fixtures.qwen2()); Engine e = big.newEngine(EngineOptions.defaults().withContextSize(64))) {
            VocabularyMismatchException x = assertThrows(VocabularyMismatchException.class, () -> new PrmScorer(policyEngine, e, PrmOptions.defaults()));
            assertTrue(x.getMessage().contains("2051 tokens") && x.getMessage().contains("151936"), x.getMessage());
        }
        // same size, one token's text changed: patch "<|im_start|>" in a copy of the tiny model
        byte[] bytes = Files.readAllBytes(Fixtures.tiny());
        byte[] from = "<|im_start|>".getBytes(StandardCharsets.UTF_8);
        byte[] to = "<|im_stArt|>".getBytes(StandardCharsets.UTF_8);
        int at = indexOf(bytes, from);
        System.arraycopy(to, 0, bytes, at, to.length);
        Path patched = Files.write(dir.resolve("patched.gguf"), bytes);
        try (Model m = Model.load(patched); Engine e = m.newEngine(EngineOptions.defaults().withContextSize(64))) {
            VocabularyMismatchException x = assertThrows(VocabularyMismatchException.class, () -> new PrmScorer(policyEngine, e, PrmOptions.defaults()));
            assertTrue(x.getMessage().contains("<|im_start|>") && x.getMessage().contains("<|im_stArt|>"), x.getMessage());
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int k = 0; k < needle.length; k++) {
                if (hay[i + k] != needle[k]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalStateException("not found");
    }
}
