package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI end to end, in-process: exit codes, the table, and error messages without stack traces. */
class CliTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void demoPrintsAPerTokenTable() {
        CliRun r = run("demo", "--model", Fixtures.tiny().toString(), "--ctx", "256", "--threads", "2");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("logprob") && r.out().contains("entropy") && r.out().contains("rank"), r.out());
        assertTrue(r.out().contains("tokens scored: mean surprisal"), r.out());
    }

    @Test
    void scoreAsJsonLines() {
        CliRun r = run("score", "--model", Fixtures.tiny().toString(), "--text", "one two three", "--format", "jsonl", "--ctx", "64");
        assertEquals(0, r.status(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertTrue(lines.length >= 2, r.out());
        assertTrue(lines[0].startsWith("{\"pos\":1,") && lines[0].contains("\"entropy\":"), lines[0]);
    }

    @Test
    void errorsAreOneLineWithExitStatus1(@TempDir Path dir) throws Exception {
        CliRun missing = run("score", "--model", dir.resolve("missing.gguf").toString(), "--text", "hi");
        assertEquals(1, missing.status());
        assertTrue(missing.err().startsWith("panscore: ") && missing.err().contains("missing.gguf"), missing.err());
        assertTrue(!missing.err().contains("\tat "), "no stack trace: " + missing.err());

        Path notGguf = Files.writeString(dir.resolve("x.gguf"), "hello");
        CliRun bad = run("score", "--model", notGguf.toString(), "--text", "hi");
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("not a GGUF file"), bad.err());
    }

    @Test
    void usageErrorsExitWith2() {
        assertEquals(2, run("score", "--text", "no model").status());
        assertEquals(2, run("no-such-command").status());
    }

    @Test
    void fixtureAndInfo(@TempDir Path dir) {
        Path out = dir.resolve("tiny.gguf");
        CliRun w = run("fixture", "--out", out.toString(), "--preset", "tiny", "--seed", "3");
        assertEquals(0, w.status(), w.err());
        CliRun info = run("info", "--model", out.toString());
        assertEquals(0, info.status(), info.err());
        assertTrue(info.out().contains("architecture qwen2") && info.out().contains("vocabulary 2,051"), info.out());
    }
}
