package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.Independent;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.TokenScores;
import io.panscore.kernel.fixture.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * RSR's parts one by one against expectations computed in the test: the default r_max, per-step
 * statistics (clipped ranks, token counts per step) and the dataset ratio, on tokens built here
 * and statistics from the float64 {@link ReferenceKernel}. The template is passed explicitly
 * ("none"), so the expectations do not depend on chat-template rendering.
 */
class RsrPartsTest {

    /** Kernel error is ~2.4e-7 x (1 + |value|) (docs/TESTING.md); sums of ~100 terms stay well inside this. */
    private static final double TOL = 2e-5;

    static Model model;
    static Engine engine;
    static List<Trajectory> sample;

    @BeforeAll
    static void open() throws Exception {
        model = Model.load(Fixtures.tiny());
        engine = model.newEngine(EngineOptions.defaults().withContextSize(1024));
        sample = SampleData.trajectories();
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    private static TrajectoryScore scoreOne(TrajectoryOptions o, Trajectory t) {
        return ((TrajectoryScorer.Scored) new TrajectoryScorer(engine, o.withChunkSize(1)).scoreAll(List.of(t)).getFirst()).score();
    }

    /** The default r_max is the paper's 100: RSR with the defaults equals the reference clipped at 100 (and not at 50). */
    @Test
    void defaultRMaxIsOneHundred() {
        TrajectoryOptions defaults = TrajectoryOptions.defaults().withTemplate(PromptTemplate.none());
        int differs = 0;
        for (Trajectory t : sample) {
            Independent.Tokens tok = Independent.tokensNoTemplate(model, t);
            ReferenceKernel.Stats[] ref = Independent.reference(engine, tok.sequence(), 0);
            double s = 0;
            double r100 = 0;
            double r50 = 0;
            for (ReferenceKernel.Stats x : ref) {
                s += -x.logprob();
                r100 += Math.min(x.rank(), 100);
                r50 += Math.min(x.rank(), 50);
            }
            TrajectoryScore got = scoreOne(defaults, t);
            assertEquals(ref.length, got.tokenCount(), t.id());
            assertEquals(r100 / ref.length, got.meanClippedRank(), 1e-12, t.id());
            assertEquals(r100 / s, got.rsr(), TOL * got.rsr(), t.id());
            differs += r100 != r50 ? 1 : 0;
        }
        assertTrue(differs >= 5, "the sample must have ranks in (50, 100] or above, or r_max could not be told apart: " + differs);
    }

    /** Per-step statistics: which tokens form each step, their clipped ranks, entropies and log-probs. */
    @Test
    void perStepStatisticsEqualTheReferenceStepByStep() {
        int rMax = 7;
        TrajectoryOptions o = TrajectoryOptions.defaults().withTemplate(PromptTemplate.none()).withRMax(rMax).withStepDelimiter("\n\n");
        int multiStep = 0;
        int clipped = 0;
        for (Trajectory t : sample) {
            Independent.Tokens tok = Independent.tokensNoTemplate(model, t);
            ReferenceKernel.Stats[] ref = Independent.reference(engine, tok.sequence(), 0);
            int[] step = Independent.tokenSteps(model, tok.response(), t.response(), "\n\n");
            TrajectoryScore got = scoreOne(o, t);
            Map<Integer, List<Integer>> tokensOf = new TreeMap<>();
            for (int i = 0; i < step.length; i++) {
                tokensOf.computeIfAbsent(step[i], k -> new ArrayList<>()).add(i);
            }
            assertEquals(tokensOf.size(), got.steps().size(), t.id() + " steps");
            int k = 0;
            for (Map.Entry<Integer, List<Integer>> e : tokensOf.entrySet()) {
                StepStats st = got.steps().get(k++);
                String where = t.id() + " step " + e.getKey();
                List<Integer> idx = e.getValue();
                assertEquals((int) e.getKey(), st.index(), where);
                assertEquals(idx.size(), st.tokenCount(), where + " tokens");
                double sumH = 0;
                double maxH = Double.NEGATIVE_INFINITY;
                double minLp = Double.POSITIVE_INFINITY;
                double sumR = 0;
                double sumLp = 0;
                for (int i : idx) {
                    sumH += ref[i].entropy();
                    maxH = Math.max(maxH, ref[i].entropy());
                    minLp = Math.min(minLp, ref[i].logprob());
                    sumR += Math.min(ref[i].rank(), rMax);
                    sumLp += ref[i].logprob();
                    clipped += ref[i].rank() > rMax ? 1 : 0;
                }
                assertEquals(sumR / idx.size(), st.meanClippedRank(), 1e-12, where + " mean clipped rank");
                assertEquals(sumH / idx.size(), st.meanEntropy(), TOL, where + " mean entropy");
                assertEquals(maxH, st.maxEntropy(), TOL, where + " max entropy");
                assertEquals(minLp, st.minLogprob(), TOL, where + " min logprob");
                assertEquals(sumLp, st.sumLogprob(), TOL * idx.size(), where + " sum logprob");
            }
            multiStep += tokensOf.size() > 1 ? 1 : 0;
        }
        assertTrue(multiStep >= 10 && clipped > 0, multiStep + " multi-step records, " + clipped + " clipped ranks");
    }

    /** A hand-made case: ranks 1, 3, 250, 40 with r_max 5 in two steps. */
    @Test
    void stepRanksAreClippedByHand() {
        TokenScores t = new TokenScores(1, new int[] {1, 2, 3, 4}, new float[] {-0.5f, -1f, -6f, -3f}, new float[] {1f, 2f, 3f, 4f},
                new int[] {1, 3, 250, 40}, new int[4], new float[4], 0, null, null);
        TrajectoryScore s = Rsr.score("x", "p", "t", t, 5, new int[] {0, 0, 1, 1}, false);
        assertEquals((1 + 3) / 2.0, s.steps().get(0).meanClippedRank(), 0);
        assertEquals((5 + 5) / 2.0, s.steps().get(1).meanClippedRank(), 0);
        assertEquals((1 + 3 + 5 + 5) / 4.0, s.meanClippedRank(), 0);
        assertEquals((1 + 3 + 5 + 5) / 10.5, s.rsr(), 1e-6);
        assertEquals(10.5 / 4, s.meanSurprisal(), 1e-6);
        assertEquals(2.5, s.meanEntropy(), 1e-6);
        assertEquals(Math.exp(10.5 / 4), s.perplexity(), 1e-5);
        assertEquals(4.0, s.steps().get(1).maxEntropy(), 0);
        assertEquals(-6.0, s.steps().get(1).minLogprob(), 0);
        assertEquals(-9.0, s.steps().get(1).sumLogprob(), 1e-6);
        assertEquals(2, s.steps().get(1).tokenCount());
    }

    /** SPEC §3: RSR_D = Σ r̄_j / Σ s̄_j — a ratio of per-trajectory means, not weighted by token counts. */
    @Test
    void datasetRsrIgnoresTokenCounts() {
        TrajectoryScore shortOne = new TrajectoryScore("a", "p", "t", 4, 2.0, 8.0, 4.0, 1, 1, null, List.of());
        TrajectoryScore longOne = new TrajectoryScore("b", "p", "t", 300, 6.0, 4.0, 0.66, 1, 1, null, List.of());
        assertEquals(12.0 / 8.0, Rsr.datasetRsr(List.of(shortOne, longOne)), 1e-12);
        assertNotEquals((4 * 8.0 + 300 * 4.0) / (4 * 2.0 + 300 * 6.0), Rsr.datasetRsr(List.of(shortOne, longOne)), 1e-3);
        // teachers ranked by it: u (1.0) before t (1.5) before v (2.0); ties by name
        TrajectoryScore u = new TrajectoryScore("c", "q", "u", 50, 3.0, 3.0, 1.0, 1, 1, null, List.of());
        TrajectoryScore v = new TrajectoryScore("d", "q", "v", 7, 1.0, 2.0, 2.0, 1, 1, null, List.of());
        List<DatasetSummary.TeacherRsr> ranking = DatasetSummary.teachers(List.of(shortOne, v, longOne, u));
        assertEquals(List.of("u", "t", "v"), ranking.stream().map(DatasetSummary.TeacherRsr::teacher).toList());
        assertEquals(List.of(1, 2, 3), ranking.stream().map(DatasetSummary.TeacherRsr::rank).toList());
        assertEquals(List.of(1, 2, 1), ranking.stream().map(DatasetSummary.TeacherRsr::trajectories).toList());
        assertEquals(1.5, ranking.get(1).rsr(), 1e-12);
        assertEquals(0.0, Rsr.datasetRsr(List.of(new TrajectoryScore("z", "p", "t", 1, 0.0, 0.0, 0.0, 1, 1, null, List.of()))), 0);
    }

    /** With a chat template the prompt's special tokens are tokens, not their text; the response's text is plain. */
    @Test
    void templatedPromptsParseSpecialTokens() {
        TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.named("chatml"));
        TrajectoryEncoder.Encoded e = enc.encode(Trajectory.of("a", "p", "t", "What is 2+2?", "4"));
        int imStart = model.tokenize("<|im_start|>", false, true)[0];
        int imEnd = model.tokenize("<|im_end|>", false, true)[0];
        assertEquals(1, model.tokenize("<|im_start|>", false, true).length, "<|im_start|> is one special token");
        assertTrue(model.tokenize("<|im_start|>", false, false).length > 1, "as plain text it is several tokens");
        int[] expected = model.tokenize("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n", true, true);
        assertArrayEquals(expected, Arrays.copyOf(e.tokens(), e.promptLength()));
        assertEquals(2, Arrays.stream(expected).filter(x -> x == imStart).count());
        assertEquals(1, Arrays.stream(expected).filter(x -> x == imEnd).count());
        // the response is never parsed for special tokens
        TrajectoryEncoder.Encoded r = enc.encode(Trajectory.of("b", "p", "t", "Q", "a <|im_start|> b"));
        assertArrayEquals(model.tokenize("a <|im_start|> b", false, false), r.responseTokens());
        assertTrue(Arrays.stream(r.responseTokens()).noneMatch(x -> x == imStart));
        // template none: the prompt is pre-rendered text (docs/PARITY.md), so its special-token texts are tokens
        TrajectoryEncoder none = new TrajectoryEncoder(model, PromptTemplate.none());
        TrajectoryEncoder.Encoded n = none.encode(Trajectory.of("c", "p", "t", "<|im_start|>x", "4"));
        assertArrayEquals(model.tokenize("<|im_start|>x", true, true), Arrays.copyOf(n.tokens(), n.promptLength()));
        assertEquals(imStart, n.tokens()[n.promptLength() - 2]);
    }
}
