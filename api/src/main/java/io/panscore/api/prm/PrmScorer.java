package io.panscore.api.prm;

import io.panscore.api.trajectory.Steps;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryBatch;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.api.trajectory.SizedEngine;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Implicit process rewards (SPEC §4): the same token sequences are scored by the policy (PRM) and
 * the reference model, in lockstep, window by window (packed, prompts shared), and the per-token
 * log-ratios ℓ_i = log π_θ(y_i) − log π_ref(y_i) are summed into step rewards. Without a reference
 * ("no reference" mode) ℓ_i = log π_θ(y_i).
 *
 * <p>Not thread-safe: one scorer per thread (it drives its engines).
 */
public final class PrmScorer implements AutoCloseable {

    /** What became of one trajectory. */
    public sealed interface Outcome permits Scored, Failed {
        long index();

        String id();
    }

    /** A scored response; {@code truncatedFrom} &gt; 0 when it was cut to the token limit (its full length). */
    public record Scored(long index, PrmScore score, int truncatedFrom) implements Outcome {
        public Scored(long index, PrmScore score) {
            this(index, score, 0);
        }

        @Override
        public String id() {
            return score.id();
        }

        public boolean truncated() {
            return truncatedFrom > 0;
        }
    }

    public record Failed(long index, String id, String message) implements Outcome {}

    /** Where the time went, in nanoseconds, so far. */
    public record Timings(long policyNanos, long referenceNanos, long restNanos, long tokens) {}

    private final SizedEngine policy;
    private final SizedEngine reference;
    private final PrmOptions options;
    private final TrajectoryEncoder encoder;
    /** With {@link PrmOptions#processBenchBoundaries()}: the tokens the template writes after an assistant message's content (-1: not yet known). */
    private int endOfTurnTokens = -1;
    private long policyNanos;
    private long referenceNanos;
    private long restNanos;
    private long tokens;

    /**
     * @param reference the reference model's engine, or null for "no reference" mode
     * @throws VocabularyMismatchException when the two models' vocabularies differ
     */
    public PrmScorer(Engine policy, Engine reference, PrmOptions options) {
        this(SizedEngine.fixed(Objects.requireNonNull(policy, "policy")), reference == null ? null : SizedEngine.fixed(reference), options);
    }

    /**
     * Scores on engines sized to the work (see {@link SizedEngine}); close the scorer to free them.
     *
     * @param reference the reference model, or null for "no reference" mode
     * @throws VocabularyMismatchException when the two models' vocabularies differ
     */
    public PrmScorer(Model policy, Model reference, EngineOptions engineOptions, PrmOptions options) {
        this(SizedEngine.sized(Objects.requireNonNull(policy, "policy"), engineOptions),
                reference == null ? null : SizedEngine.sized(reference, engineOptions), options);
    }

    private PrmScorer(SizedEngine policy, SizedEngine reference, PrmOptions options) {
        this.policy = policy;
        this.reference = reference;
        this.options = Objects.requireNonNull(options, "options");
        if (reference != null) {
            Vocabularies.requireSame(policy.model(), reference.model());
        }
        this.encoder = new TrajectoryEncoder(policy.model(), options.template());
    }

    /**
     * The shift of ProcessBench's step boundaries: the tokens the template writes after an assistant
     * message's content ({@link TrajectoryEncoder#endOfTurnTokens()}; 0 when that mode is off).
     * Found on first use, so a missing template is reported by the caller's template check first.
     */
    public int processBenchShift() {
        if (endOfTurnTokens < 0) {
            endOfTurnTokens = options.processBenchBoundaries() ? encoder.endOfTurnTokens() : 0;
        }
        return endOfTurnTokens;
    }

    /** Frees the engines this scorer created (not a caller's). */
    @Override
    public void close() {
        policy.close();
        if (reference != null) {
            reference.close();
        }
    }

    /**
     * The trajectory as the released code writes it: with {@link PrmOptions#stepPrefix()}, explicit
     * steps become {@code "Step i: " + step}, joined by "\n\n" (ImplicitPRM prm_eval_utils.py).
     */
    public static Trajectory prepare(Trajectory t, PrmOptions options) {
        if (!options.stepPrefix() || t.steps() == null) {
            return t;
        }
        List<String> steps = new ArrayList<>(t.steps().size());
        for (int i = 0; i < t.steps().size(); i++) {
            steps.add("Step " + (i + 1) + ": " + t.steps().get(i) + (i + 1 < t.steps().size() ? "\n\n" : ""));
        }
        return new Trajectory(t.id(), t.problem(), t.teacher(), t.prompt(), t.messages(), String.join("", steps), steps);
    }

