package io.panscore.api.trajectory;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.TokenScores;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.Map;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Writes trajectory scores to a file, one record per line (JSONL or CSV), resumably: every record
 * is written whole and flushed, and opening an existing file first cuts off a partial last record
 * (what a killed run can leave) and collects the ids already written, so a rerun can skip them.
 * A file is never rewritten, only appended to; it is locked while a writer has it open, and a
 * sidecar {@code <out>.meta.json} records what its scores depend on. Not thread-safe.
 */
public final class ScoreWriter implements AutoCloseable {

    public enum Format { JSONL, CSV }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonFactory FACTORY = JSON.getFactory();
    public static final String CSV_HEADER = "id,problem,teacher,tokens,mean_surprisal,mean_clipped_rank,rsr,mean_entropy,perplexity";

    private final Format format;
    private final FileChannel channel;
    private final FileLock lock;
    private final Set<String> done;

    private ScoreWriter(Format format, FileChannel channel, FileLock lock, Set<String> done) {
        this.format = format;
        this.channel = channel;
        this.lock = lock;
        this.done = done;
    }

    /** Opens (or creates) an RSR score file for appending; see {@link #doneIds()}. */
    public static ScoreWriter open(Path path, Format format) throws IOException {
        return open(path, format, CSV_HEADER);
    }

    /**
     * Opens (or creates) a file of records for appending: JSONL objects with a string "id", or CSV
     * rows under {@code csvHeader} whose first column is the id.
     */
    public static ScoreWriter open(Path path, Format format, String csvHeader) throws IOException {
        return open(path, format, csvHeader, null);
    }

    /** The sidecar that records what a score file was made with: {@code <out>.meta.json}. */
    public static Path metaPath(Path out) {
        return out.resolveSibling(out.getFileName() + ".meta.json");
    }

