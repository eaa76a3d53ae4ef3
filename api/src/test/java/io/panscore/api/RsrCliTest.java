package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.cli.Main;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code panscore rsr} end to end: output, summaries, malformed input, and resuming after a kill. */
class RsrCliTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    private static String sample() throws IOException {
        try (InputStream in = RsrCliTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The sample set, repeated with fresh ids, so a run lasts long enough to be killed. */
    private static Path bigInput(Path dir, int copies) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c = 0; c < copies; c++) {
            for (String line : sample().split("\n")) {
                b.append(line.replaceFirst("\"id\": \"", "\"id\": \"copy" + c + "/")).append('\n');
            }
        }
        return Files.writeString(dir.resolve("in.jsonl"), b.toString());
    }

    private static String[] args(Path in, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", out.toString(),
                "--ctx", "1024", "--progress", "never"));
        if (!List.of(more).contains("--chunk")) {
            a.addAll(List.of("--chunk", "8"));
        }
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void scoresAndSummarises(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Path out = dir.resolve("out.jsonl");
        CliRun r = run(args(in, out, "--by-teacher", "--select-best", "--step-delimiter", "\\n\\n"));
        assertEquals(0, r.status(), r.err());
        assertEquals(18, Files.readAllLines(out).size());
        assertTrue(r.out().contains("teachers by dataset RSR") && r.out().contains("best trajectory per problem"), r.out());
        assertTrue(Files.readAllLines(out).getFirst().contains("\"steps\":[{\"index\":0"), Files.readAllLines(out).getFirst());
        Path csv = dir.resolve("out.csv");
        assertEquals(0, run(args(in, csv)).status());
        List<String> rows = Files.readAllLines(csv);
        assertEquals("id,problem,teacher,tokens,mean_surprisal,mean_clipped_rank,rsr,mean_entropy,perplexity", rows.getFirst());
        assertEquals(19, rows.size());
    }

    @Test
    void malformedLinesAreSkippedOrFatal(@TempDir Path dir) throws IOException {
        String good = sample();
        String[] lines = good.split("\n");
        String input = lines[0] + "\n{broken\n" + lines[1] + "\n{\"id\": \"x\", \"prompt\": \"p\"}\n" + lines[2] + "\n";
        Path in = Files.writeString(dir.resolve("in.jsonl"), input);
        Path out = dir.resolve("skip.jsonl");
        CliRun skip = run(args(in, out));
        assertEquals(0, skip.status(), skip.err());
        assertTrue(skip.err().contains("skipping line 2: not valid JSON"), skip.err());
        assertTrue(skip.err().contains("skipping line 4: missing \"response\""), skip.err());
        assertTrue(skip.out().contains("skipped 2 malformed line(s)"), skip.out());
        assertEquals(3, Files.readAllLines(out).size());

        Path out2 = dir.resolve("fail.jsonl");
        CliRun fail = run(args(in, out2, "--on-error", "fail", "--chunk", "1"));
        assertEquals(1, fail.status());
        assertTrue(fail.err().contains("line 2: not valid JSON"), fail.err());
        assertEquals(1, Files.readAllLines(out2).size(), "what was written before the bad line stays");
    }

    @Test
    void resumingAfterAKillMatchesACleanRunByteForByte(@TempDir Path dir) throws Exception {
        Path in = bigInput(dir, 8); // 144 trajectories
        Path clean = dir.resolve("clean.jsonl");
        assertEquals(0, run(args(in, clean)).status());
        byte[] expected = Files.readAllBytes(clean);

        // 1. a real kill: a separate JVM, killed once some records are out
        Path killed = dir.resolve("killed.jsonl");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args(in, killed)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (p.isAlive() && System.nanoTime() < deadline
                && (!Files.exists(killed) || Files.readAllLines(killed).size() < 20)) {
            Thread.sleep(5);
        }
        boolean finishedBeforeTheKill = !p.isAlive();
        p.destroyForcibly().waitFor();
        long linesAtKill = Files.exists(killed) ? Files.readAllLines(killed).size() : 0;
        // the kill must have cut the run short, or the resume below would test nothing
        assertTrue(!finishedBeforeTheKill && linesAtKill < 144,
                "killed after " + linesAtKill + " of 144 lines (finished before the kill: " + finishedBeforeTheKill + ")");
        assertTrue(Files.readAllBytes(killed).length < expected.length, "the killed run's file is shorter than the clean one");
        CliRun resumed = run(args(in, killed));
        assertEquals(0, resumed.status(), resumed.err());
        assertArrayEquals(expected, Files.readAllBytes(killed), "resumed after a kill at " + linesAtKill + " lines");

        // 2. the worst a kill can leave: a record cut in the middle of a line
        Path cut = dir.resolve("cut.jsonl");
        int cutAt = indexOfNth(expected, (byte) '\n', 50) + 37;
        Files.write(cut, java.util.Arrays.copyOf(expected, cutAt));
        CliRun again = run(args(in, cut));
        assertEquals(0, again.status(), again.err());
        assertTrue(again.out().contains("50 already in"), again.out());
        assertArrayEquals(expected, Files.readAllBytes(cut));

        // 3. a finished run reruns as a no-op
        CliRun noop = run(args(in, cut));
        assertEquals(0, noop.status());
        assertTrue(noop.out().startsWith("scored 0 trajectories"), noop.out());
        assertArrayEquals(expected, Files.readAllBytes(cut));
    }

    private static int indexOfNth(byte[] bytes, byte b, int n) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b && --n == 0) {
                return i;
            }
        }
        throw new IllegalArgumentException("fewer than " + n);
    }
}