    /** The end-of-turn token scored after the response with {@link PrmOptions#scoreEndOfTurn()}, or -1. */
    private int endOfTurn() {
        Model m = policy.model();
        return m.info().eot() >= 0 ? m.info().eot() : m.info().eos();
    }

    public Timings timings() {
        return new Timings(policyNanos, referenceNanos, restNanos, tokens);
    }

    public Iterator<Outcome> score(Iterator<Trajectory> input, Predicate<String> alreadyDone) {
        return TrajectoryBatch.windows(input, options.chunkSize(), alreadyDone, this::scoreWindow, Outcome::id,
                (t, i, why) -> new Failed(i, t.id(), why));
    }

    public List<Outcome> scoreAll(List<Trajectory> trajectories) {
        List<Outcome> out = new ArrayList<>();
        score(trajectories.iterator(), id -> false).forEachRemaining(out::add);
        return out;
    }

    private List<Outcome> scoreWindow(List<Trajectory> window, long firstIndex) {
        long t0 = System.nanoTime();
        int context = reference == null ? policy.limit() : Math.min(policy.limit(), reference.limit());
        List<Trajectory> prepared = window.stream().map(t -> prepare(t, options)).toList();
        int eot = options.scoreEndOfTurn() ? endOfTurn() : -1;
        // one token of room for the end-of-turn token when it is scored
        int keep = Math.min(context, options.maxTokens()) - (eot >= 0 ? 1 : 0);
        List<TrajectoryBatch.Item> items = TrajectoryBatch.encode(encoder, prepared, firstIndex, context, keep);
        if (eot >= 0) {
            items = items.stream().map(it -> it.ok() && !it.encoded().truncated() ? withEndOfTurn(it, eot) : it).toList();
        }
        List<TrajectoryBatch.Item> ok = items.stream().filter(TrajectoryBatch.Item::ok).toList();
        List<Sequence> seqs = TrajectoryBatch.sequences(ok);
        int longest = TrajectoryBatch.longest(ok);
        long t1 = System.nanoTime();
        List<TokenScores> pol = ok.isEmpty() ? List.of() : policy.forTokens(longest).score(seqs, ScoreOptions.defaults());
        long t2 = System.nanoTime();
        List<TokenScores> ref = ok.isEmpty() || reference == null ? null : reference.forTokens(longest).score(seqs, ScoreOptions.defaults());
        long t3 = System.nanoTime();
        List<Outcome> out = new ArrayList<>(items.size());
        int k = 0;
        for (TrajectoryBatch.Item it : items) {
            if (!it.ok()) {
                out.add(new Failed(it.index(), it.trajectory().id(), it.failure()));
                continue;
            }
            out.add(new Scored(it.index(), rewards(it, pol.get(k), ref == null ? null : ref.get(k)), it.encoded().truncatedFrom()));
            k++;
        }
        long t4 = System.nanoTime();
        policyNanos += t2 - t1;
        referenceNanos += t3 - t2;
        restNanos += (t1 - t0) + (t4 - t3);
        return out;
    }

    private PrmScore rewards(TrajectoryBatch.Item it, TokenScores pol, TokenScores ref) {
        Trajectory t = it.trajectory();
        TrajectoryEncoder.Encoded e = it.encoded();
        int n = pol.size();
        tokens += n;
        double[] ratio = new double[n];
        for (int i = 0; i < n; i++) {
            ratio[i] = ref == null ? pol.logprob()[i] : (double) pol.logprob()[i] - ref.logprob()[i];
        }
        int[] ends = t.steps() != null ? Steps.explicitEnds(t.steps())
                : options.stepMarkers() ? Steps.markerEnds(e.responseText()) : Steps.stepEnds(e.responseText(), options.delimiter());
        int[] step = Steps.ofScoredTokens(policy.model(), e, ends);
        List<StepReward> rewards = stepRewards(ratio, step, pol, options.beta());
        if (options.processBenchBoundaries()) {
            boolean splitOnDelimiter = t.steps() == null && !options.stepMarkers();
            rewards = processBenchValues(rewards, ratio, e, ends, splitOnDelimiter ? options.delimiter() : "");
        }
        return new PrmScore(t.id(), t.problem(), t.teacher(), n, options.beta(), options.keepLogRatios() ? ratio : null, rewards);
    }

