package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

/**
 * The input shapes of a JSONL trajectory line one by one (chat messages with and without a
 * response field, explicit steps, ids and problems as numbers), the exact message of each refusal,
 * and the reader's end. Expected values are the lines themselves, read by hand.
 */
class TrajectoryJsonlShapesTest {

    private static String refusal(String line) {
        MalformedInputException e = assertThrows(MalformedInputException.class, () -> TrajectoryJsonl.parse(line, 4));
        assertEquals(4, e.line());
        return e.getMessage();
    }

    private static final String USER = "{\"role\": \"user\", \"content\": \"q\"}";
    private static final String ASSISTANT = "{\"role\": \"assistant\", \"content\": \"r\"}";

    @Test
    void messagesRefusedOneShapeAtATime() {
        String nonEmpty = "line 4: \"messages\" must be a non-empty array of {\"role\", \"content\"} objects";
        assertEquals(nonEmpty, refusal("{\"id\": \"a\", \"messages\": \"hi\", \"response\": \"r\"}"));
        assertEquals(nonEmpty, refusal("{\"id\": \"a\", \"messages\": {\"role\": \"user\"}, \"response\": \"r\"}"));
        assertEquals(nonEmpty, refusal("{\"id\": \"a\", \"messages\": [], \"response\": \"r\"}"));
        String second = "line 4: messages[1] must be an object with string \"role\" and \"content\"";
        assertEquals(second, refusal("{\"id\": \"a\", \"messages\": [" + USER + ", 5], \"response\": \"r\"}"));
        assertEquals(second, refusal("{\"id\": \"a\", \"messages\": [" + USER + ", {\"role\": 1, \"content\": \"x\"}], \"response\": \"r\"}"));
        assertEquals(second, refusal("{\"id\": \"a\", \"messages\": [" + USER + ", {\"role\": \"user\", \"content\": [\"x\"]}], \"response\": \"r\"}"));
        assertEquals(second, refusal("{\"id\": \"a\", \"messages\": [" + USER + ", {\"content\": \"x\"}], \"response\": \"r\"}"));
        assertEquals("line 4: give either \"prompt\" or \"messages\", not both",
                refusal("{\"id\": \"a\", \"prompt\": \"p\", \"messages\": [" + USER + ", " + ASSISTANT + "]}"));
        assertEquals("line 4: without a \"response\" field the last message must be the assistant's response, but its role is \"system\"",
                refusal("{\"id\": \"a\", \"messages\": [" + USER + ", {\"role\": \"system\", \"content\": \"s\"}]}"));
        assertEquals("line 4: \"messages\" holds only the response: there is no prompt", refusal("{\"id\": \"a\", \"messages\": [" + ASSISTANT + "]}"));
        assertEquals("line 4: missing \"prompt\" (or \"messages\")", refusal("{\"id\": \"a\", \"messages\": null, \"response\": \"r\"}"));
    }

    @Test
    void messagesAcceptedWithAndWithoutAResponseField() {
        // without "response": the last (assistant) message is the response, the rest the prompt
        Trajectory t = TrajectoryJsonl.parse("{\"id\": \"a\", \"messages\": [{\"role\": \"system\", \"content\": \"s\"}, " + USER + ", " + ASSISTANT + "]}", 1);
        assertEquals(List.of(new ChatMessage("system", "s"), new ChatMessage("user", "q")), t.messages());
        assertEquals("r", t.response());
        assertNull(t.prompt());
        // with "response": every message is prompt, an assistant's included
        Trajectory u = TrajectoryJsonl.parse("{\"id\": \"b\", \"messages\": [" + USER + ", " + ASSISTANT + "], \"response\": \"final\"}", 1);
        assertEquals(List.of(new ChatMessage("user", "q"), new ChatMessage("assistant", "r")), u.messages());
        assertEquals("final", u.response());
        // a null "messages" is no messages: the prompt is used
        Trajectory v = TrajectoryJsonl.parse("{\"id\": \"c\", \"prompt\": \"p\", \"messages\": null, \"response\": \"x\", \"teacher\": null}", 1);
        assertEquals("p", v.prompt());
        assertNull(v.messages());
        assertEquals("", v.teacher());
    }