    /**
     * Opens (or creates) a file of records for appending, exclusively: the file is locked
     * ({@link FileChannel#tryLock()}) while the writer is open, so a second run on the same file
     * fails at once instead of interleaving records. The existing records are streamed (never held
     * in memory; only their ids are kept), a partial last record is cut off.
     *
     * @param meta what the records depend on (model fingerprint, options): written to
     *             {@link #metaPath} next to a new file, and compared with it when an existing file
     *             is resumed; a difference refuses the resume. {@code null} for no check. A file
     *             without a sidecar (written before sidecars existed) is resumed and given one.
     */
    public static ScoreWriter open(Path path, Format format, String csvHeader, Map<String, ?> meta) throws IOException {
        Set<String> done = new LinkedHashSet<>();
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock = null;
        try {
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this JVM holds it already
            }
            if (lock == null) {
                throw new IOException(path + " is being written by another panscore run (it holds the file's lock); wait for that run to end, or use another --out");
            }
            long size = ch.size();
            checkMeta(path, meta, size > 0);
            long end = format == Format.JSONL ? endOfLastLine(ch, size) : endOfLastCsvRecord(path, size);
            if (end < size) {
                ch.truncate(end); // a partial last record from a killed run
            }
            boolean empty = end == 0;
            if (!empty) {
                try (Reader in = new BufferedReader(new InputStreamReader(Files.newInputStream(path), StandardCharsets.UTF_8), 1 << 16)) {
                    if (format == Format.JSONL) {
                        BufferedReader lines = (BufferedReader) in;
                        int lineNo = 0;
                        for (String line; (line = lines.readLine()) != null;) {
                            lineNo++;
                            done.add(jsonId(line, path, lineNo));
                        }
                    } else {
                        Iterator<List<String>> records = Csv.records(in);
                        List<String> header = records.hasNext() ? records.next() : List.of();
                        if (!String.join(",", header).equals(csvHeader)) {
                            throw new IOException(path + " exists but is not a panscore CSV (its header differs); refusing to append");
                        }
                        long record = 1;
                        while (records.hasNext()) {
                            record++;
                            List<String> f = records.next();
                            if (f.isEmpty() || f.getFirst().isEmpty() && f.size() == 1) {
                                throw new IOException(path + " record " + record + " is not a panscore record; refusing to append to it");
                            }
                            done.add(f.getFirst());
                        }
                    } 
                } catch (UncheckedIOException e) {
                    throw new IOException(path + " is not a readable " + format + " score file: " + e.getCause().getMessage(), e.getCause());
                }
            }
            ch.position(end);
            ScoreWriter w = new ScoreWriter(format, ch, lock, done);
            if (format == Format.CSV && empty) {
                w.writeLine(csvHeader);
            }
            return w;
        } catch (IOException | RuntimeException e) {
            ch.close(); // releases the lock
            throw e;
        }
    }

    private static final ObjectMapper META_JSON = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private static void checkMeta(Path out, Map<String, ?> meta, boolean resuming) throws IOException {
        if (meta == null) {
            return;
        }
        Path side = metaPath(out);
        JsonNode want = META_JSON.valueToTree(meta);
        if (resuming && Files.exists(side)) {
            JsonNode have;
            try {
                have = META_JSON.readTree(side.toFile());
            } catch (IOException e) {
                throw new IOException(side + " is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + "); delete it to resume " + out
                        + " without the check");
            }
            if (!want.equals(have)) {
                List<String> diff = new ArrayList<>();
                Set<String> keys = new java.util.TreeSet<>();
                want.fieldNames().forEachRemaining(keys::add);
                if (have != null) {
                    have.fieldNames().forEachRemaining(keys::add);
                }
                for (String k : keys) {
                    JsonNode a = have == null ? null : have.get(k);
                    JsonNode b = want.get(k);
                    if (a == null || !a.equals(b)) {
                        diff.add(k + ": " + a + " then, " + b + " now");
                    }
                }
                throw new IOException(out + " was written with other settings (" + String.join("; ", diff)
                        + "); resuming would mix scores. Use another --out, or the settings of that run");
            }
            return;
        }
        Path tmp = side.resolveSibling(side.getFileName() + ".tmp");
        Files.write(tmp, (META_JSON.writeValueAsString(meta) + "\n").getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, side, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The end of the last complete line (JSON lines hold no raw newline), scanning back from the end. */
    private static long endOfLastLine(FileChannel ch, long size) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        long pos = size;
        while (pos > 0) {
            int n = (int) Math.min(buf.capacity(), pos);
            buf.clear().limit(n);
            long at = pos - n;
            while (buf.hasRemaining()) {
                if (ch.read(buf, at + buf.position()) < 0) {
                    throw new IOException("the file shrank while being read");
                }
            }
            for (int i = n - 1; i >= 0; i--) {
                if (buf.get(i) == '\n') {
                    return at + i + 1;
                }
            }
            pos = at;
        }
        return 0;
    }

    /** The end of the last complete CSV record: its newline outside quotes (quotes are doubled inside fields, so parity tells). */
    private static long endOfLastCsvRecord(Path path, long size) throws IOException {
        long end = 0;
        boolean quoted = false;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 16)) {
            long pos = 0;
            for (int b; (b = in.read()) >= 0 && pos < size; pos++) {
                if (b == '"') {
                    quoted = !quoted;
                } else if (b == '\n' && !quoted) {
                    end = pos + 1;
                }
            }
        }
        return end;
    }

    /** The "id" of one JSON line, read without building the rest (per-token arrays can be large). */
    private static String jsonId(String line, Path path, long lineNo) throws IOException {
        try (JsonParser p = FACTORY.createParser(line)) {
            if (p.nextToken() == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken v = p.nextToken();
                    if (name.equals("id") && v == JsonToken.VALUE_STRING) {
                        return p.getText();
                    }
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        throw new IOException(path + " line " + lineNo + " is not a panscore record; refusing to append to it");
    }

    /** Ids already in the file when it was opened, plus those written since. */
    public Set<String> doneIds() {
        return done;
    }

    public Format format() {
        return format;
    }

    public void write(TrajectoryScore s) throws IOException {
        writeRecord(s.id(), format == Format.JSONL ? json(s) : csv(s));
    }

    /** Appends one record (a line without its newline) and flushes it to disk. */
    public void writeRecord(String id, String line) throws IOException {
        writeLine(line);
        done.add(id);
    }

    private void writeLine(String line) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
        channel.force(false); // flushed per record: a kill loses at most the line being written
    }

    /** One RSR record as a JSON line. */
    public static String json(TrajectoryScore s) throws IOException {
        return json(s, null);
    }

    /**
     * One RSR record as a JSON line; with per-token statistics and a {@code tokenText} function,
     * also "token_texts" (each scored token's exact piece). Values that are float32 (per-token
     * statistics, a step's max entropy and min log-prob) print as floats, means as doubles: each
     * in the shortest form that reads back to the value computed.
     */
    public static String json(TrajectoryScore s, java.util.function.IntFunction<String> tokenText) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = FACTORY.createGenerator((OutputStream) out)) {
            g.writeStartObject();
            g.writeStringField("id", s.id());
            g.writeStringField("problem", s.problem());
            g.writeStringField("teacher", s.teacher());
            g.writeNumberField("tokens", s.tokenCount());
            g.writeNumberField("mean_surprisal", s.meanSurprisal());
            g.writeNumberField("mean_clipped_rank", s.meanClippedRank());
            g.writeNumberField("rsr", s.rsr());
            g.writeNumberField("mean_entropy", s.meanEntropy());
            g.writeNumberField("perplexity", s.perplexity());
            if (!s.steps().isEmpty()) {
                g.writeArrayFieldStart("steps");
                for (StepStats st : s.steps()) {
                    g.writeStartObject();
                    g.writeNumberField("index", st.index());
                    g.writeNumberField("tokens", st.tokenCount());
                    g.writeNumberField("mean_entropy", st.meanEntropy());
                    g.writeNumberField("max_entropy", (float) st.maxEntropy()); // a max and a min of float32 values
                    g.writeNumberField("min_logprob", (float) st.minLogprob());
                    g.writeNumberField("mean_clipped_rank", st.meanClippedRank());
                    g.writeEndObject();
                }
                g.writeEndArray();
            }
            TokenScores t = s.tokens();
            if (t != null) {
                g.writeArrayFieldStart("token_ids");
                for (int v : t.target()) {
                    g.writeNumber(v);
                }
                g.writeEndArray();
                if (tokenText != null) {
                    g.writeArrayFieldStart("token_texts");
                    for (int v : t.target()) {
                        g.writeString(tokenText.apply(v));
                    }
                    g.writeEndArray();
                }
                g.writeArrayFieldStart("token_logprobs");
                for (float v : t.logprob()) {
                    g.writeNumber(v);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("token_entropies");
                for (float v : t.entropy()) {
                    g.writeNumber(v);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("token_ranks");
                for (int v : t.rank()) {
                    g.writeNumber(v);
                }
                g.writeEndArray();
            }
            g.writeEndObject();
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** One RSR record as a CSV row under {@link #CSV_HEADER}. */
    public static String csv(TrajectoryScore s) {
        return String.join(",", Csv.quote(s.id()), Csv.quote(s.problem()), Csv.quote(s.teacher()), Integer.toString(s.tokenCount()),
                num(s.meanSurprisal()), num(s.meanClippedRank()), num(s.rsr()), num(s.meanEntropy()), num(s.perplexity()));
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%s", v);
    }

    /** Reads back every record of a JSONL or CSV score file (for summaries over a resumed run), streaming it. */
    public static List<TrajectoryScore> readAll(Path path, Format format) throws IOException {
        List<TrajectoryScore> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            if (format == Format.JSONL) {
                for (String line; (line = in.readLine()) != null;) {
                    if (line.isBlank()) {
                        continue;
                    }
                    JsonNode n = JSON.readTree(line);
                    out.add(new TrajectoryScore(n.get("id").asText(), n.get("problem").asText(), n.get("teacher").asText(), n.get("tokens").asInt(),
                            n.get("mean_surprisal").asDouble(), n.get("mean_clipped_rank").asDouble(), n.get("rsr").asDouble(),
                            n.get("mean_entropy").asDouble(), n.get("perplexity").asDouble(), null, List.of()));
                }
            } else {
                Iterator<List<String>> records = Csv.records(in);
                if (records.hasNext()) {
                    records.next(); // the header
                }
                while (records.hasNext()) {
                    List<String> f = records.next();
                    if (f.size() < 9) {
                        throw new IOException(path + ": a record has " + f.size() + " fields, expected 9: " + f);
                    }
                    out.add(new TrajectoryScore(f.get(0), f.get(1), f.get(2), Integer.parseInt(f.get(3)), Double.parseDouble(f.get(4)),
                            Double.parseDouble(f.get(5)), Double.parseDouble(f.get(6)), Double.parseDouble(f.get(7)), Double.parseDouble(f.get(8)),
                            null, List.of()));
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } finally {
            channel.close();
        }
    }
}
