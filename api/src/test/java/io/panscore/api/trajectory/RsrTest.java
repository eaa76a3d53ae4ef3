package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.Fixtures;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** RSR and its parts against values computed from {@link ReferenceKernel} statistics of the raw logits. */
class RsrTest {

    static Model model;
    static Engine engine;

    @BeforeAll
    static void open() {
        model = Model.load(Fixtures.tiny());
        engine = model.newEngine(EngineOptions.defaults().withContextSize(1024));
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    @Test
    void rsrEqualsTheReferenceComputation() throws Exception {
        List<Trajectory> sample = SampleData.trajectories();
        for (int rMax : new int[] {100, 5}) {
            // template "none" passed explicitly; the tokens are built by the test, not by the encoder under test
            TrajectoryScorer scorer = new TrajectoryScorer(engine, TrajectoryOptions.defaults().withRMax(rMax).withTemplate(PromptTemplate.none()));
            List<TrajectoryScorer.Outcome> outcomes = scorer.scoreAll(sample);
            int vocab = model.info().vocabSize();
            for (int j = 0; j < sample.size(); j++) {
                TrajectoryScore got = ((TrajectoryScorer.Scored) outcomes.get(j)).score();
                io.panscore.api.Independent.Tokens e = io.panscore.api.Independent.tokensNoTemplate(model, sample.get(j));
                float[] logits = engine.logits(List.of(Sequence.from(e.all(), e.promptLength())));
                double sumS = 0;
                double sumR = 0;
                double sumH = 0;
                int n = e.all().length - e.promptLength();
                for (int i = 0; i < n; i++) {
                    ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, i * vocab, vocab, e.all()[e.promptLength() + i], 1.0, 0);
                    sumS += -ref.logprob();
                    sumR += Math.min(ref.rank(), rMax);
                    sumH += ref.entropy();
                }
                String where = sample.get(j).id() + " r_max " + rMax;
                assertEquals(n, got.tokenCount(), where);
                assertEquals(sumS / n, got.meanSurprisal(), 1e-4, where);
                assertEquals(sumR / n, got.meanClippedRank(), 1e-9, where);
                assertEquals(sumR / sumS, got.rsr(), 1e-4 * got.rsr(), where);
                assertEquals(sumH / n, got.meanEntropy(), 1e-4, where);
                assertEquals(Math.exp(sumS / n), got.perplexity(), 1e-3 * got.perplexity(), where);
            }
        }
    }

    @Test
    void datasetRsrIsTheRatioOfMeans() {
        TrajectoryScore a = new TrajectoryScore("a", "p", "t", 10, 2.0, 8.0, 4.0, 1, 1, null, List.of());
        TrajectoryScore b = new TrajectoryScore("b", "p", "t", 10, 6.0, 4.0, 0.66, 1, 1, null, List.of());
        assertEquals((8.0 + 4.0) / (2.0 + 6.0), Rsr.datasetRsr(List.of(a, b)), 1e-12);
        TrajectoryScore c = new TrajectoryScore("c", "q", "u", 10, 1.0, 1.0, 1.0, 1, 1, null, List.of());
        List<DatasetSummary.TeacherRsr> ranking = DatasetSummary.teachers(List.of(a, b, c));
        assertEquals("u", ranking.get(0).teacher());
        assertEquals(1, ranking.get(0).rank());
        assertEquals(List.of("b", "c"), DatasetSummary.bestPerProblem(List.of(a, b, c)).stream().map(DatasetSummary.Best::id).toList());
    }

    @Test
    void filters() {
        TrajectoryScore a = new TrajectoryScore("a", "p", "t", 10, 2.0, 8.0, 4.0, 1, 1, null, List.of());
        TrajectoryScore b = new TrajectoryScore("b", "p", "t", 10, 6.0, 4.0, 0.5, 1, 1, null, List.of());
        TrajectoryScore c = new TrajectoryScore("c", "q", "u", 10, 1.0, 1.0, 1.0, 1, 1, null, List.of());
        assertEquals(List.of("b", "c"), TrajectoryFilter.rsrAtMost(1.0).apply(List.of(a, b, c)).stream().map(TrajectoryScore::id).toList());
        assertEquals(List.of("b"), TrajectoryFilter.bestFraction(List.of(a, b, c), 0.2).stream().map(TrajectoryScore::id).toList());
        assertEquals(List.of("b", "c"), TrajectoryFilter.bestFraction(List.of(a, b, c), 0.5).stream().map(TrajectoryScore::id).toList());
        assertTrue(TrajectoryFilter.bestFraction(List.of(), 0.5).isEmpty());
    }

    @Test
    void perStepStatisticsCoverEveryTokenOnce() throws Exception {
        TrajectoryScorer scorer = new TrajectoryScorer(engine, TrajectoryOptions.defaults().withStepDelimiter("\n\n").withPerToken(true));
        for (TrajectoryScorer.Outcome o : scorer.scoreAll(SampleData.trajectories())) {
            TrajectoryScore s = ((TrajectoryScorer.Scored) o).score();
            assertEquals(s.tokenCount(), s.steps().stream().mapToInt(StepStats::tokenCount).sum(), s.id());
            double sumLp = 0;
            for (float lp : s.tokens().logprob()) {
                sumLp += lp;
            }
            assertEquals(sumLp, s.steps().stream().mapToDouble(StepStats::sumLogprob).sum(), 1e-3, s.id());
            for (StepStats st : s.steps()) {
                assertTrue(st.maxEntropy() >= st.meanEntropy() - 1e-9 && st.minLogprob() <= st.sumLogprob() / st.tokenCount() + 1e-6);
            }
        }
    }
}
