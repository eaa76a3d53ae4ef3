package io.panscore.api.trajectory;

import io.panscore.kernel.PanscoreException;
import io.panscore.kernel.Sequence;
import java.nio.IntBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The machinery every trajectory scorer shares: fixed windows over the input (the unit of one
 * native call, which keeps results reproducible to the bit across resumed runs), encoding with
 * per-trajectory failures, and token sequences that declare shared prompts. Stateless.
 */
public final class TrajectoryBatch {

    private TrajectoryBatch() {}

    /** A trajectory of a window: encoded, or the reason it cannot be scored. */
    public record Item(long index, Trajectory trajectory, TrajectoryEncoder.Encoded encoded, String failure) {
        public boolean ok() {
            return encoded != null;
        }
    }

    /** Encodes a window; a trajectory that fails (empty response, too long) fails alone. */
    public static List<Item> encode(TrajectoryEncoder encoder, List<Trajectory> window, long firstIndex, int contextSize) {
        return encode(encoder, window, firstIndex, contextSize, Integer.MAX_VALUE);
    }

    /**
     * Encodes a window, cutting each trajectory to {@code maxTokens} tokens (the cut part is not
     * scored; {@link TrajectoryEncoder.Encoded#truncated()} says so); a trajectory that fails (empty
     * response, a prompt that fills maxTokens, longer than the context) fails alone.
     */
    public static List<Item> encode(TrajectoryEncoder encoder, List<Trajectory> window, long firstIndex, int contextSize, int maxTokens) {
        List<Item> items = new ArrayList<>(window.size());
        for (int i = 0; i < window.size(); i++) {
            Trajectory t = window.get(i);
            try {
                TrajectoryEncoder.Encoded e = encoder.encode(t, maxTokens);
                if (e.tokens().length > contextSize) {
                    throw new IllegalArgumentException("prompt + response are " + e.tokens().length
                            + " tokens, more than the engine's context of " + contextSize + " (raise --ctx, or lower --max-tokens to truncate)");
                }
                items.add(new Item(firstIndex + i, t, e, null));
            } catch (IllegalArgumentException | PanscoreException e) {
                items.add(new Item(firstIndex + i, t, null, e.getMessage()));
            }
        }
        return items;
    }

    /** The longest encoded sequence of a window (0 when none encoded). */
    public static int longest(List<Item> ok) {
        int n = 0;
        for (Item it : ok) {
            n = Math.max(n, it.encoded().tokens().length);
        }
        return n;
    }

    /** One sequence per encoded item, scoring the response; items with identical prompt tokens share them. */
    public static List<Sequence> sequences(List<Item> ok) {
        Map<IntBuffer, Integer> count = new HashMap<>();
        for (Item it : ok) {
            count.merge(prompt(it), 1, Integer::sum);
        }
        Map<IntBuffer, Integer> groups = new HashMap<>();
        List<Sequence> seqs = new ArrayList<>(ok.size());
        for (Item it : ok) {
            TrajectoryEncoder.Encoded e = it.encoded();
            Sequence s = Sequence.from(e.tokens(), e.promptLength());
            IntBuffer p = prompt(it);
            if (count.get(p) > 1) {
                s = s.sharingPrefix(groups.computeIfAbsent(p, k -> groups.size() + 1), e.promptLength());
            }
            seqs.add(s);
        }
        return seqs;
    }

    private static String why(RuntimeException e) {
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private static IntBuffer prompt(Item it) {
        return IntBuffer.wrap(it.encoded().tokens(), 0, it.encoded().promptLength());
    }

    /**
     * Pulls fixed windows of {@code size} trajectories, scores each with {@code scoreWindow}
     * (window, index of its first trajectory) and yields the results in order, leaving out those
     * whose id is {@code alreadyDone}; a window of done trajectories only is not scored at all.
     */
    public static <R> Iterator<R> windows(Iterator<Trajectory> input, int size, Predicate<String> alreadyDone,
            BiFunction<List<Trajectory>, Long, List<R>> scoreWindow, Function<R, String> idOf) {
        return windows(input, size, alreadyDone, scoreWindow, idOf, null);
    }

    /** Makes the result of a trajectory that could not be scored: (trajectory, its index, why). */
    @FunctionalInterface
    public interface FailureFactory<R> {
        R failed(Trajectory t, long index, String message);
    }

    /**
     * As {@link #windows(Iterator, int, Predicate, BiFunction, Function)}; when scoring a window
     * throws and {@code failed} is given, the window is scored again one trajectory at a time, and
     * each trajectory that still fails becomes {@code failed}'s result, so one bad trajectory costs
     * only itself. (The others of that window are then scored alone, which a rerun repeats exactly.)
     */
    public static <R> Iterator<R> windows(Iterator<Trajectory> input, int size, Predicate<String> alreadyDone,
            BiFunction<List<Trajectory>, Long, List<R>> scoreWindow, Function<R, String> idOf, FailureFactory<R> failed) {
        return new Iterator<>() {
            private final ArrayDeque<R> ready = new ArrayDeque<>();
            private long next;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && input.hasNext()) {
                    List<Trajectory> window = new ArrayList<>(size);
                    while (window.size() < size && input.hasNext()) {
                        window.add(input.next());
                    }
                    long first = next;
                    next += window.size();
                    if (window.stream().allMatch(t -> alreadyDone.test(t.id()))) {
                        continue;
                    }
                    for (R r : score(window, first)) {
                        if (!alreadyDone.test(idOf.apply(r))) {
                            ready.add(r);
                        }
                    }
                }
                return !ready.isEmpty();
            }

            private List<R> score(List<Trajectory> window, long first) {
                try {
                    return scoreWindow.apply(window, first);
                } catch (RuntimeException e) {
                    if (failed == null) {
                        throw e;
                    }
                    List<R> out = new ArrayList<>(window.size());
                    for (int i = 0; i < window.size(); i++) {
                        Trajectory t = window.get(i);
                        if (window.size() > 1 && alreadyDone.test(t.id())) {
                            continue; // reported already: no need to score it alone
                        }
                        try {
                            out.addAll(window.size() == 1 ? List.of(failed.failed(t, first + i, why(e)))
                                    : scoreWindow.apply(List.of(t), first + i));
                        } catch (RuntimeException alone) {
                            out.add(failed.failed(t, first + i, why(alone)));
                        }
                    }
                    return out;
                }
            }

            @Override
            public R next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }
}
