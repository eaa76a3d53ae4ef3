package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every malformed-input case names its line and what is wrong. */
class TrajectoryJsonlTest {

    private static void malformed(String line, String expected) {
        MalformedInputException e = assertThrows(MalformedInputException.class, () -> TrajectoryJsonl.parse(line, 7));
        assertTrue(e.getMessage().startsWith("line 7: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), () -> e.getMessage() + " should mention " + expected);
        assertEquals(7, e.line());
    }

    @Test
    void malformedLines() {
        malformed("{\"id\": \"a\", \"prompt\": \"p\", \"response\": ", "not valid JSON");
        malformed("not json at all", "not valid JSON");
        malformed("[1, 2]", "expected a JSON object");
        malformed("{\"prompt\": \"p\", \"response\": \"r\"}", "missing \"id\"");
        malformed("{\"id\": \"a\", \"response\": \"r\"}", "missing \"prompt\"");
        malformed("{\"id\": \"a\", \"prompt\": \"p\"}", "missing \"response\"");
        malformed("{\"id\": \"a\", \"prompt\": 5, \"response\": \"r\"}", "\"prompt\" must be a string, got number");
        malformed("{\"id\": {}, \"prompt\": \"p\", \"response\": \"r\"}", "\"id\" must be a string");
        malformed("{\"id\": \"a\", \"messages\": [], \"response\": \"r\"}", "non-empty array");
        malformed("{\"id\": \"a\", \"messages\": [{\"role\": \"user\"}], \"response\": \"r\"}", "messages[0]");
        malformed("{\"id\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}", "must be the assistant's response");
        malformed("{\"id\": \"a\", \"messages\": [{\"role\": \"assistant\", \"content\": \"r\"}]}", "there is no prompt");
        malformed("{\"id\": \"a\", \"prompt\": \"p\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}], \"response\": \"r\"}", "not both");
    }

    @Test
    void goodLines() {
        Trajectory t = TrajectoryJsonl.parse("{\"id\": 12, \"problem\": 3, \"prompt\": \"p\", \"response\": \"r\", \"extra\": true}", 1);
        assertEquals("12", t.id());
        assertEquals("3", t.problem());
        assertEquals("", t.teacher());
        Trajectory chat = TrajectoryJsonl.parse("{\"id\": \"c\", \"teacher\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
                + "{\"role\": \"assistant\", \"content\": \"r\"}]}", 1);
        assertEquals("r", chat.response());
        assertEquals(1, chat.messages().size());
    }

    @Test
    void readerSkipsBlankLinesReportsBadOnesAndCatchesDuplicates() {
        String input = """
                {"id": "a", "prompt": "p", "response": "r"}

                {"id": "b", "prompt": "p"
                {"id": "a", "prompt": "p", "response": "again"}
                {"id": "c", "prompt": "p", "response": "r"}
                """;
        List<MalformedInputException> bad = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        new TrajectoryJsonl(new BufferedReader(new StringReader(input)), bad::add).forEachRemaining(t -> ids.add(t.id()));
        assertEquals(List.of("a", "c"), ids);
        assertEquals(2, bad.size());
        assertEquals(3, bad.get(0).line());
        assertEquals(4, bad.get(1).line());
        assertTrue(bad.get(1).getMessage().contains("duplicate id \"a\" (first on line 1)"), bad.get(1).getMessage());
    }
}
