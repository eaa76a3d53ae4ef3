package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resuming a score file at its edges: the line or record a refusal names, the settings a refused
 * resume names as changed, and a cut-off last record found across the 64 KiB read buffer. Every
 * expected value is written out by hand from the file the test builds.
 */
class ScoreWriterResumeTest {

    private static final int BUF = 1 << 16; // ScoreWriter's backwards-scan buffer

    private static Path write(Path f, String content) throws IOException {
        return Files.writeString(f, content, StandardCharsets.UTF_8);
    }

    private static Set<String> resumeJsonl(Path f) throws IOException {
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.JSONL)) {
            assertEquals(ScoreWriter.Format.JSONL, w.format());
            return Set.copyOf(w.doneIds());
        }
    }

    private static Set<String> resumeCsv(Path f) throws IOException {
        try (ScoreWriter w = ScoreWriter.open(f, ScoreWriter.Format.CSV, "id,x")) {
            assertEquals(ScoreWriter.Format.CSV, w.format());
            return Set.copyOf(w.doneIds());
        }
    }

    // --- which JSON line is refused, and why ---

    @Test
    void aRefusedJsonLineIsNamedByItsNumber(@TempDir Path dir) throws IOException {
        Path f = write(dir.resolve("s.jsonl"), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"x\":1}\n{\"id\":\"d\"}\n");
        IOException e = assertThrows(IOException.class, () -> ScoreWriter.open(f, ScoreWriter.Format.JSONL));
        assertEquals(f + " line 3 is not a panscore record; refusing to append to it", e.getMessage());
        for (String bad : new String[] {"{\"id\":1}", "[\"id\",\"a\"]", "{\"id\":", "\"a\"", "{\"v\":[1,2],\"id\":5}"}) {
            write(f, "{\"id\":\"a\"}\n" + bad + "\n");
            IOException e2 = assertThrows(IOException.class, () -> ScoreWriter.open(f, ScoreWriter.Format.JSONL), bad);
            assertEquals(f + " line 2 is not a panscore record; refusing to append to it", e2.getMessage(), bad);
        }
    }

    @Test
    void theIdIsTheTopLevelStringId(@TempDir Path dir) throws IOException {
        // fields before "id" are skipped whole, nested "id"s included
        Path f = write(dir.resolve("s.jsonl"), "{\"meta\":{\"id\":\"inner\"},\"v\":[{\"id\":\"x\"},2],\"id\":\"outer\",\"w\":3}\n"
                + "{\"n\":null,\"t\":true,\"id\":\"second\"}\n");
        assertEquals(Set.of("outer", "second"), resumeJsonl(f));
    }

    // --- which CSV record is refused ---

    @Test
    void aBlankCsvRecordIsRefusedByItsNumber(@TempDir Path dir) throws IOException {
        Path f = write(dir.resolve("s.csv"), "id,x\na,1\nb,2\n\nc,3\n");
        IOException e = assertThrows(IOException.class, () -> resumeCsv(f));
        // the header is record 1: a, b, then the blank record 4
        assertEquals(f + " record 4 is not a panscore record; refusing to append to it", e.getMessage());
        assertEquals("id,x\na,1\nb,2\n\nc,3\n", Files.readString(f), "left untouched");
    }

    @Test
    void aRecordWithAnEmptyIdButMoreFieldsIsKept(@TempDir Path dir) throws IOException {
        Path f = write(dir.resolve("s.csv"), "id,x\n,1\na,2\n");
        assertEquals(Set.of("", "a"), resumeCsv(f));
    }

    @Test
    void anUnreadableCsvIsRefusedWithTheParsersReason(@TempDir Path dir) throws IOException {
        // a quote closed in the middle of a field: not RFC 4180
        Path f = write(dir.resolve("s.csv"), "id,x\n\"a\"b,1\n");
        IOException e = assertThrows(IOException.class, () -> resumeCsv(f));
        assertTrue(e.getMessage().startsWith(f + " is not a readable CSV score file: "), e.getMessage());
        assertTrue(e.getCause() != null && e.getMessage().endsWith(e.getCause().getMessage()), e.getMessage());
    }

    // --- the cut-off last record ---

    @Test
    void aQuotedNewlineDoesNotEndACsvRecord(@TempDir Path dir) throws IOException {
        // "b\nc is an open quoted field: its newline is inside the field, so the last whole record is a,1
        Path f = write(dir.resolve("s.csv"), "id,x\na,1\n\"b\nc");
        assertEquals(Set.of("a"), resumeCsv(f));
        assertEquals("id,x\na,1\n", Files.readString(f));
        // a closed quoted field with a doubled quote and a newline is a whole record
        write(f, "id,x\n\"q\"\"\n\",1\nz");
        assertEquals(Set.of("q\"\n"), resumeCsv(f));
        assertEquals("id,x\n\"q\"\"\n\",1\n", Files.readString(f));
    }

    @Test
    void aNulByteIsJustAByte(@TempDir Path dir) throws IOException {
        // the scan for the last record's end reads bytes up to the file's size: a NUL inside a record does not end it
        Path f = write(dir.resolve("s.csv"), "id,x\na\0b,1\nc,2\n");
        assertEquals(Set.of("a\0b", "c"), resumeCsv(f));
        assertEquals("id,x\na\0b,1\nc,2\n", Files.readString(f));
    }

    @Test
    void aCompleteFileIsNotCut(@TempDir Path dir) throws IOException {
        Path f = write(dir.resolve("s.csv"), "id,x\na,1\n");
        assertEquals(Set.of("a"), resumeCsv(f));
        assertEquals("id,x\na,1\n", Files.readString(f));
        Path j = write(dir.resolve("s.jsonl"), "{\"id\":\"a\"}\n");
        assertEquals(Set.of("a"), resumeJsonl(j));
        assertEquals("{\"id\":\"a\"}\n", Files.readString(j));
    }

    @Test
    void jsonlCutOffLinesAcrossTheReadBuffer(@TempDir Path dir) throws IOException {
        String first = "{\"id\":\"a\"}\n"; // 11 bytes
        Path f = dir.resolve("s.jsonl");
        // the last newline is the first byte of the last buffer: a partial line of BUF - 1 bytes
        write(f, first + "x".repeat(BUF - 1));
        assertEquals(Set.of("a"), resumeJsonl(f));
        assertEquals(first, Files.readString(f));
        // ... the last byte of the buffer before it: a partial line of exactly BUF bytes
        write(f, first + "x".repeat(BUF));
        assertEquals(Set.of("a"), resumeJsonl(f));
        assertEquals(first, Files.readString(f));
        // ... two buffers back
        write(f, first + "x".repeat(2 * BUF + 5));
        assertEquals(Set.of("a"), resumeJsonl(f));
        assertEquals(first, Files.readString(f));
        // no newline at all in more than a buffer: nothing is whole
        write(f, "{\"id\":\"b\",\"pad\":\"" + "y".repeat(BUF + 100));
        assertEquals(Set.of(), resumeJsonl(f));
        assertEquals(0, Files.size(f));
        // a whole line longer than the buffer, ending the file: kept
        String longLine = "{\"id\":\"c\",\"pad\":\"" + "z".repeat(BUF + 100) + "\"}\n";
        write(f, first + longLine);
        assertEquals(Set.of("a", "c"), resumeJsonl(f));
        assertEquals(first + longLine, Files.readString(f));
        // and a short partial line after it
        write(f, first + longLine + "{\"id\"");
        assertEquals(Set.of("a", "c"), resumeJsonl(f));
        assertEquals(first + longLine, Files.readString(f));
    }

    @Test
    void csvCutOffRecordsAcrossTheReadBuffer(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("s.csv");
        String whole = "id,x\na," + "1".repeat(BUF) + "\n";
        write(f, whole + "b," + "2".repeat(BUF));
        assertEquals(Set.of("a"), resumeCsv(f));
        assertEquals(whole, Files.readString(f));
    }

    // --- the settings sidecar ---

    private static Map<String, Object> meta(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static void writeJsonl(Path out, Map<String, Object> m) throws IOException {
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, m)) {
            w.writeRecord("a", "{\"id\":\"a\"}");
        }
    }

    private static String refusal(Path out, Map<String, Object> m) {
        return assertThrows(IOException.class, () -> ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, m)).getMessage();
    }

    @Test
    void aRefusedResumeNamesEveryChangedSettingInKeyOrder(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("o.jsonl");
        writeJsonl(out, meta("r_max", 100, "model", "m1", "old", true));
        String tail = "; resuming would mix scores. Use another --out, or the settings of that run";
        // changed, added, dropped: in key order, unchanged keys not named
        assertEquals(out + " was written with other settings (model: \"m1\" then, \"m2\" now; new: null then, 5 now; old: true then, null now)" + tail,
                refusal(out, meta("model", "m2", "r_max", 100, "new", 5)));
        assertEquals(out + " was written with other settings (r_max: 100 then, 5 now)" + tail, refusal(out, meta("model", "m1", "r_max", 5, "old", true)));
        assertEquals(out + " was written with other settings (old: true then, null now)" + tail, refusal(out, meta("model", "m1", "r_max", 100)));
        assertEquals("{\"id\":\"a\"}\n", Files.readString(out), "a refused resume leaves the file as it was");
    }

    @Test
    void anEmptyOrBrokenSidecarRefusesTheResume(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("o.jsonl");
        writeJsonl(out, meta("a", 1));
        Path side = ScoreWriter.metaPath(out);
        assertEquals(dir.resolve("o.jsonl.meta.json"), side);
        Files.writeString(side, "");
        String tail = "; resuming would mix scores. Use another --out, or the settings of that run";
        assertEquals(out + " was written with other settings (a: null then, 1 now)" + tail, refusal(out, meta("a", 1)));
        Files.writeString(side, "{\"a\": ");
        String m = refusal(out, meta("a", 1));
        assertTrue(m.startsWith(side + " is not valid JSON ("), m);
        assertTrue(m.endsWith("); delete it to resume " + out + " without the check"), m);
        assertFalse(m.contains("\n"), "one line: " + m);
        Files.delete(side);
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, meta("a", 1))) {
            assertEquals(Set.of("a"), w.doneIds());
        }
        assertEquals("{\n  \"a\" : 1\n}\n", Files.readString(side), "a file without a sidecar is resumed and given one");
    }

    @Test
    void aNewFileReplacesAStaleSidecar(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("o.jsonl");
        Path side = ScoreWriter.metaPath(out);
        Files.writeString(side, "{\"model\": \"other\"}\n");
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, meta("z", "last", "model", "m", "a", List.of(1, 2)))) {
            assertEquals(Set.of(), w.doneIds());
        }
        // keys sorted, indented: the file a person diffs
        assertEquals("{\n  \"a\" : [ 1, 2 ],\n  \"model\" : \"m\",\n  \"z\" : \"last\"\n}\n", Files.readString(side));
        assertFalse(Files.exists(dir.resolve("o.jsonl.meta.json.tmp")));
        // an empty existing file is a new file too: its stale sidecar is replaced, not compared
        Files.writeString(side, "{\"model\": \"other\"}\n");
        try (ScoreWriter w = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, meta("model", "m"))) {
            assertEquals(Set.of(), w.doneIds());
        }
        assertEquals("{\n  \"model\" : \"m\"\n}\n", Files.readString(side));
        // no meta: no sidecar is read or written
        Files.delete(side);
        writeJsonl(out, null);
        assertFalse(Files.exists(side));
    }

    // --- reading a whole file back ---

    @Test
    void readAllSkipsBlankJsonLinesAndRefusesShortCsvRecords(@TempDir Path dir) throws IOException {
        Path j = write(dir.resolve("r.jsonl"), "\n{\"id\":\"a\",\"problem\":\"p\",\"teacher\":\"t\",\"tokens\":4,\"mean_surprisal\":0.5,"
                + "\"mean_clipped_rank\":3.0,\"rsr\":6.0,\"mean_entropy\":1.5,\"perplexity\":1.25}\n   \n");
        List<TrajectoryScore> all = ScoreWriter.readAll(j, ScoreWriter.Format.JSONL);
        assertEquals(List.of(new TrajectoryScore("a", "p", "t", 4, 0.5, 3.0, 6.0, 1.5, 1.25, null, List.of())), all);
        Path c = write(dir.resolve("r.csv"), ScoreWriter.CSV_HEADER + "\na,p,t,4,0.5,3.0,6.0,1.5\n");
        IOException e = assertThrows(IOException.class, () -> ScoreWriter.readAll(c, ScoreWriter.Format.CSV));
        assertEquals(c + ": a record has 8 fields, expected 9: [a, p, t, 4, 0.5, 3.0, 6.0, 1.5]", e.getMessage());
        write(c, ScoreWriter.CSV_HEADER + "\na,p,t,4,0.5,3.0,6.0,1.5,1.25\n");
        assertEquals(all, ScoreWriter.readAll(c, ScoreWriter.Format.CSV));
        write(c, "");
        assertEquals(List.of(), ScoreWriter.readAll(c, ScoreWriter.Format.CSV), "an empty file has no header and no records");
    }
}
