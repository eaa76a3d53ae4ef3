package io.panscore.api.trajectory;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.TokenScores;
import java.io.ByteArrayOutputStream;
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
 * is written whole and flushed, and opening an existing file first cuts off a partial last line
 * (what a killed run can leave) and collects the ids already written, so a rerun can skip them.
 * A file is never rewritten, only appended to. Not thread-safe.
 */
public final class ScoreWriter implements AutoCloseable {

    public enum Format { JSONL, CSV }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonFactory FACTORY = JSON.getFactory();
    public static final String CSV_HEADER = "id,problem,teacher,tokens,mean_surprisal,mean_clipped_rank,rsr,mean_entropy,perplexity";

    private final Format format;
    private final FileChannel channel;
    private final Set<String> done;

    private ScoreWriter(Format format, FileChannel channel, Set<String> done) {
        this.format = format;
        this.channel = channel;
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
        Set<String> done = new LinkedHashSet<>();
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long size = ch.size();
            byte[] bytes = Files.readAllBytes(path);
            int end = bytes.length;
            while (end > 0 && bytes[end - 1] != '\n') {
                end--; // a partial last line from a killed run
            }
            if (end < size) {
                ch.truncate(end);
            }
            String text = new String(bytes, 0, end, StandardCharsets.UTF_8);
            List<String> lines = text.isEmpty() ? List.of() : List.of(text.split("\n"));
            int first = 0;
            if (format == Format.CSV && !lines.isEmpty()) {
                if (!lines.getFirst().equals(csvHeader)) {
                    throw new IOException(path + " exists but is not a panscore CSV (its header differs); refusing to append");
                }
                first = 1;
            }
            for (int i = first; i < lines.size(); i++) {
                done.add(idOf(lines.get(i), format, path, i + 1));
            }
            ch.position(end);
            ScoreWriter w = new ScoreWriter(format, ch, done);
            if (format == Format.CSV && lines.isEmpty()) {
                w.writeLine(csvHeader);
            }
            return w;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static String idOf(String line, Format format, Path path, int lineNo) throws IOException {
        try {
            if (format == Format.JSONL) {
                JsonNode n = JSON.readTree(line);
                if (n != null && n.path("id").isTextual()) {
                    return n.get("id").asText();
                }
            } else {
                List<String> fields = Csv.parse(line);
                if (!fields.isEmpty()) {
                    return fields.getFirst();
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

    /** Reads back every record of a JSONL or CSV score file (for summaries over a resumed run). */
    public static List<TrajectoryScore> readAll(Path path, Format format) throws IOException {
        List<TrajectoryScore> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(path, StandardCharsets.UTF_8);
        for (int i = format == Format.CSV ? 1 : 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            if (format == Format.JSONL) {
                JsonNode n = JSON.readTree(line);
                out.add(new TrajectoryScore(n.get("id").asText(), n.get("problem").asText(), n.get("teacher").asText(), n.get("tokens").asInt(),
                        n.get("mean_surprisal").asDouble(), n.get("mean_clipped_rank").asDouble(), n.get("rsr").asDouble(),
                        n.get("mean_entropy").asDouble(), n.get("perplexity").asDouble(), null, List.of()));
            } else {
                List<String> f = Csv.parse(line);
                out.add(new TrajectoryScore(f.get(0), f.get(1), f.get(2), Integer.parseInt(f.get(3)), Double.parseDouble(f.get(4)),
                        Double.parseDouble(f.get(5)), Double.parseDouble(f.get(6)), Double.parseDouble(f.get(7)), Double.parseDouble(f.get(8)),
                        null, List.of()));
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
