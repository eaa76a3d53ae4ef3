package io.panscore.api.router;

import java.util.List;

/**
 * A problem routed to its end.
 *
 * @param steps         the accepted steps in order (a repeated step is not among them)
 * @param answer        the final answer (null when none was asked for)
 * @param answerTokens  its tokens
 * @param stopReason    why the reasoning ended: "end_of_thinking", "repeated_step", "max_total_tokens",
 *                      "end_of_generation" (the small model ended its turn) or "context_full"
 * @param wallNanos     the whole problem, answer included
 */
public record RoutedTrace(List<Step> steps, String answer, int answerTokens, String stopReason, long wallNanos) {

    /**
     * One step.
     *
     * @param model    "small" or "large"
     * @param entropy  the glimpse's entropy (NaN when the policy did not glimpse)
     * @param text     the step's text (without the delimiter)
     * @param tokens   tokens generated for it
     * @param nanos    time spent on it, glimpse included
     */
    public record Step(String model, double entropy, String text, int tokens, long nanos) {}

    public RoutedTrace {
        steps = List.copyOf(steps);
    }

    /** The fraction of steps the large model wrote (0 without steps). */
    public double largeStepFraction() {
        return steps.isEmpty() ? 0 : steps.stream().filter(s -> s.model.equals("large")).count() / (double) steps.size();
    }

    /** The fraction of step tokens the large model wrote (0 without tokens). */
    public double largeTokenFraction() {
        long all = steps.stream().mapToLong(Step::tokens).sum();
        return all == 0 ? 0 : steps.stream().filter(s -> s.model.equals("large")).mapToLong(Step::tokens).sum() / (double) all;
    }
}
