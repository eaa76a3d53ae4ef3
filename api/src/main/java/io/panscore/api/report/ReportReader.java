package io.panscore.api.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.report.ReportData.Alternative;
import io.panscore.api.report.ReportData.PrmRecord;
import io.panscore.api.report.ReportData.PrmStep;
import io.panscore.api.report.ReportData.RsrRecord;
import io.panscore.api.report.ReportData.Tokens;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.api.trajectory.TrajectoryScore;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the score files of {@code panscore rsr} and {@code panscore prm} (JSONL; RSR also as CSV)
 * for a report. The kind is decided per record: an {@code "rsr"} field makes an RSR record, step
 * rewards ({@code "steps"} with {@code "r"}) or {@code "beta"} a PRM one, so one file may hold
 * both. A line that is neither, or is not JSON, is skipped with a warning naming the file and line;
 * a repeated id (within a kind) keeps its first record. Stateless.
 */
public final class ReportReader {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A reader; token texts the files lack are rendered later, by {@link HtmlReport} with a {@link TokenTexts}. */
    public ReportReader() {}

    /**
     * Reads every file, in order.
     *
     * @param files score files
     * @return their records
     * @throws IOException when a file cannot be read
     */
    public ReportData read(List<Path> files) throws IOException {
        List<RsrRecord> rsr = new ArrayList<>();
        List<PrmRecord> prm = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        Set<String> rsrIds = new HashSet<>();
        Set<String> prmIds = new HashSet<>();
        for (Path file : files) {
            if (!Files.isReadable(file)) {
                throw new IOException("cannot read --in " + file);
            }
            String first;
            try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                first = r.readLine();
            }
            if (ScoreWriter.CSV_HEADER.equals(first)) {
                int line = 1;
                for (TrajectoryScore s : ScoreWriter.readAll(file, ScoreWriter.Format.CSV)) {
                    line++;
                    if (rsrIds.add(s.id())) {
                        rsr.add(new RsrRecord(s, null, file + ":" + line));
                    } else {
                        warnings.add(file + " line " + line + ": repeated RSR id \"" + s.id() + "\" (the first record is kept)");
                    }
                }
                continue;
            }
            if (first != null && first.startsWith("id,")) {
                warnings.add(file + ": a CSV file that is not an RSR score file (PRM CSV has no step rewards: use JSONL) was skipped");
                continue;
            }
            try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                String text;
                int line = 0;
                while ((text = r.readLine()) != null) {
                    line++;
                    if (text.isBlank()) {
                        continue;
                    }
                    String where = file + ":" + line;
                    JsonNode n;
                    try {
                        n = JSON.readTree(text);
                    } catch (IOException e) {
                        warnings.add(file + " line " + line + ": not JSON, skipped");
                        continue;
                    }
                    try {
                        if (n != null && n.isObject() && n.path("rsr").isNumber()) {
                            RsrRecord rec = rsr(n, where);
                            if (rsrIds.add(rec.score().id())) {
                                rsr.add(rec);
                            } else {
                                warnings.add(file + " line " + line + ": repeated RSR id \"" + rec.score().id() + "\" (the first record is kept)");
                            }
                        } else if (n != null && n.isObject() && (n.has("beta") || n.path("steps").path(0).has("r"))) {
                            PrmRecord rec = prm(n, where);
                            if (prmIds.add(rec.id())) {
                                prm.add(rec);
                            } else {
                                warnings.add(file + " line " + line + ": repeated PRM id \"" + rec.id() + "\" (the first record is kept)");
                            }
                        } else {
                            warnings.add(file + " line " + line + ": neither an RSR nor a PRM record, skipped");
                        }
                    } catch (IllegalArgumentException e) {
                        warnings.add(file + " line " + line + ": " + e.getMessage() + ", skipped");
                    }
                }
            }
        }
        return new ReportData(files.stream().map(Path::toString).toList(), rsr, prm, warnings);
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException("no \"" + field + "\"");
        }
        return v.asText();
    }

    private static double number(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException("no number \"" + field + "\"");
        }
        return v.asDouble();
    }

    private static RsrRecord rsr(JsonNode n, String where) {
        TrajectoryScore s = new TrajectoryScore(text(n, "id"), text(n, "problem"), text(n, "teacher"), (int) number(n, "tokens"),
                number(n, "mean_surprisal"), number(n, "mean_clipped_rank"), number(n, "rsr"), n.path("mean_entropy").asDouble(Double.NaN),
                n.path("perplexity").asDouble(Double.NaN), null, List.of());
        Tokens tokens = null;
        JsonNode lp = n.get("token_logprobs");
        if (lp != null && lp.isArray()) {
            int len = lp.size();
            double[] logprobs = doubles(lp, len, "token_logprobs");
            double[] entropies = n.has("token_entropies") ? doubles(n.get("token_entropies"), len, "token_entropies") : nan(len);
            int[] ranks = n.has("token_ranks") ? ints(n.get("token_ranks"), len, "token_ranks") : new int[len];
            int[] ids = n.has("token_ids") ? ints(n.get("token_ids"), len, "token_ids") : null;
            String[] texts = strings(n, len);
            tokens = new Tokens(ids, texts, logprobs, entropies, ranks, topK(n, len));
        }
        return new RsrRecord(s, tokens, where);
    }

    private static PrmRecord prm(JsonNode n, String where) {
        List<PrmStep> steps = new ArrayList<>();
        for (JsonNode st : n.path("steps")) {
            steps.add(new PrmStep(st.path("index").asInt(steps.size()), st.path("tokens").asInt(0), number(st, "r"), st.path("q").asDouble(Double.NaN)));
        }
        double reward = n.path("reward").isNumber() ? n.get("reward").asDouble() : steps.isEmpty() ? Double.NaN : steps.getLast().value();
        JsonNode lr = n.get("log_ratios");
        double[] logRatios = lr != null && lr.isArray() ? doubles(lr, lr.size(), "log_ratios") : null;
        return new PrmRecord(text(n, "id"), n.path("problem").asText(""), n.path("teacher").asText(""), n.path("tokens").asInt(0),
                n.path("beta").asDouble(Double.NaN), reward, steps, logRatios, where);
    }

    private static double[] nan(int len) {
        double[] out = new double[len];
        java.util.Arrays.fill(out, Double.NaN);
        return out;
    }

    private static double[] doubles(JsonNode a, int len, String field) {
        if (a == null || !a.isArray() || a.size() != len) {
            throw new IllegalArgumentException("\"" + field + "\" has " + (a == null ? 0 : a.size()) + " entries, expected " + len);
        }
        double[] out = new double[len];
        for (int i = 0; i < len; i++) {
            out[i] = a.get(i).asDouble(Double.NaN);
        }
        return out;
    }

    private static int[] ints(JsonNode a, int len, String field) {
        if (a == null || !a.isArray() || a.size() != len) {
            throw new IllegalArgumentException("\"" + field + "\" has " + (a == null ? 0 : a.size()) + " entries, expected " + len);
        }
        int[] out = new int[len];
        for (int i = 0; i < len; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    /** Token texts if the file has them under one of the names panscore's tools may use. */
    private static String[] strings(JsonNode n, int len) {
        for (String field : List.of("token_texts", "token_text", "token_pieces")) {
            JsonNode a = n.get(field);
            if (a != null && a.isArray() && a.size() == len) {
                String[] out = new String[len];
                for (int i = 0; i < len; i++) {
                    out[i] = a.get(i).asText();
                }
                return out;
            }
        }
        return null;
    }

    /** Top-k alternatives per token, when present: objects with id/text/logprob or [id, logprob] pairs. */
    private static List<List<Alternative>> topK(JsonNode n, int len) {
        JsonNode a = null;
        for (String field : List.of("token_top_k", "token_topk", "top_k")) {
            if (n.has(field) && n.get(field).isArray() && n.get(field).size() == len) {
                a = n.get(field);
                break;
            }
        }
        if (a == null) {
            return null;
        }
        List<List<Alternative>> out = new ArrayList<>(len);
        for (JsonNode perToken : a) {
            List<Alternative> alts = new ArrayList<>();
            for (JsonNode alt : perToken) {
                int id;
                String text;
                double lp;
                if (alt.isArray()) {
                    id = alt.path(0).asInt(-1);
                    lp = alt.path(1).asDouble(Double.NaN);
                    text = alt.size() > 2 ? alt.get(2).asText() : null;
                } else {
                    id = alt.path("id").asInt(-1);
                    lp = alt.path("logprob").asDouble(Double.NaN);
                    text = alt.has("text") ? alt.get("text").asText() : null;
                }
                alts.add(new Alternative(id, text, lp));
            }
            out.add(alts);
        }
        return out;
    }
}
