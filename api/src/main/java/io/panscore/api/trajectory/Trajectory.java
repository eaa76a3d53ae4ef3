package io.panscore.api.trajectory;

import io.panscore.kernel.ChatMessage;
import java.util.List;
import java.util.Objects;

/**
 * One (prompt, response) pair to score: the response of a teacher to a problem. The prompt is
 * either a plain string or chat messages; only the response's tokens are scored.
 *
 * @param id       unique id (the key for resuming and for selection)
 * @param problem  the problem it answers (trajectories of one problem compete in selection)
 * @param teacher  who wrote it (teachers are ranked by dataset RSR); "" if unknown
 * @param prompt   the prompt text, or null when {@code messages} is given
 * @param messages the prompt as chat messages, or null when {@code prompt} is given
 * @param response the response text, scored token by token
 * @param steps    explicit reasoning steps whose concatenation is the response, or null to split
 *                 the response on a delimiter when steps are needed
 */
public record Trajectory(String id, String problem, String teacher, String prompt, List<ChatMessage> messages, String response,
        List<String> steps) {

    public Trajectory {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(response, "response");
        problem = problem == null ? "" : problem;
        teacher = teacher == null ? "" : teacher;
        if ((prompt == null) == (messages == null)) {
            throw new IllegalArgumentException("exactly one of prompt and messages must be given");
        }
        messages = messages == null ? null : List.copyOf(messages);
        if (steps != null) {
            steps = List.copyOf(steps);
            if (!String.join("", steps).equals(response)) {
                throw new IllegalArgumentException("the steps, concatenated, must equal the response");
            }
        }
    }

    public Trajectory(String id, String problem, String teacher, String prompt, List<ChatMessage> messages, String response) {
        this(id, problem, teacher, prompt, messages, response, null);
    }

    public static Trajectory of(String id, String problem, String teacher, String prompt, String response) {
        return new Trajectory(id, problem, teacher, prompt, null, response, null);
    }
}
