package io.panscore.api.parity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.SharedModels;
import io.panscore.api.prm.PrmOptions;
import io.panscore.api.prm.PrmScore;
import io.panscore.api.prm.PrmScorer;
import io.panscore.api.prm.ProcessBenchEval;
import io.panscore.api.prm.StepReward;
import io.panscore.api.router.Decision;
import io.panscore.api.router.EntropyMode;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.router.ProbeContext;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Steps;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.api.trajectory.TrajectoryOptions;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * One test per row of docs/PARITY.md: the switch that reproduces the authors' released code must
 * keep reproducing it. Expected values are hand-computed from small cases (or, for the chat
 * templates, written out by hand from the template), never taken from the code under test. The
 * released files are cited per test; none of their code is copied.
 */
class ParityTest {

    /** A model with the real 512-token TinyStories vocabulary and trained weights (../shared/models). */
    static Path stories() {
        return SharedModels.stories260K();
    }

    // ---- row 1: prompt rendering ------------------------------------------------------------------

    /**
     * Released: RankSurprisalRatio rsr_cal.py and ImplicitPRM prm_eval_utils.py render with HF's
     * apply_chat_template (Jinja). Qwen2.5's template adds its default system turn when the
     * conversation has none; llama.cpp's pattern renderer did not.
     */
    @Test
    void promptRenderingUsesTheModelsJinjaTemplate() throws Exception {
        String tmpl = ChatJinjaTest.template("Qwen-Qwen2.5-7B-Instruct");
        try (Model model = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), tmpl))) {
            Trajectory t = Trajectory.of("a", "p", "", "What is 2+2?", "4");
            String expected = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                    + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
            assertEquals(expected, new TrajectoryEncoder(model, PromptTemplate.model()).renderPrompt(t));
            // the named fallback keeps the old rendering (no default system turn)
            String pattern = new TrajectoryEncoder(model, PromptTemplate.pattern()).renderPrompt(t);
            assertFalse(pattern.contains("You are Qwen"), pattern);
            // --template none: the prompt is pre-rendered text; special-token texts become their tokens
            TrajectoryEncoder none = new TrajectoryEncoder(model, PromptTemplate.none());
            TrajectoryEncoder.Encoded raw = none.encode(Trajectory.of("b", "p", "", expected, "4"));
            TrajectoryEncoder.Encoded rendered = new TrajectoryEncoder(model, PromptTemplate.model()).encode(t);
            assertArrayEquals(rendered.tokens(), raw.tokens());
        }
    }

    // ---- row 2: long trajectories -----------------------------------------------------------------

    /**
     * Released: rsr_launch.py sets max_model_len = 32768 and rsr_cal.py still scores what is kept.
     * A trajectory longer than the limit is cut and its kept tokens scored exactly as in the full
     * scoring; the context is sized to the work beyond the old 4096 cap.
     */
    @Test
    void longTrajectoriesAreTruncatedAndStillScored() {
        FixtureSpec longCtx = new FixtureSpec(FixtureSpec.QWEN2, FixtureSpec.FixtureVocabulary.SMALL, 64, 2, 4, 2, 128, 16384, 42,
                FixtureSpec.WeightType.F32);
        try (Model model = Model.load(Fixtures.model(longCtx))) {
            assertEquals(TrajectoryOptions.DEFAULT_MAX_TOKENS, TrajectoryOptions.defaults().maxTokens());
            StringBuilder sb = new StringBuilder();
            for (int i = 0; sb.length() < 9_000; i++) {
                sb.append("Step ").append(i).append(": add ").append(i % 7).append(" to the total. ");
            }
            Trajectory t = Trajectory.of("long", "p", "", "Sum it up.", sb.toString());
            TrajectoryEncoder enc = new TrajectoryEncoder(model, PromptTemplate.none());
            TrajectoryEncoder.Encoded full = enc.encode(t);
            assertTrue(full.tokens().length > 4096, "longer than the old cap: " + full.tokens().length);
            // sized to the work: the whole trajectory is scored, no failure
            try (TrajectoryScorer scorer = new TrajectoryScorer(model, EngineOptions.defaults(), TrajectoryOptions.defaults().withTemplate(PromptTemplate.none()))) {
                TrajectoryScorer.Scored s = assertInstanceOf(TrajectoryScorer.Scored.class, scorer.scoreAll(List.of(t)).getFirst());
                assertEquals(full.tokens().length - full.promptLength(), s.score().tokenCount());
                assertFalse(s.truncated());
            }
            // cut to 1000 tokens: 1000 - prompt tokens are scored, the same numbers as the full run's first ones
            int max = 1000;
            try (TrajectoryScorer cut = new TrajectoryScorer(model, EngineOptions.defaults(),
                    TrajectoryOptions.defaults().withTemplate(PromptTemplate.none()).withMaxTokens(max).withPerToken(true));
                    Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(full.tokens().length))) {
                TrajectoryScorer.Scored s = assertInstanceOf(TrajectoryScorer.Scored.class, cut.scoreAll(List.of(t)).getFirst());
                assertTrue(s.truncated());
                assertEquals(full.tokens().length, s.truncatedFrom());
                assertEquals(max - full.promptLength(), s.score().tokenCount());
                TokenScores ref = engine.score(Sequence.from(full.tokens(), full.promptLength()));
                double sumS = 0;
                double sumR = 0;
                for (int i = 0; i < s.score().tokenCount(); i++) {
                    assertEquals(ref.logprob()[i], s.score().tokens().logprob()[i], 1e-4, "token " + i);
                    sumS -= ref.logprob()[i];
                    sumR += Math.min(ref.rank()[i], 100);
                }
                assertEquals(sumR / sumS, s.score().rsr(), 1e-4 * s.score().rsr());
            }
        }
    }

    /**
     * Row 2 from the command line: {@code rsr} and {@code prm} cut to {@code --max-tokens} (default
     * 32768, in their help), write {@code "truncated_from"} (the full length, counted here by hand)
     * on the cut records only, and count truncated and unscorable trajectories in the summary.
     */
    @Test
    void cliTruncatesCountsAndMarksLongTrajectories(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        String longResponse = "First add 17 and 20 to get 37. Then add 5 more to get 42. So the total is 42, and we check it twice: 42.";
        String bigPrompt = "Read this long problem statement carefully: a farmer has 17 sheep and buys 25 more, then sells none, "
                + "then counts them again twice to be sure. How many sheep does the farmer have now, in total?";
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        String[][] rows = {{"long", "Add 17 and 25.", longResponse}, {"short", "Is 91 prime?", "No."}, {"empty", "Is 91 prime?", ""},
            {"bigprompt", bigPrompt, "42."}};
        StringBuilder sb = new StringBuilder();
        for (String[] r : rows) {
            sb.append(json.createObjectNode().put("id", r[0]).put("problem", "p").put("prompt", r[1]).put("response", r[2])).append('\n');
        }
        Path in = Files.writeString(dir.resolve("in.jsonl"), sb.toString());
        int max = 24;
        int longPrompt;
        int longFull;
        try (Model model = Model.load(Fixtures.tiny())) {
            longPrompt = model.tokenize(rows[0][1], true, false).length;
            longFull = longPrompt + model.tokenize(longResponse, false, false).length;
            assertTrue(longFull > max, "long: " + longFull);
            assertTrue(model.tokenize(rows[1][1] + rows[1][2], true, false).length + 1 < max, "short fits");
            assertTrue(model.tokenize(bigPrompt, true, false).length >= max, "bigprompt's prompt fills the limit");
        }
        for (String cmd : new String[] {"rsr", "prm"}) {
            Path out = dir.resolve(cmd + ".jsonl");
            List<String> a = new ArrayList<>(List.of(cmd, cmd.equals("rsr") ? "--model" : "--policy", Fixtures.tiny().toString(), "--in", in.toString(),
                    "--out", out.toString(), "--template", "none", "--max-tokens", Integer.toString(max), "--progress", "never"));
            if (cmd.equals("prm")) {
                a.add("--no-ref");
            }
            java.io.StringWriter stdout = new java.io.StringWriter();
            java.io.StringWriter err = new java.io.StringWriter();
            int status = io.panscore.api.cli.Main.run(a.toArray(String[]::new), new java.io.PrintWriter(stdout, true), new java.io.PrintWriter(err, true));
            assertEquals(0, status, err.toString());
            assertTrue(stdout.toString().contains("scored 2 trajectories"), stdout.toString());
            assertTrue(stdout.toString().contains("; 1 truncated to --max-tokens 24; skipped 0 malformed line(s), 2 unscorable trajectory(ies)"),
                    stdout.toString());
            Map<String, com.fasterxml.jackson.databind.JsonNode> byId = new java.util.TreeMap<>();
            for (String line : Files.readAllLines(out)) {
                com.fasterxml.jackson.databind.JsonNode n = json.readTree(line);
                byId.put(n.get("id").asText(), n);
            }
            assertEquals(List.of("long", "short"), List.copyOf(byId.keySet()), cmd);
            assertEquals(longFull, byId.get("long").get("truncated_from").asInt(), cmd);
            assertEquals(max - longPrompt, byId.get("long").get("tokens").asInt(), cmd);
            assertFalse(byId.get("short").has("truncated_from"), cmd);
            if (cmd.equals("prm")) {
                assertEquals(0.001, byId.get("long").get("beta").asDouble(), "row 3: the CLI's β without --beta");
            }
            assertTrue(err.toString().contains("no room for the response within 24 tokens"), err.toString());
            java.io.StringWriter help = new java.io.StringWriter();
            io.panscore.api.cli.Main.run(new String[] {cmd, "--help"}, new java.io.PrintWriter(help, true), new java.io.PrintWriter(new java.io.StringWriter(), true));
            assertTrue(help.toString().replaceAll("\\s+", " ").contains("Default: 32768"), help.toString());
        }
    }

    // ---- rows 3-6: implicit PRM -------------------------------------------------------------------

    /** Released: ImplicitPRM prm_eval_utils.py and the EurusPRM usage use β = 0.001. */
    @Test
    void prmBetaDefaultsToTheReleasedValue() {
        assertEquals(0.001, PrmOptions.defaults().beta());
        assertEquals(0.001, PrmOptions.implicitPrmParity().beta());
        // r^t = β Σ ℓ over the step: two steps of log-ratios {1, 2} and {-4}
        double[] ratio = {1, 2, -4};
        double beta = PrmOptions.defaults().beta();
        assertEquals(0.003, beta * (ratio[0] + ratio[1]), 1e-15);
        assertEquals(-0.001, beta * (ratio[0] + ratio[1] + ratio[2]), 1e-15);
    }

    /**
     * Released: prm_eval_utils.py writes explicit steps as "Step i: " + step joined by "\n\n"; the
     * best-of-N code re-splits responses on "Step \d+:".
     */
    @Test
    void prmStepsArePrefixedAndReSplitLikeTheReleasedCode() {
        Trajectory t = new Trajectory("x", "p", "", "Q?", null, "a = 1.b = 2.", List.of("a = 1.", "b = 2."));
        Trajectory prepared = PrmScorer.prepare(t, PrmOptions.implicitPrmParity());
        assertEquals("Step 1: a = 1.\n\nStep 2: b = 2.", prepared.response());
        assertEquals(List.of("Step 1: a = 1.\n\n", "Step 2: b = 2."), prepared.steps());
        assertEquals(t, PrmScorer.prepare(t, PrmOptions.defaults()), "off by default");
        // "Step 1: a\n\nStep 2: bb Step 3: c": steps end before each marker (byte offsets 11 and 22)
        assertArrayEquals(new int[] {11, 22, 31}, Steps.markerEnds("Step 1: a\n\nStep 2: bb Step 3: c"));
        assertArrayEquals(new int[] {4, 11}, Steps.markerEnds("pre Step 1:"));
    }

    /**
     * Released: prm_eval_utils.py renders the whole conversation, so the last step's value includes
     * the end-of-turn token's log-ratio. With no reference ℓ = log π, so the last step's r gains
     * exactly β · log p(end-of-turn | response).
     */
    @Test
    void prmEndOfTurnIsScoredInTheLastStep() {
        try (Model model = Model.load(Fixtures.tiny()); Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            Trajectory t = Trajectory.of("e", "p", "", "Add 2 and 3.", "2 + 3 = 5.\n\nThe answer is 5.");
            PrmOptions off = PrmOptions.defaults().withBeta(1);
            PrmOptions on = off.withScoreEndOfTurn(true);
            PrmScore a = ((PrmScorer.Scored) new PrmScorer(engine, null, off).scoreAll(List.of(t)).getFirst()).score();
            PrmScore b = ((PrmScorer.Scored) new PrmScorer(engine, null, on).scoreAll(List.of(t)).getFirst()).score();
            assertEquals(a.tokenCount() + 1, b.tokenCount());
            assertEquals(a.steps().size(), b.steps().size());
            assertEquals(a.steps().getLast().tokenCount() + 1, b.steps().getLast().tokenCount());
            // the end-of-turn token's log-prob, from a plain forward pass over prompt + response + <eot>
            TrajectoryEncoder.Encoded e = new TrajectoryEncoder(model, PromptTemplate.model()).encode(t);
            int eot = model.info().eot() >= 0 ? model.info().eot() : model.info().eos();
            int[] seq = Arrays.copyOf(e.tokens(), e.tokens().length + 1);
            seq[seq.length - 1] = eot;
            TokenScores ts = engine.score(new Sequence(seq, seq.length - 1, seq.length));
            assertEquals(a.steps().getLast().reward() + ts.logprob()[0], b.steps().getLast().reward(), 1e-4);
            assertEquals(a.steps().getFirst().reward(), b.steps().getFirst().reward(), 1e-5);
        }
    }

    /**
     * Released: ImplicitPRM's processbench.py marks the first error at the first step whose
     * sigmoid(q^t) falls below a threshold; ProcessBench reports F1 = harmonic mean of the
     * accuracies on erroneous and on correct samples.
     */
    @Test
    void processBenchFirstErrorAndF1() {
        // q = 0.3, -0.1, -0.5: sigmoid 0.574, 0.475, 0.378 -> first below 0.5 is step 1
        PrmScore s = new PrmScore("s", "p", "", 3, 0.001, null, List.of(new StepReward(0, 1, 0.3, 0.3, 0, 0, 0, 0),
                new StepReward(1, 1, -0.4, -0.1, 0, 0, 0, 0), new StepReward(2, 1, -0.4, -0.5, 0, 0, 0, 0)));
        assertEquals(1, s.firstError(0.5));
        assertEquals(2, s.firstError(0.4));
        assertEquals(-1, s.firstError(0.3));
        assertEquals(0, s.firstStepBelow(0.35), "the r^t rule gives another answer: the switch matters");
        PrmScore ok = new PrmScore("ok", "p", "", 1, 0.001, null, List.of(new StepReward(0, 1, 2, 2, 0, 0, 0, 0)));
        PrmScore bad = new PrmScore("bad", "p", "", 1, 0.001, null, List.of(new StepReward(0, 1, -2, -2, 0, 0, 0, 0)));
        // labels: s has its error at 1 (hit), bad at 0 (hit), ok is correct (hit), s2 (= s) labelled correct (miss), missing one
        PrmScore s2 = new PrmScore("s2", "p", "", 3, 0.001, null, s.steps());
        ProcessBenchEval ev = ProcessBenchEval.of(List.of(s, ok, bad, s2), Map.of("s", 1, "bad", 0, "ok", -1, "s2", -1, "gone", 2), 0.5);
        assertEquals(2, ev.erroneous());
        assertEquals(2, ev.erroneousHits());
        assertEquals(2, ev.correct());
        assertEquals(1, ev.correctHits());
        assertEquals(1, ev.missing());
        assertEquals(2 * 1.0 * 0.5 / 1.5, ev.f1(), 1e-12);
        // eval/process_eval.sh applies 0.5005 (chosen on GSM8K) to the other datasets
        assertEquals(0.5005, io.panscore.api.prm.PrmOptions.DEFAULT_ERROR_THRESHOLD, 0);
        // and chooses it by F1 over a grid of thresholds: on thresholds 0, 0.1, ..., 1 the F1s are
        // 0, 0, 2/3 (bad found, s missed), 2/3, 1/2, 2/3, 1/2, 1/2, 1/2, 0, 0 by hand: the first best is 0.2
        ProcessBenchEval.Best best = ProcessBenchEval.bestThreshold(List.of(s, ok, bad, s2), Map.of("s", 1, "bad", 0, "ok", -1, "s2", -1), 10);
        assertEquals(0.2, best.threshold(), 1e-12);
        assertEquals(2.0 / 3, best.eval().f1(), 1e-12);
    }

    /**
     * Released (our reading; processbench.py itself was not available, SPEC §4): the ProcessBench
     * script takes the token length of the rendered conversation whose assistant message is steps
     * 1..t as the end of step t; that rendering ends with the template's end-of-turn text
     * (Qwen: "<|im_end|>" + "\n", two tokens), which the script does not remove, so q^t runs that
     * many tokens into the next step ("\n\n" and "Step" here), clipped at the end of what is scored
     * (the last q includes the end-of-turn token's log-ratio). Expected q^t are summed here from a
     * separate forward pass over sequences built by hand, with boundaries counted by hand.
     */
    @Test
    void processBenchStepBoundariesRunIntoTheNextStep() throws Exception {
        String qwen = ChatJinjaTest.template("Qwen-Qwen2.5-7B-Instruct");
        // a ChatML variant whose turns end with "<|im_end|>" alone: a shift of one token
        String oneToken = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}"
                + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        List<String> steps = List.of("17 + 20 = 37.", "37 + 5 = 42.", "The answer is 42.");
        Trajectory t = new Trajectory("pb", "p", "", "Add 17 and 25.", null, String.join("", steps), steps);
        String response = "Step 1: 17 + 20 = 37.\n\nStep 2: 37 + 5 = 42.\n\nStep 3: The answer is 42.";
        // each step's content, without the "\n\n" that joins it to the next (what the script renders as steps 1..t)
        String[] contents = {"Step 1: 17 + 20 = 37.", "Step 1: 17 + 20 = 37.\n\nStep 2: 37 + 5 = 42.", response};
        // panscore's own boundaries: a step keeps its "\n\n"
        String[] own = {"Step 1: 17 + 20 = 37.\n\n", "Step 1: 17 + 20 = 37.\n\nStep 2: 37 + 5 = 42.\n\n", response};
        String qwenPrompt = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nAdd 17 and 25.<|im_end|>\n<|im_start|>assistant\n";
        String oneTokenPrompt = "<|im_start|>user\nAdd 17 and 25.<|im_end|><|im_start|>assistant\n";
        double beta = PrmOptions.PROCESSBENCH_BETA;
        try (Model model = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), qwen));
                Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            assertEquals(2, new TrajectoryEncoder(model, PromptTemplate.model()).endOfTurnTokens(), "<|im_end|> and \\n");
            assertEquals(1, new TrajectoryEncoder(model, PromptTemplate.jinja(oneToken)).endOfTurnTokens(), "<|im_end|>");
            int[] imEnd = model.tokenize("<|im_end|>", false, true);
            assertEquals(1, imEnd.length);
            int[] responseTokens = model.tokenize(response, false, false);
            int[] n = new int[3];
            int[] d = new int[3];
            for (int k = 0; k < 3; k++) {
                n[k] = model.tokenize(contents[k], false, false).length;
                d[k] = model.tokenize(own[k], false, false).length;
            }
            // the shifted end of step 1 lies inside step 2 (this vocabulary writes ".\n\n" as one token, so the
            // two tokens past "...37." in the whole response are "Step" and " ")
            String upTo = model.detokenize(Arrays.copyOf(responseTokens, n[0] + 2), false);
            assertTrue(upTo.startsWith(own[0]) && upTo.length() > own[0].length() && response.startsWith(upTo), upTo);
            PrmOptions pb = PrmOptions.processBenchParity();
            assertEquals(beta, pb.beta());
            for (int shift : new int[] {2, 1}) {
                String prompt = shift == 2 ? qwenPrompt : oneTokenPrompt;
                PromptTemplate template = shift == 2 ? PromptTemplate.model() : PromptTemplate.jinja(oneToken);
                // prompt + response + <|im_end|>, scored separately: log p of each response token and of the end of turn
                int[] p = model.tokenize(prompt, true, true);
                int[] seq = new int[p.length + responseTokens.length + 1];
                System.arraycopy(p, 0, seq, 0, p.length);
                System.arraycopy(responseTokens, 0, seq, p.length, responseTokens.length);
                seq[seq.length - 1] = imEnd[0];
                float[] lp = engine.score(new Sequence(seq, p.length, seq.length)).logprob();
                int total = lp.length;
                double[] expectedPb = new double[3];
                double[] expectedOwn = new double[3];
                for (int k = 0; k < 3; k++) {
                    expectedPb[k] = beta * sum(lp, Math.min(n[k] + shift, total));
                    expectedOwn[k] = beta * sum(lp, k == 2 ? total : d[k]);
                }
                // (the delimiter plays no part with explicit steps: "." must not be cut off their contents)
                PrmScore a = ((PrmScorer.Scored) new PrmScorer(engine, null, pb.withTemplate(template).withDelimiter(".")).scoreAll(List.of(t))
                        .getFirst()).score();
                PrmScore b = ((PrmScorer.Scored) new PrmScorer(engine, null, pb.withTemplate(template).withProcessBenchBoundaries(false))
                        .scoreAll(List.of(t)).getFirst()).score();
                assertEquals(total, a.tokenCount());
                for (int k = 0; k < 3; k++) {
                    assertEquals(expectedPb[k], a.steps().get(k).value(), 1e-6, "shift " + shift + " q of step " + k);
                    assertEquals(expectedPb[k] - (k == 0 ? 0 : expectedPb[k - 1]), a.steps().get(k).reward(), 1e-6, "shift " + shift + " r " + k);
                    assertEquals(expectedOwn[k], b.steps().get(k).value(), 1e-6, "shift " + shift + " own q of step " + k);
                    assertEquals(b.steps().get(k).tokenCount(), a.steps().get(k).tokenCount(), "a step keeps its tokens");
                }
                assertTrue(expectedPb[0] < expectedOwn[0], "with no reference every extra token lowers q");
                // the first-error rule: a threshold between the two sigmoid(q^1) separates the modes
                double threshold = (sigmoid(expectedPb[0]) + sigmoid(expectedOwn[0])) / 2;
                int pbFirst = firstBelow(expectedPb, threshold);
                int ownFirst = firstBelow(expectedOwn, threshold);
                assertEquals(0, pbFirst);
                assertTrue(ownFirst != 0, "own " + ownFirst);
                assertEquals(pbFirst, a.firstError(threshold));
                assertEquals(ownFirst, b.firstError(threshold));
                // and ProcessBench's accuracy on a sample whose first error is step 1 differs
                ProcessBenchEval hit = ProcessBenchEval.of(List.of(a), Map.of("pb", 0), threshold);
                ProcessBenchEval miss = ProcessBenchEval.of(List.of(b), Map.of("pb", 0), threshold);
                assertEquals(1, hit.erroneousHits());
                assertEquals(0, miss.erroneousHits());
            }
        }
    }

    /**
     * ProcessBench's boundaries on a response split on its delimiter (no explicit steps): step t's
     * content is its text without the delimiter run; with {@code --template none} the shift comes
     * from the model's own template (Qwen's: 2); the end of turn is not scored here, so the last q
     * ends at the response's last token. Expected values summed by hand from a separate forward pass.
     */
    @Test
    void processBenchBoundariesOnDelimiterSplitSteps() {
        String delimiter = " ки\n";
        String response = "a = 1 + 2." + delimiter + "b = a * 4." + delimiter + "c = b - 5.";
        double beta = 0.01;
        try (Model model = Model.load(Fixtures.tiny()); Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            assertEquals(2, new TrajectoryEncoder(model, PromptTemplate.none()).endOfTurnTokens(), "the fixture's own Qwen template");
            int[] p = model.tokenize("Q: ", true, true);
            int[] r = model.tokenize(response, false, false);
            int[] seq = Arrays.copyOf(p, p.length + r.length);
            System.arraycopy(r, 0, seq, p.length, r.length);
            float[] lp = engine.score(new Sequence(seq, p.length, seq.length)).logprob();
            String[] contents = {"a = 1 + 2.", "a = 1 + 2." + delimiter + "b = a * 4.", response};
            PrmOptions options = PrmOptions.defaults().withBeta(beta).withDelimiter(delimiter).withTemplate(PromptTemplate.none())
                    .withProcessBenchBoundaries(true);
            PrmScore s = ((PrmScorer.Scored) new PrmScorer(engine, null, options).scoreAll(List.of(Trajectory.of("d", "p", "", "Q: ", response)))
                    .getFirst()).score();
            assertEquals(3, s.steps().size());
            for (int k = 0; k < 3; k++) {
                int upTo = Math.min(model.tokenize(contents[k], false, false).length + 2, lp.length);
                assertEquals(beta * sum(lp, upTo), s.steps().get(k).value(), 1e-6, "q of step " + k);
            }
        }
    }

    /**
     * {@code prm --parity processbench}: the same q^t as {@link PrmOptions#processBenchParity()}
     * (β 0.005 unless --beta; --beta 0.001 scales every q by exactly 1/5), and q^1 below
     * {@code --parity implicitprm}'s at the same β (with no reference every token the shifted
     * boundary adds lowers it).
     */
    @Test
    void processBenchParityFromTheCli(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"),
                "{\"id\": \"a\", \"problem\": \"p\", \"prompt\": \"Add 17 and 25.\", \"steps\": [\"17 + 20 = 37.\", \"37 + 5 = 42.\", \"So 42.\"]}\n");
        Path tiny = Fixtures.tiny();
        List<StepReward> api;
        try (Model model = Model.load(tiny);
                PrmScorer scorer = new PrmScorer(model, null, EngineOptions.defaults(), PrmOptions.processBenchParity())) {
            api = ((PrmScorer.Scored) scorer.scoreAll(List.of(new Trajectory("a", "p", "", "Add 17 and 25.", null, "17 + 20 = 37.37 + 5 = 42.So 42.",
                    List.of("17 + 20 = 37.", "37 + 5 = 42.", "So 42.")))).getFirst()).score().steps();
        }
        com.fasterxml.jackson.databind.JsonNode pb = prmCli(dir.resolve("pb.jsonl"), in, "--parity", "processbench");
        com.fasterxml.jackson.databind.JsonNode pb1 = prmCli(dir.resolve("pb1.jsonl"), in, "--parity", "processbench", "--beta", "0.001");
        com.fasterxml.jackson.databind.JsonNode own = prmCli(dir.resolve("own.jsonl"), in, "--parity", "implicitprm", "--beta", "0.005");
        assertEquals(0.005, pb.get("beta").asDouble());
        assertEquals(0.001, pb1.get("beta").asDouble());
        assertEquals(3, pb.get("steps").size());
        for (int k = 0; k < 3; k++) {
            double q = pb.get("steps").get(k).get("q").asDouble();
            assertEquals(api.get(k).value(), q, 1e-12, "step " + k);
            assertEquals(q / 5, pb1.get("steps").get(k).get("q").asDouble(), 1e-12 * Math.abs(q), "step " + k);
        }
        assertTrue(pb.get("steps").get(0).get("q").asDouble() < own.get("steps").get(0).get("q").asDouble());
        // the last q ends at the end of what is scored, end of turn included, in both modes
        assertEquals(own.get("steps").get(2).get("q").asDouble(), pb.get("steps").get(2).get("q").asDouble(), 1e-9);
    }

    private static com.fasterxml.jackson.databind.JsonNode prmCli(Path out, Path in, String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("prm", "--policy", Fixtures.tiny().toString(), "--no-ref", "--in", in.toString(), "--out",
                out.toString(), "--progress", "never"));
        a.addAll(List.of(extra));
        java.io.StringWriter err = new java.io.StringWriter();
        int status = io.panscore.api.cli.Main.run(a.toArray(String[]::new), new java.io.PrintWriter(new java.io.StringWriter(), true),
                new java.io.PrintWriter(err, true));
        assertEquals(0, status, err.toString());
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readAllLines(out).getFirst());
    }

    private static double sum(float[] v, int upTo) {
        double s = 0;
        for (int i = 0; i < upTo; i++) {
            s += v[i];
        }
        return s;
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    private static int firstBelow(double[] q, double threshold) {
        for (int k = 0; k < q.length; k++) {
            if (sigmoid(q[k]) < threshold) {
                return k;
            }
        }
        return -1;
    }

    // ---- rows 7-8: GlimpRouter ----------------------------------------------------------------------

    /**
     * Released: GlimpRouter src/glimp_router.py asks for the top-20 log-probs of a one-token probe,
     * renormalises them and takes their entropy (natural log), with τ = 1.0.
     */
    @Test
    void routerDefaultsToTopTwentyRenormalisedEntropy() {
        try (Model model = Model.load(Fixtures.tiny());
                GlimpRouter router = GlimpRouter.builder(model).contextSize(512).maxSessions(2).build();
                Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            assertEquals(EntropyMode.TOP_K, router.entropyMode());
            assertEquals(1.0, router.threshold());
            assertEquals(20, GlimpRouter.TOP_K);
            int[] ctx = model.tokenize("The quick brown fox", true, false);
            Decision d = router.glimpseContext(ctx);
            // the top-20 log-probs of the next token: score a dummy target after the context
            int[] seq = Arrays.copyOf(ctx, ctx.length + 1);
            TokenScores ts = engine.score(List.of(new Sequence(seq, ctx.length, ctx.length + 1)), ScoreOptions.defaults().withTopK(20)).getFirst();
            double z = 0;
            for (float lp : ts.topLogprobs()) {
                z += Math.exp(lp);
            }
            double h = 0;
            for (float lp : ts.topLogprobs()) {
                double p = Math.exp(lp) / z;
                h -= p * Math.log(p);
            }
            assertEquals(h, d.entropy(), 1e-4);
            assertEquals(d.topKEntropy(), d.entropy());
            assertEquals(d.entropy() >= 1.0 ? Decision.Route.LARGE : Decision.Route.SMALL, d.route());
        }
    }

    /** Row 7 in the sidecar: {@code panscore serve} defaults to the top-20 mode and τ = 1.0 (its help says so). */
    @Test
    void serveDefaultsToTopKAndTauOne() {
        java.io.StringWriter help = new java.io.StringWriter();
        assertEquals(0, io.panscore.api.cli.Main.run(new String[] {"serve", "--help"}, new java.io.PrintWriter(help, true),
                new java.io.PrintWriter(new java.io.StringWriter(), true)));
        String h = help.toString().replaceAll("\\s+", " ");
        assertTrue(h.contains("Default: top-k"), h);
        assertTrue(h.matches(".*--threshold=<threshold>[^-]*Default: 1\\.0.*"), h);
    }

    /**
     * Released: glimp_router.py renders the user turn with the model's template and the generation
     * prompt; from step 2 an assistant message "<think>" + "\n\n".join(steps) + "\n\n" continued
     * (vLLM continue_final_message), the whole text tokenized afresh. Qwen3's template writes an
     * empty think block before the continued content.
     */
    @Test
    void routerProbeContextIsTheReleasedOneTokenizedWhole() throws Exception {
        String tmpl = ChatJinjaTest.template("Qwen-Qwen3-0.6B");
        List<ChatMessage> user = List.of(new ChatMessage("user", "Add 17 and 25."));
        try (Model model = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), tmpl))) {
            assertEquals("<|im_start|>user\nAdd 17 and 25.<|im_end|>\n<|im_start|>assistant\n", GlimpRouter.probeText(model, user, List.of()));
            assertEquals("<|im_start|>user\nAdd 17 and 25.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<think>17 + 20 = 37.\n\n37 + 5 = 42.\n\n",
                    GlimpRouter.probeText(model, user, List.of("17 + 20 = 37.", "37 + 5 = 42.")));
            Random rnd = new Random(3);
            String[] words = {"so", "Then", " 42", "x", "=", "\n", "  ", ".", ",", "Wait", "ünï", "🙂", "\t", "1", "22", "<think>", "Step 3:"};
            try (GlimpRouter router = GlimpRouter.builder(model).contextSize(2048).maxSessions(4).build();
                    Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(2048))) {
                assertEquals(ProbeContext.RELEASED, router.probeContext());
                for (int trial = 0; trial < 6; trial++) {
                    List<String> steps = new ArrayList<>();
                    try (GlimpRouter.RouterSession s = router.open(user)) {
                        for (int k = 0; k < 6; k++) {
                            StringBuilder step = new StringBuilder();
                            for (int w = 1 + rnd.nextInt(6); w > 0; w--) {
                                step.append(words[rnd.nextInt(words.length)]);
                            }
                            Decision d = router.glimpse(s);
                            // the same ids as tokenizing the whole context, and the same glimpse as decoding it fresh
                            int[] whole = model.tokenize(GlimpRouter.probeText(model, user, steps), true, true);
                            assertArrayEquals(whole, router.contextTokens(s), "trial " + trial + " step " + k);
                            int[] seq = Arrays.copyOf(whole, whole.length + 1);
                            TokenScores ts = engine.score(List.of(new Sequence(seq, whole.length, whole.length + 1)), ScoreOptions.defaults()).getFirst();
                            assertEquals(ts.entropy()[0], d.exactEntropy(), 2e-3, "trial " + trial + " step " + k);
                            router.append(s, step.toString());
                            steps.add(step.toString());
                        }
                    }
                }
            }
        }
    }

    // ---- a trained model: the statistics mean what they should ----------------------------------

    /** A natural story gets a lower RSR under a trained model than the same words shuffled. */
    @Test
    void storiesNaturalTextHasLowerRsrThanShuffled() {
        String story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. "
                + "One day, she saw a big red ball in the park. She ran to the ball and kicked it. The ball went up high. "
                + "Lily was very happy.";
        List<String> words = new ArrayList<>(Arrays.asList(story.split(" ")));
        Collections.shuffle(words, new Random(11));
        String shuffled = String.join(" ", words);
        try (Model model = Model.load(stories()); Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            TrajectoryScorer scorer = new TrajectoryScorer(engine, TrajectoryOptions.defaults().withTemplate(PromptTemplate.none()));
            List<TrajectoryScorer.Outcome> out = scorer.scoreAll(List.of(Trajectory.of("natural", "p", "", "", story),
                    Trajectory.of("shuffled", "p", "", "", shuffled)));
            double natural = ((TrajectoryScorer.Scored) out.get(0)).score().rsr();
            double mixed = ((TrajectoryScorer.Scored) out.get(1)).score().rsr();
            assertTrue(natural < mixed, "natural " + natural + " vs shuffled " + mixed);
        }
    }

    /** Where the next token is obvious ("Once upon a" -> " time") the router's entropy is low: SMALL. */
    @Test
    void storiesEntropyIsLowWhereTheNextTokenIsObvious() {
        try (Model model = Model.load(stories());
                GlimpRouter router = GlimpRouter.builder(model).contextSize(512).maxSessions(2).build()) {
            Decision obvious = router.glimpseContext("Once upon a");
            Decision open = router.glimpseContext("Once upon a time, there was a little");
            assertEquals("time", obvious.tokenText().strip());
            assertTrue(obvious.entropy() < 0.5, "entropy " + obvious.entropy());
            assertEquals(Decision.Route.SMALL, obvious.route());
            assertTrue(open.entropy() > obvious.entropy() + 0.5, open.entropy() + " vs " + obvious.entropy());
        }
    }
}
