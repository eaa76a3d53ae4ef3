package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.api.trajectory.TrajectoryScore;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue #13 items 4, 6, 7, 11: locked, streamed, checked score files; piped input; CSV newlines. */
class ScoreFileHardeningTest {

    private static String sample() throws IOException {
        try (InputStream in = ScoreFileHardeningTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String[] rsr(Path in, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", out.toString(),
                "--ctx", "1024", "--progress", "never", "--chunk", "8"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private static TrajectoryScore score(String id, String problem, double rsr) {
        return new TrajectoryScore(id, problem, "teacher", 3, 1.5, 2.5, rsr, 0.5, 4.0, null, List.of());
    }

    @Test
    void aSecondWriterOnTheSameFileIsRefusedWhileTheFirstHoldsIt(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.jsonl");
        try (ScoreWriter first = ScoreWriter.open(out, ScoreWriter.Format.JSONL)) {
            first.write(score("a", "p", 1));
            IOException e = assertThrows(IOException.class, () -> ScoreWriter.open(out, ScoreWriter.Format.JSONL));
            assertTrue(e.getMessage().contains("another panscore run"), e.getMessage());
            first.write(score("b", "p", 2));
        }
        try (ScoreWriter again = ScoreWriter.open(out, ScoreWriter.Format.JSONL)) {
            assertEquals(List.of("a", "b"), List.copyOf(again.doneIds()));
        }
    }

    @Test
    void aSecondCliRunOnTheSameOutFailsClearly(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Path out = dir.resolve("out.jsonl");
        // a separate process holds the lock (as a concurrent run would)
        Path locker = dir.resolve("Locker.java");
        Files.writeString(locker, """
                import java.nio.channels.FileChannel; import java.nio.file.*;
                public class Locker { public static void main(String[] a) throws Exception {
                  try (FileChannel ch = FileChannel.open(Path.of(a[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE); var l = ch.lock()) {
                    System.out.println("locked"); System.out.flush(); System.in.read(); } } }
                """);
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), locker.toString(), out.toString())
                .redirectErrorStream(true).start();
        try {
            byte[] hello = new byte[6];
            assertEquals(6, p.getInputStream().readNBytes(hello, 0, 6));
            assertEquals("locked", new String(hello, StandardCharsets.US_ASCII));
            CliRun second = CliRun.of(rsr(in, out));
            assertEquals(1, second.status(), second.out());
            assertTrue(second.err().contains("being written by another panscore run"), second.err());
            assertEquals(0, Files.size(out), "the second run wrote nothing");
        } finally {
            p.getOutputStream().close();
            p.waitFor(30, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
        assertEquals(0, CliRun.of(rsr(in, out)).status());
        assertEquals(18, Files.readAllLines(out).size());
    }

    @Test
    void csvFieldsWithNewlinesResumeAndSummarise(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.csv");
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.CSV)) {
            w.write(score("line one\nline two", "prob,lem\n\"quoted\"", 0.5));
            w.write(score("plain", "prob,lem\n\"quoted\"", 0.25));
        }
        // cut the file inside the quoted field of a third record (what a kill can leave)
        String text = Files.readString(out);
        Files.writeString(out, text + "\"cut\nhere,p");
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.CSV)) {
            assertEquals(List.of("line one\nline two", "plain"), List.copyOf(w.doneIds()));
        }
        assertEquals(text, Files.readString(out), "the partial record was cut off, the complete ones kept");
        List<TrajectoryScore> all = ScoreWriter.readAll(out, ScoreWriter.Format.CSV);
        assertEquals(2, all.size());
        assertEquals("line one\nline two", all.get(0).id());
        assertEquals("prob,lem\n\"quoted\"", all.get(1).problem());
        assertEquals(0.25, all.get(1).rsr());
    }

    @Test
    void selectBestReadsCsvWithNewlinesInIds(@TempDir Path dir) throws IOException {
        String line = sample().split("\n")[0];
        String withNewline = line.replaceFirst("\"id\": \"([^\"]*)\"", "\"id\": \"$1\\\\nsecond line\"");
        Path in = Files.writeString(dir.resolve("in.jsonl"), withNewline + "\n" + sample());
        Path out = dir.resolve("out.csv");
        CliRun r = CliRun.of(rsr(in, out, "--select-best"));
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("best trajectory per problem"), r.out());
        CliRun again = CliRun.of(rsr(in, out, "--select-best"));
        assertEquals(0, again.status(), again.err());
        assertTrue(again.out().contains("19 already in"), again.out());
    }

    @Test
    void resumingWithAnotherModelOrOptionsIsRefused(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Path out = dir.resolve("out.jsonl");
        assertEquals(0, CliRun.of(rsr(in, out)).status());
        byte[] before = Files.readAllBytes(out);
        assertTrue(Files.readString(ScoreWriter.metaPath(out)).contains("\"model\""));
        String other = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();
        List<String> args = new ArrayList<>(List.of(rsr(in, out)));
        args.set(args.indexOf("--model") + 1, other);
        CliRun otherModel = CliRun.of(args.toArray(String[]::new));
        assertEquals(1, otherModel.status());
        assertTrue(otherModel.err().contains("was written with other settings") && otherModel.err().contains("model:"), otherModel.err());
        CliRun otherRMax = CliRun.of(rsr(in, out, "--r-max", "10"));
        assertEquals(1, otherRMax.status());
        assertTrue(otherRMax.err().contains("r_max: 100 then, 10 now"), otherRMax.err());
        assertArrayEquals(before, Files.readAllBytes(out));
        assertEquals(0, CliRun.of(rsr(in, out)).status(), "the same settings resume");
    }

    @Test
    void pipedInputIsScored(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("in.fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, mk.waitFor());
        String input = sample();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try (OutputStream o = Files.newOutputStream(fifo)) {
                o.write(input.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Path out = dir.resolve("out.jsonl");
        CliRun r = CliRun.of(rsr(fifo, out));
        writer.get(60, TimeUnit.SECONDS);
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("scored 18 trajectories"), r.out());
        assertEquals(18, Files.readAllLines(out).size());
    }

    @Test
    void theSidecarIsWrittenOnceAndComparedAsJson(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.jsonl");
        Map<String, Object> meta = Map.of("model", "m1", "r_max", 100);
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, meta)) {
            w.write(score("a", "p", 1));
        }
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, Map.of("r_max", 100, "model", "m1"))) {
            assertEquals(1, w.doneIds().size());
        }
        IOException e = assertThrows(IOException.class, () -> ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, Map.of("model", "m2", "r_max", 100)));
        assertTrue(e.getMessage().contains("model: \"m1\" then, \"m2\" now"), e.getMessage());
    }
}
