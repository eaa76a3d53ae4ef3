package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resumable score files, byte by byte: one CSV header however often a file is reopened, partial lines repaired. */
class ScoreWriterTest {

    @Test
    void csvHeaderIsWrittenOnceAcrossResumes(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("s.csv");
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.CSV, "id,x")) {
            assertEquals(Set.of(), w.doneIds());
            w.writeRecord("a", "a,1");
            w.writeRecord("b", "b,2");
        }
        assertEquals("id,x\na,1\nb,2\n", Files.readString(f));
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.CSV, "id,x")) {
            assertEquals(Set.of("a", "b"), w.doneIds());
            w.writeRecord("c", "c,3");
        }
        assertEquals("id,x\na,1\nb,2\nc,3\n", Files.readString(f));
        // a run killed mid-record: the partial line goes, the header stays single
        Files.writeString(f, "id,x\na,1\nb,", StandardCharsets.UTF_8);
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.CSV, "id,x")) {
            assertEquals(Set.of("a"), w.doneIds());
            w.writeRecord("b", "b,2");
        }
        assertEquals("id,x\na,1\nb,2\n", Files.readString(f));
        // killed before the header was complete: the header is written whole, once
        Files.writeString(f, "id,", StandardCharsets.UTF_8);
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.CSV, "id,x")) {
            assertEquals(Set.of(), w.doneIds());
        }
        assertEquals("id,x\n", Files.readString(f));
    }

    @Test
    void jsonlHasNoHeaderAndResumesById(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("s.jsonl");
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.JSONL)) {
            w.writeRecord("p/1", "{\"id\":\"p/1\",\"v\":1}");
        }
        Files.writeString(f, Files.readString(f) + "{\"id\":\"p/2\",\"v", StandardCharsets.UTF_8);
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.JSONL)) {
            assertEquals(Set.of("p/1"), w.doneIds());
            w.writeRecord("p/2", "{\"id\":\"p/2\",\"v\":2}");
        }
        assertEquals(List.of("{\"id\":\"p/1\",\"v\":1}", "{\"id\":\"p/2\",\"v\":2}"), Files.readAllLines(f));
    }

    @Test
    void refusesFilesThatAreNotItsOwn(@TempDir Path dir) throws IOException {
        Path csv = Files.writeString(dir.resolve("other.csv"), "name,age\nbob,3\n");
        IOException e = assertThrows(IOException.class, () -> ScoreWriter.open(csv, ScoreWriter.Format.CSV, "id,x"));
        assertEquals(csv + " exists but is not a panscore CSV (its header differs); refusing to append", e.getMessage());
        assertEquals("name,age\nbob,3\n", Files.readString(csv), "left untouched");
        Path jsonl = Files.writeString(dir.resolve("other.jsonl"), "{\"name\": 1}\n");
        assertThrows(IOException.class, () -> ScoreWriter.open(jsonl, ScoreWriter.Format.JSONL));
    }

    @Test
    void csvRecordsReadBackAsWritten(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("r.csv");
        TrajectoryScore s = new TrajectoryScore("id,with \"comma\"", "p", "t", 3, 1.25, 2.5, 2.0, 0.75, Math.exp(1.25), null, List.of());
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.CSV)) {
            w.write(s);
        }
        assertEquals(ScoreWriter.CSV_HEADER + "\n\"id,with \"\"comma\"\"\",p,t,3,1.25,2.5,2.0,0.75," + Math.exp(1.25) + "\n", Files.readString(f));
        TrajectoryScore back = ScoreWriter.readAll(f, ScoreWriter.Format.CSV).getFirst();
        assertEquals(s.id(), back.id());
        assertEquals(1.25, back.meanSurprisal(), 0);
        assertEquals(2.0, back.rsr(), 0);
    }
}
