package io.panscore.api.prm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
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

    @Test
    void logRatiosAreTheDifferenceOfReferenceLogprobs() {
        PrmScorer scorer = new PrmScorer(policyEngine, referenceEngine, PrmOptions.defaults().withKeepLogRatios(true));
        List<PrmScorer.Outcome> out = scorer.scoreAll(TRAJECTORIES);
        TrajectoryEncoder enc = new TrajectoryEncoder(policy, PrmOptions.defaults().template());
        int vocab = policy.info().vocabSize();
        for (int j = 0; j < TRAJECTORIES.size(); j++) {
            PrmScore s = ((PrmScorer.Scored) out.get(j)).score();
            TrajectoryEncoder.Encoded e = enc.encode(TRAJECTORIES.get(j));
            Sequence seq = Sequence.from(e.tokens(), e.promptLength());
            float[] lp = policyEngine.logits(List.of(seq));
            float[] lr = referenceEngine.logits(List.of(seq));
            double sum = 0;
            for (int i = 0; i < s.tokenCount(); i++) {
                int y = e.tokens()[e.promptLength() + i];
                double expected = ReferenceKernel.stats(lp, i * vocab, vocab, y, 1, 0).logprob()
                        - ReferenceKernel.stats(lr, i * vocab, vocab, y, 1, 0).logprob();
                assertEquals(expected, s.logRatios()[i], 2e-4, s.id() + " token " + i);
                sum += expected;
            }
            assertEquals(0.001 * sum, s.responseReward(), 2e-6, s.id()); // the default beta, the released code's
            assertEquals(s.tokenCount(), s.steps().stream().mapToInt(StepReward::tokenCount).sum());
        }
        PrmScore d = ((PrmScorer.Scored) out.get(3)).score();
        assertEquals(3, d.steps().size(), "explicit steps are used as given");
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
        PrmScore s = ((PrmScorer.Scored) new PrmScorer(policyEngine, null, PrmOptions.defaults().withBeta(1).withKeepLogRatios(true))
                .scoreAll(TRAJECTORIES.subList(0, 1)).getFirst()).score();
        TrajectoryEncoder.Encoded e = new TrajectoryEncoder(policy, PrmOptions.defaults().template()).encode(TRAJECTORIES.getFirst());
        TokenScores t = policyEngine.score(Sequence.from(e.tokens(), e.promptLength()));
        assertEquals(t.totalLogprob(), s.responseReward(), 1e-4);
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