    /**
     * The released ProcessBench script's q^t (our reading, docs/PARITY.md): it takes the length of
     * the tokenized rendering of the conversation whose assistant message is steps 1..t as where
     * step t ends, and that rendering still ends with the template's end-of-turn text. So q^t sums
     * the log-ratios of the tokens of the response text up to step t's content (its trailing
     * separator, the delimiter run when split on it, then whitespace, left out), tokenized on its own, plus
     * {@link #processBenchShift()} more, clipped at the end of what is scored (which includes the
     * end-of-turn token when it is scored). r^t = q^t − q^{t−1}; the rest of each step is kept.
     */
    private List<StepReward> processBenchValues(List<StepReward> rewards, double[] ratio, TrajectoryEncoder.Encoded e, int[] ends, String delimiter) {
        int shift = processBenchShift();
        double[] prefix = new double[ratio.length + 1];
        for (int i = 0; i < ratio.length; i++) {
            prefix[i + 1] = prefix[i] + ratio[i];
        }
        byte[] text = e.responseText().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        List<StepReward> out = new ArrayList<>(rewards.size());
        double previous = 0;
        for (StepReward st : rewards) {
            int end = Math.min(ends[Math.min(st.index(), ends.length - 1)], text.length);
            String content = new String(text, 0, end, java.nio.charset.StandardCharsets.UTF_8);
            while (!delimiter.isEmpty() && content.endsWith(delimiter)) {
                content = content.substring(0, content.length() - delimiter.length());
            }
            content = content.stripTrailing();
            int tokensUpTo = content.isEmpty() ? 0 : policy.model().tokenize(content, false, false).length;
            int last = Math.clamp((long) tokensUpTo + shift - e.unscoredResponseTokens(), 0, ratio.length);
            double value = options.beta() * prefix[last];
            out.add(new StepReward(st.index(), st.tokenCount(), value - previous, value, st.meanEntropy(), st.maxEntropy(), st.minLogprob(),
                    st.meanClippedRank()));
            previous = value;
        }
        return out;
    }

    /** The item with the end-of-turn token appended to its response (scored; it renders as no text, so it joins the last step). */
    private static TrajectoryBatch.Item withEndOfTurn(TrajectoryBatch.Item it, int eot) {
        TrajectoryEncoder.Encoded e = it.encoded();
        int[] tokens = java.util.Arrays.copyOf(e.tokens(), e.tokens().length + 1);
        tokens[tokens.length - 1] = eot;
        int[] response = java.util.Arrays.copyOf(e.responseTokens(), e.responseTokens().length + 1);
        response[response.length - 1] = eot;
        return new TrajectoryBatch.Item(it.index(), it.trajectory(),
                new TrajectoryEncoder.Encoded(tokens, e.promptLength(), response, e.unscoredResponseTokens(), e.responseText(), e.truncatedFrom()), null);
    }

    /** Sums the log-ratios of each step's tokens; q^t accumulates r^t. */
    static List<StepReward> stepRewards(double[] ratio, int[] step, TokenScores pol, double beta) {
        List<StepReward> out = new ArrayList<>();
        double value = 0;
        int i = 0;
        while (i < step.length) {
            int s = step[i];
            int j = i;
            double sum = 0;
            double sumH = 0;
            double maxH = Double.NEGATIVE_INFINITY;
            double minLp = Double.POSITIVE_INFINITY;
            double sumR = 0;
            while (j < step.length && step[j] == s) {
                sum += ratio[j];
                sumH += pol.entropy()[j];
                maxH = Math.max(maxH, pol.entropy()[j]);
                minLp = Math.min(minLp, pol.logprob()[j]);
                sumR += Math.min(pol.rank()[j], 100);
                j++;
            }
            double reward = beta * sum;
            value += reward;
            int count = j - i;
            out.add(new StepReward(s, count, reward, value, sumH / count, maxH, minLp, sumR / count));
            i = j;
        }
        return out;
    }
}