    @Test
    void explicitSteps() {
        Trajectory t = TrajectoryJsonl.parse("{\"id\": \"a\", \"prompt\": \"p\", \"steps\": [\"One. \", \"Two.\"]}", 1);
        assertEquals("One. Two.", t.response(), "without a response the steps, joined, are it");
        assertEquals(List.of("One. ", "Two."), t.steps());
        Trajectory u = TrajectoryJsonl.parse("{\"id\": \"a\", \"prompt\": \"p\", \"response\": \"ab\", \"steps\": [\"a\", \"b\"]}", 1);
        assertEquals(List.of("a", "b"), u.steps());
        assertNull(TrajectoryJsonl.parse("{\"id\": \"a\", \"prompt\": \"p\", \"response\": \"ab\", \"steps\": null}", 1).steps());
        String shape = "line 4: \"steps\" must be a non-empty array of strings";
        assertEquals(shape, refusal("{\"id\": \"a\", \"prompt\": \"p\", \"steps\": \"ab\"}"));
        assertEquals(shape, refusal("{\"id\": \"a\", \"prompt\": \"p\", \"steps\": []}"));
        assertEquals("line 4: steps[1] must be a string", refusal("{\"id\": \"a\", \"prompt\": \"p\", \"steps\": [\"a\", 2]}"));
        assertEquals("line 4: \"steps\" concatenated differ from \"response\"",
                refusal("{\"id\": \"a\", \"prompt\": \"p\", \"response\": \"ab\", \"steps\": [\"a\", \"c\"]}"));
    }

    @Test
    void fieldTypes() {
        assertEquals("line 4: \"teacher\" must be a string, got number", refusal("{\"id\": \"a\", \"teacher\": 3, \"prompt\": \"p\", \"response\": \"r\"}"));
        assertEquals("line 4: \"response\" must be a string, got number", refusal("{\"id\": \"a\", \"prompt\": \"p\", \"response\": 7}"));
        assertEquals("line 4: \"id\" must be a string, got boolean", refusal("{\"id\": true, \"prompt\": \"p\", \"response\": \"r\"}"));
        assertEquals("line 4: \"problem\" must be a string, got array", refusal("{\"id\": \"a\", \"problem\": [], \"prompt\": \"p\", \"response\": \"r\"}"));
        assertEquals("line 4: missing \"id\"", refusal("{\"id\": null, \"prompt\": \"p\", \"response\": \"r\"}"));
        assertEquals("line 4: expected a JSON object, got NUMBER", refusal("5"));
        assertEquals("line 4: expected a JSON object, got STRING", refusal("\"text\""));
        Trajectory t = TrajectoryJsonl.parse("{\"id\": 1.5, \"problem\": 7, \"prompt\": \"p\", \"response\": \"r\"}", 1);
        assertEquals("1.5", t.id());
        assertEquals("7", t.problem());
    }

    @Test
    void invalidJsonIsNamedByColumnOnOneLine() {
        // "{"id": x}": the bad token x starts at column 8 (1-based) and ends at 9
        String m = refusal("{\"id\": x}");
        assertTrue(m.startsWith("line 4: not valid JSON: Unrecognized token 'x'"), m);
        assertFalse(m.contains("[Source:"), m);
        assertFalse(m.contains("\n"), m);
        assertTrue(m.endsWith(" (at column 9)"), m);
        // an object cut off after 7 characters
        String cut = refusal("{\"id\": ");
        assertTrue(cut.startsWith("line 4: not valid JSON: Unexpected end-of-input"), cut);
        assertFalse(cut.contains("[Source:"), cut);
        assertFalse(cut.contains("\n"), cut);
        assertTrue(cut.endsWith(" (at column 8)"), cut);
    }

    @Test
    void theReaderEndsAndCountsLines() {
        TrajectoryJsonl r = new TrajectoryJsonl(new BufferedReader(new StringReader("\n{\"id\": \"a\", \"prompt\": \"p\", \"response\": \"r\"}\n\n")), e -> {
            throw e;
        });
        assertTrue(r.hasNext());
        assertTrue(r.hasNext(), "asking twice reads no further");
        assertEquals(2, r.linesRead());
        assertEquals("a", r.next().id());
        assertFalse(r.hasNext());
        assertEquals(3, r.linesRead());
        assertThrows(NoSuchElementException.class, r::next);
        Reader broken = new Reader() {
            @Override
            public int read(char[] cbuf, int off, int len) throws IOException {
                throw new IOException("disk gone");
            }

            @Override
            public void close() {}
        };
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> new TrajectoryJsonl(new BufferedReader(broken), x -> {}).hasNext());
        assertEquals("disk gone", e.getCause().getMessage());
    }
}
