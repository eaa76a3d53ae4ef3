package io.panscore.api.trajectory;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.TokenScores;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Scores trajectories under one student model, streaming: trajectories are pulled from an
 * iterator {@code chunkSize} at a time, each chunk is scored in one native call (packed into as
 * few decodes as fit, identical prompts decoded once and shared), and results come out in input
 * order. Memory is bounded by one chunk.
 *
 * <p>Chunks are fixed windows of the input, so a trajectory is always scored in the same company
 * and its numbers are reproducible to the bit, which is what lets the CLI resume a run and match
 * a clean one byte for byte. A window whose trajectories are all {@code alreadyDone} is skipped
 * without decoding.
 *
 * <p>Not thread-safe: one scorer per thread (it drives one {@link Engine}).
 */
public final class TrajectoryScorer implements AutoCloseable {

    /** What became of one trajectory. */
    public sealed interface Outcome permits Scored, Failed {
        /** Position in the input stream, from 0. */
        long index();

        String id();
    }

    /**
     * A scored trajectory; {@code truncatedFrom} &gt; 0 when it was cut to the token limit (its
     * length before the cut), 0 otherwise.
     */
    public record Scored(long index, TrajectoryScore score, int truncatedFrom) implements Outcome {
        public Scored(long index, TrajectoryScore score) {
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

    /** A trajectory that could not be scored (empty response, longer than the context, ...). */
    public record Failed(long index, String id, String message) implements Outcome {}

    private final Model model;
    private final SizedEngine engines;
    private final TrajectoryOptions options;
    private final TrajectoryEncoder encoder;
    private long tokensScored;

    /** Scores on the caller's engine: its context is the limit (longer trajectories are cut to it). */
    public TrajectoryScorer(Engine engine, TrajectoryOptions options) {
        this(SizedEngine.fixed(engine), options);
    }

    /**
     * Scores on engines sized to the work ({@link SizedEngine}): each window gets a context that
     * fits its longest trajectory, up to the model's training context (or {@code engineOptions}'
     * context size when set). Close the scorer to free the engine.
     */
    public TrajectoryScorer(Model model, EngineOptions engineOptions, TrajectoryOptions options) {
        this(SizedEngine.sized(model, engineOptions), options);
    }

    private TrajectoryScorer(SizedEngine engines, TrajectoryOptions options) {
        this.engines = engines;
        this.model = engines.model();
        this.options = Objects.requireNonNull(options, "options");
        this.encoder = new TrajectoryEncoder(model, options.template());
    }

    /** Frees the engine this scorer created (not a caller's engine). */
    @Override
    public void close() {
        engines.close();
    }

    public TrajectoryEncoder encoder() {
        return encoder;
    }

    /** Response tokens scored so far. */
    public long tokensScored() {
        return tokensScored;
    }

    /** Scores every trajectory; see {@link #score(Iterator, Predicate)}. */
    public Iterator<Outcome> score(Iterator<Trajectory> input) {
        return score(input, id -> false);
    }

    /**
     * Lazily scores the input. Trajectories for which {@code alreadyDone} holds are not reported
     * (a resumed run); they are still scored when they share a window with ones that are not.
     */
    public Iterator<Outcome> score(Iterator<Trajectory> input, Predicate<String> alreadyDone) {
        return TrajectoryBatch.windows(input, options.chunkSize(), alreadyDone, this::scoreWindow, Outcome::id,
                (t, i, why) -> new Failed(i, t.id(), why));
    }

    /** Scores a list in one go (one chunk per {@code chunkSize}). */
    public List<Outcome> scoreAll(List<Trajectory> trajectories) {
        List<Outcome> out = new ArrayList<>();
        score(trajectories.iterator()).forEachRemaining(out::add);
        return out;
    }

    private List<Outcome> scoreWindow(List<Trajectory> window, long firstIndex) {
        int limit = engines.limit();
        List<TrajectoryBatch.Item> items = TrajectoryBatch.encode(encoder, window, firstIndex, limit, Math.min(limit, options.maxTokens()));
        List<TrajectoryBatch.Item> ok = items.stream().filter(TrajectoryBatch.Item::ok).toList();
        List<TokenScores> scores = ok.isEmpty() ? List.of()
                : engines.forTokens(TrajectoryBatch.longest(ok)).score(TrajectoryBatch.sequences(ok), ScoreOptions.defaults());
        List<Outcome> out = new ArrayList<>(items.size());
        int k = 0;
        for (TrajectoryBatch.Item it : items) {
            Trajectory t = it.trajectory();
            if (!it.ok()) {
                out.add(new Failed(it.index(), t.id(), it.failure()));
                continue;
            }
            TokenScores s = scores.get(k++);
            tokensScored += s.size();
            out.add(new Scored(it.index(), Rsr.score(t.id(), t.problem(), t.teacher(), s, options.rMax(), tokenSteps(it.encoded()),
                    options.perToken()), it.encoded().truncatedFrom()));
        }
        return out;
    }

    private int[] tokenSteps(TrajectoryEncoder.Encoded e) {
        return options.stepDelimiter() == null ? null : Steps.ofScoredTokens(model, e, Steps.stepEnds(e.responseText(), options.stepDelimiter()));
    }
}
