package io.panscore.api.trajectory;

import io.panscore.kernel.Engine;
import io.panscore.kernel.Model;
import io.panscore.kernel.PanscoreException;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import java.nio.IntBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
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
public final class TrajectoryScorer {

    /** What became of one trajectory. */
    public sealed interface Outcome permits Scored, Failed {
        /** Position in the input stream, from 0. */
        long index();

        String id();
    }

    public record Scored(long index, TrajectoryScore score) implements Outcome {
        @Override
        public String id() {
            return score.id();
        }
    }

    /** A trajectory that could not be scored (empty response, longer than the context, ...). */
    public record Failed(long index, String id, String message) implements Outcome {}

    private final Model model;
    private final Engine engine;
    private final TrajectoryOptions options;
    private final TrajectoryEncoder encoder;
    private long tokensScored;

    public TrajectoryScorer(Engine engine, TrajectoryOptions options) {
        this.engine = Objects.requireNonNull(engine, "engine");
        this.model = engine.model();
        this.options = Objects.requireNonNull(options, "options");
        this.encoder = new TrajectoryEncoder(model, options.template());
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
        return new Iterator<>() {
            private final ArrayDeque<Outcome> ready = new ArrayDeque<>();
            private long next;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && input.hasNext()) {
                    List<Trajectory> window = new ArrayList<>(options.chunkSize());
                    while (window.size() < options.chunkSize() && input.hasNext()) {
                        window.add(input.next());
                    }
                    long first = next;
                    next += window.size();
                    if (window.stream().allMatch(t -> alreadyDone.test(t.id()))) {
                        continue;
                    }
                    for (Outcome o : scoreWindow(window, first)) {
                        if (!alreadyDone.test(o.id())) {
                            ready.add(o);
                        }
                    }
                }
                return !ready.isEmpty();
            }

            @Override
            public Outcome next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }

    /** Scores a list in one go (one chunk per {@code chunkSize}). */
    public List<Outcome> scoreAll(List<Trajectory> trajectories) {
        List<Outcome> out = new ArrayList<>();
        score(trajectories.iterator()).forEachRemaining(out::add);
        return out;
    }

    private List<Outcome> scoreWindow(List<Trajectory> window, long firstIndex) {
        Outcome[] outcomes = new Outcome[window.size()];
        List<Integer> members = new ArrayList<>();
        List<TrajectoryEncoder.Encoded> encoded = new ArrayList<>();
        int context = engine.options().contextSize();
        for (int i = 0; i < window.size(); i++) {
            Trajectory t = window.get(i);
            try {
                TrajectoryEncoder.Encoded e = encoder.encode(t);
                if (e.tokens().length > context) {
                    throw new IllegalArgumentException("prompt + response are " + e.tokens().length
                            + " tokens, more than the engine's context of " + context + " (raise --ctx)");
                }
                members.add(i);
                encoded.add(e);
            } catch (IllegalArgumentException | PanscoreException e) {
                outcomes[i] = new Failed(firstIndex + i, t.id(), e.getMessage());
            }
        }
        if (!encoded.isEmpty()) {
            List<TokenScores> scores = engine.score(sequences(encoded), ScoreOptions.defaults());
            for (int k = 0; k < members.size(); k++) {
                int i = members.get(k);
                Trajectory t = window.get(i);
                TrajectoryEncoder.Encoded e = encoded.get(k);
                TokenScores s = scores.get(k);
                tokensScored += s.size();
                outcomes[i] = new Scored(firstIndex + i, Rsr.score(t.id(), t.problem(), t.teacher(), s, options.rMax(), tokenSteps(e),
                        options.perToken()));
            }
        }
        return Arrays.asList(outcomes);
    }

    /** One sequence per trajectory; trajectories with identical prompt tokens share them. */
    private static List<Sequence> sequences(List<TrajectoryEncoder.Encoded> encoded) {
        Map<IntBuffer, Integer> count = new HashMap<>();
        for (TrajectoryEncoder.Encoded e : encoded) {
            count.merge(IntBuffer.wrap(e.tokens(), 0, e.promptLength()), 1, Integer::sum);
        }
        Map<IntBuffer, Integer> groups = new HashMap<>();
        List<Sequence> seqs = new ArrayList<>(encoded.size());
        for (TrajectoryEncoder.Encoded e : encoded) {
            Sequence s = Sequence.from(e.tokens(), e.promptLength());
            IntBuffer prompt = IntBuffer.wrap(e.tokens(), 0, e.promptLength());
            if (count.get(prompt) > 1) {
                int group = groups.computeIfAbsent(prompt, p -> groups.size() + 1);
                s = s.sharingPrefix(group, e.promptLength());
            }
            seqs.add(s);
        }
        return seqs;
    }

    private int[] tokenSteps(TrajectoryEncoder.Encoded e) {
        if (options.stepDelimiter() == null) {
            return null;
        }
        int[] pieces = model.pieceByteLengths(e.responseTokens());
        int[] steps = Steps.tokenSteps(pieces, Steps.stepEnds(e.responseText(), options.stepDelimiter()));
        return Arrays.copyOfRange(steps, e.unscoredResponseTokens(), steps.length);
    }
}
