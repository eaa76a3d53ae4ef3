package io.panscore.api;

import io.panscore.api.trajectory.Trajectory;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Expected values for the tests, computed without the production code under test: token sequences
 * built here (template "none": the prompt as is, with BOS; the response as plain text), per-token
 * statistics from the float64 {@link ReferenceKernel} on raw logits, token-to-step maps from
 * prefix detokenization and a regex, rewards and RSR from their SPEC formulas.
 */
public final class Independent {

    private Independent() {}

    /** A trajectory as tokens, built as SPEC §3 says for template "none". */
    public record Tokens(int[] all, int promptLength, int[] response) {
        public Sequence sequence() {
            return Sequence.from(all, promptLength);
        }
    }

    /** Template "none": a string prompt as is, chat messages' contents joined by newlines; BOS added; response plain. */
    public static Tokens tokensNoTemplate(Model model, Trajectory t) {
        String prompt = t.prompt() != null ? t.prompt() : String.join("\n", t.messages().stream().map(ChatMessage::content).toList());
        int[] p = model.tokenize(prompt, true, false);
        int[] r = model.tokenize(t.response(), false, false);
        int[] all = Arrays.copyOf(p, p.length + r.length);
        System.arraycopy(r, 0, all, p.length, r.length);
        return new Tokens(all, p.length, r);
    }

    /** Float64 reference statistics of every scored position (top-k as asked). */
    public static ReferenceKernel.Stats[] reference(Engine engine, Sequence seq, int topK) {
        int vocab = engine.model().info().vocabSize();
        float[] logits = engine.logits(List.of(seq));
        ReferenceKernel.Stats[] out = new ReferenceKernel.Stats[seq.scoredCount()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ReferenceKernel.stats(logits, i * vocab, vocab, seq.tokens()[seq.scoreBegin() + i], 1.0, topK);
        }
        return out;
    }

    /** The reference statistics of the distribution after {@code context} (its next token). */
    public static ReferenceKernel.Stats next(Engine engine, int[] context, int topK) {
        int[] withNext = Arrays.copyOf(context, context.length + 1); // any target: only the distribution matters
        return reference(engine, new Sequence(withNext, context.length, context.length + 1), topK)[0];
    }

    /**
     * The step of each response token: a token belongs to the step its last byte lies in (README).
     * Byte ends come from detokenizing growing prefixes; steps end after each run of delimiters.
     */
    public static int[] tokenSteps(Model model, int[] responseTokens, String text, String delimiter) {
        List<Integer> stepEnds = new ArrayList<>();
        Matcher m = Pattern.compile("(?:" + Pattern.quote(delimiter) + ")+").matcher(text);
        while (m.find()) {
            int end = text.substring(0, m.end()).getBytes(StandardCharsets.UTF_8).length;
            if (m.end() < text.length()) {
                stepEnds.add(end);
            }
        }
        return tokenStepsAt(model, responseTokens, stepEnds.stream().mapToInt(Integer::intValue).toArray());
    }

    /** The step of each response token for steps ending (exclusive) at the given byte offsets (the last step runs on). */
    public static int[] tokenStepsAt(Model model, int[] responseTokens, int[] stepEnds) {
        int[] steps = new int[responseTokens.length];
        for (int i = 0; i < responseTokens.length; i++) {
            String prefix = model.detokenize(Arrays.copyOf(responseTokens, i + 1), false);
            String whole = prefix;
            while (prefix.endsWith("\uFFFD")) { // the prefix ends inside a multi-byte character
                prefix = prefix.substring(0, prefix.length() - 1);
            }
            int bytes = prefix.getBytes(StandardCharsets.UTF_8).length;
            int lastByte = whole.length() > prefix.length() ? bytes : bytes - 1;
            int s = 0;
            for (int end : stepEnds) {
                if (lastByte >= end) {
                    s++;
                }
            }
            steps[i] = s;
        }
        return steps;
    }

    /** Tokens per step, from a token-to-step map. */
    public static int[] countsPerStep(int[] steps) {
        int n = steps.length == 0 ? 0 : steps[steps.length - 1] + 1;
        int[] counts = new int[n];
        for (int s : steps) {
            counts[s]++;
        }
        return counts;
    }

    /** Entropy of the given log-probs' probabilities renormalised to sum to 1, in float64 (GlimpRouter's top-k mode). */
    public static double renormalisedEntropy(double[] logprobs) {
        return ReferenceKernel.renormalisedEntropy(logprobs);
    }
}
