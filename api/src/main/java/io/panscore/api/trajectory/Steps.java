package io.panscore.api.trajectory;

import io.panscore.kernel.Model;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Splits a response into reasoning steps and maps steps to tokens.
 *
 * <p>A step is the text up to and including the next delimiter (the last step runs to the end).
 * Tokens are located by the UTF-8 byte ranges of their pieces. <b>Rule: a token belongs to the step
 * in which its last byte lies.</b> So a token that completes a step with its delimiter (".\n\n")
 * counts for that step, and a token that straddles a boundary ("\n\nThe", delimiter plus the start
 * of the next step) counts for the step it ends in, the next one: no token is counted twice and
 * every token counts once.
 */
public final class Steps {

    private Steps() {}

    /** Byte offsets where steps end (exclusive), the last being the text's length. */
    public static int[] stepEnds(String text, String delimiter) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        List<Integer> ends = new ArrayList<>();
        if (delimiter != null && !delimiter.isEmpty()) {
            byte[] d = delimiter.getBytes(StandardCharsets.UTF_8);
            int i = 0;
            while (i + d.length <= bytes.length) {
                if (matches(bytes, i, d)) {
                    int end = i + d.length;
                    // a run of delimiters ("\n\n\n\n") ends one step, not several empty ones
                    while (end + d.length <= bytes.length && matches(bytes, end, d)) {
                        end += d.length;
                    }
                    if (end < bytes.length) {
                        ends.add(end);
                    }
                    i = end;
                } else {
                    i++;
                }
            }
        }
        ends.add(bytes.length);
        return ends.stream().mapToInt(Integer::intValue).toArray();
    }

    private static final java.util.regex.Pattern STEP_MARKER = java.util.regex.Pattern.compile("Step \\d+:");

    /**
     * Byte offsets where steps end when a response is split before each {@code "Step N:"} marker
     * (the released ImplicitPRM best-of-N code re-splits responses on {@code Step \d+:}): every step
     * but the first starts with its marker; the text before the first marker belongs to step 1.
     */
    public static int[] markerEnds(String text) {
        List<Integer> ends = new ArrayList<>();
        java.util.regex.Matcher m = STEP_MARKER.matcher(text);
        while (m.find()) {
            int at = text.substring(0, m.start()).getBytes(StandardCharsets.UTF_8).length;
            if (at > 0 && (ends.isEmpty() || ends.getLast() < at)) {
                ends.add(at);
            }
        }
        int n = text.getBytes(StandardCharsets.UTF_8).length;
        ends.add(n);
        return ends.stream().mapToInt(Integer::intValue).toArray();
    }

    private static boolean matches(byte[] bytes, int at, byte[] d) {
        for (int k = 0; k < d.length; k++) {
            if (bytes[at + k] != d[k]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The step of each token, given each token's byte length (pieces in order) and the step ends.
     * Tokens past the text's end (should pieces be longer than the text) go to the last step.
     */
    public static int[] tokenSteps(int[] pieceBytes, int[] stepEnds) {
        int[] step = new int[pieceBytes.length];
        int end = 0;
        int s = 0;
        for (int i = 0; i < pieceBytes.length; i++) {
            end += pieceBytes[i];
            int last = Math.max(0, end - 1); // the token's last byte
            while (s < stepEnds.length - 1 && last >= stepEnds[s]) {
                s++;
            }
            step[i] = s;
        }
        return step;
    }

    /**
     * The step of each scored response token of an encoded trajectory, for steps ending at
     * {@code stepEnds} (byte offsets into the response text).
     */
    public static int[] ofScoredTokens(Model model, TrajectoryEncoder.Encoded e, int[] stepEnds) {
        int[] steps = tokenSteps(model.pieceByteLengths(e.responseTokens()), stepEnds);
        return Arrays.copyOfRange(steps, e.unscoredResponseTokens(), steps.length);
    }

    /** Step ends for explicit steps whose texts, concatenated, are the response. */
    public static int[] explicitEnds(List<String> steps) {
        int[] ends = new int[steps.size()];
        int at = 0;
        for (int i = 0; i < steps.size(); i++) {
            at += steps.get(i).getBytes(StandardCharsets.UTF_8).length;
            ends[i] = at;
        }
        return ends;
    }
}
