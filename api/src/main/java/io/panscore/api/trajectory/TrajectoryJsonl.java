package io.panscore.api.trajectory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * Reads trajectories from JSON lines, one object per line:
 * <pre>
 * {"id": "p1-t1-0", "problem": "p1", "teacher": "t1", "prompt": "...", "response": "..."}
 * {"id": "p1-t2-0", "problem": "p1", "teacher": "t2", "messages": [{"role": "user", "content": "..."},
 *                                                                    {"role": "assistant", "content": "..."}]}
 * </pre>
 * With {@code messages}, the last message must be the assistant's: it is the response, and the
 * messages before it are the prompt. A {@code response} field next to {@code messages} is the
 * response instead (then every message is prompt). An optional {@code "steps"} array of strings gives
 * explicit reasoning steps; without a {@code response}, their concatenation is the response. {@code problem} and {@code teacher} default to
 * "". Blank lines are ignored. Ids must be unique.
 *
 * <p>A malformed line becomes a {@link MalformedInputException} naming the line, handed to the
 * error handler, which may throw it (stop) or note it and let reading go on (skip). Not thread-safe.
 */
public final class TrajectoryJsonl implements Iterator<Trajectory> {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final BufferedReader reader;
    private final Consumer<MalformedInputException> onMalformed;
    private final Map<String, Long> seen = new HashMap<>();
    private long lineNo;
    private Trajectory next;

    public TrajectoryJsonl(BufferedReader reader, Consumer<MalformedInputException> onMalformed) {
        this.reader = reader;
        this.onMalformed = onMalformed;
    }

    @Override
    public boolean hasNext() {
        try {
            while (next == null) {
                String line = reader.readLine();
                if (line == null) {
                    return false;
                }
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    Trajectory t = parse(line, lineNo);
                    Long first = seen.putIfAbsent(t.id(), lineNo);
                    if (first != null) {
                        throw new MalformedInputException(lineNo, "duplicate id \"" + t.id() + "\" (first on line " + first + ")");
                    }
                    next = t;
                } catch (MalformedInputException e) {
                    onMalformed.accept(e);
                }
            }
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Trajectory next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        Trajectory t = next;
        next = null;
        return t;
    }

    /** Lines read so far. */
    public long linesRead() {
        return lineNo;
    }

    /** Parses one line (1-based {@code lineNo} for messages). */
    public static Trajectory parse(String line, long lineNo) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new MalformedInputException(lineNo, "not valid JSON: " + jsonProblem(e));
        }
        if (node == null || !node.isObject()) {
            throw new MalformedInputException(lineNo, "expected a JSON object, got " + (node == null ? "nothing" : node.getNodeType()));
        }
        String id = text(node, "id", lineNo, true);
        String problem = text(node, "problem", lineNo, false);
        String teacher = text(node, "teacher", lineNo, false);
        String prompt = text(node, "prompt", lineNo, false);
        String response = text(node, "response", lineNo, false);
        List<ChatMessage> messages = null;
        JsonNode m = node.get("messages");
        if (m != null && !m.isNull()) {
            if (!m.isArray() || m.isEmpty()) {
                throw new MalformedInputException(lineNo, "\"messages\" must be a non-empty array of {\"role\", \"content\"} objects");
            }
            messages = new ArrayList<>();
            for (int i = 0; i < m.size(); i++) {
                JsonNode msg = m.get(i);
                if (!msg.isObject() || !msg.path("role").isTextual() || !msg.path("content").isTextual()) {
                    throw new MalformedInputException(lineNo, "messages[" + i + "] must be an object with string \"role\" and \"content\"");
                }
                messages.add(new ChatMessage(msg.get("role").asText(), msg.get("content").asText()));
            }
            if (prompt != null) {
                throw new MalformedInputException(lineNo, "give either \"prompt\" or \"messages\", not both");
            }
            if (response == null) {
                ChatMessage last = messages.getLast();
                if (!last.role().equals("assistant")) {
                    throw new MalformedInputException(lineNo,
                            "without a \"response\" field the last message must be the assistant's response, but its role is \"" + last.role() + "\"");
                }
                response = last.content();
                messages = messages.subList(0, messages.size() - 1);
                if (messages.isEmpty()) {
                    throw new MalformedInputException(lineNo, "\"messages\" holds only the response: there is no prompt");
                }
            }
        } else if (prompt == null) {
            throw new MalformedInputException(lineNo, "missing \"prompt\" (or \"messages\")");
        }
        List<String> steps = null;
        JsonNode st = node.get("steps");
        if (st != null && !st.isNull()) {
            if (!st.isArray() || st.isEmpty()) {
                throw new MalformedInputException(lineNo, "\"steps\" must be a non-empty array of strings");
            }
            steps = new ArrayList<>();
            for (int i = 0; i < st.size(); i++) {
                if (!st.get(i).isTextual()) {
                    throw new MalformedInputException(lineNo, "steps[" + i + "] must be a string");
                }
                steps.add(st.get(i).asText());
            }
            String joined = String.join("", steps);
            if (response == null) {
                response = joined;
            } else if (!response.equals(joined)) {
                throw new MalformedInputException(lineNo, "\"steps\" concatenated differ from \"response\"");
            }
        }
        if (response == null) {
            throw new MalformedInputException(lineNo, "missing \"response\"");
        }
        return new Trajectory(id, problem, teacher, prompt, messages, response, steps);
    }

    /**
     * Jackson's message without its source-location noise ("[Source: REDACTED (`StreamReadFeature...`
     * disabled); line: 1, column: 7]" becomes "column 7"), on one line.
     */
    static String jsonProblem(JsonProcessingException e) {
        String m = e.getOriginalMessage();
        m = m.replaceAll("\\[Source: [^\\]]*?; line: \\d+, column: (\\d+)\\]", "column $1");
        m = m.replaceAll("\\s*\\R\\s*", " ").strip();
        if (e.getLocation() != null && e.getLocation().getColumnNr() > 0) {
            m += " (at column " + e.getLocation().getColumnNr() + ")";
        }
        return m;
    }

    private static String text(JsonNode node, String field, long lineNo, boolean required) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new MalformedInputException(lineNo, "missing \"" + field + "\"");
            }
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isNumber() && (field.equals("id") || field.equals("problem"))) {
            return v.asText(); // numeric ids are common; keep their text
        }
        throw new MalformedInputException(lineNo, "\"" + field + "\" must be a string, got " + v.getNodeType().toString().toLowerCase());
    }
}
