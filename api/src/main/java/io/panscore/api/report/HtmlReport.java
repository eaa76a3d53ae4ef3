package io.panscore.api.report;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.panscore.api.report.ReportData.Alternative;
import io.panscore.api.report.ReportData.PrmRecord;
import io.panscore.api.report.ReportData.PrmStep;
import io.panscore.api.report.ReportData.RsrRecord;
import io.panscore.api.report.ReportData.Tokens;
import io.panscore.api.trajectory.DatasetSummary;
import io.panscore.api.trajectory.TrajectoryScore;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders a {@link ReportData} as one self-contained HTML page: CSS, JavaScript and SVG inline, no
 * request to anywhere (it opens offline, from a file). Tables and charts are HTML and SVG written
 * here; the token heatmaps are drawn by the page's script from the JSON data embedded in it.
 *
 * <p>Every string from the input (ids, teachers, problems, token texts, file names) is hostile:
 * it reaches the page HTML-escaped, or inside the embedded JSON with {@code <}, {@code >} and
 * {@code &} escaped as {@code \\u003c}-style sequences, and the script puts it into the page with
 * {@code textContent} only. Stateless.
 */
public final class HtmlReport {

    /** Clipped-rank histogram bins: [lo, hi] inclusive; the last ends at r_max. */
    static final int[] RANK_LO = {1, 2, 3, 5, 9, 17, 33, 65};
    /** Surprisal histogram bin edges, nats; the last bin is open. */
    static final double[] SURPRISAL_EDGES = {0, 0.25, 0.5, 1, 2, 4, 8};
    /** Surprisal at which a heatmap's colour saturates, nats. */
    static final double SURPRISAL_SCALE = 8;

    private HtmlReport() {}

    /**
     * Writes the report to a file (UTF-8).
     *
     * @param data    what to show
     * @param options how
     * @param out     the HTML file
     * @throws IOException when the file cannot be written
     */
    public static void write(ReportData data, ReportOptions options, Path out) throws IOException {
        write(data, options, null, out);
    }

    /**
     * Writes the report to a file (UTF-8).
     *
     * @param data    what to show
     * @param options how
     * @param texts   renders the token ids of heatmaps whose records have no token texts, or null
     * @param out     the HTML file
     * @throws IOException when the file cannot be written
     */
    public static void write(ReportData data, ReportOptions options, TokenTexts texts, Path out) throws IOException {
        Files.writeString(out, render(data, options, texts), StandardCharsets.UTF_8);
    }

    /**
     * The report as one HTML string.
     *
     * @param data    what to show
     * @param options how
     * @return the page
     */
    public static String render(ReportData data, ReportOptions options) {
        return render(data, options, null);
    }

    /**
     * The report as one HTML string.
     *
     * @param data    what to show
     * @param options how
     * @param texts   renders the token ids of heatmaps whose records have no token texts, or null
     * @return the page
     */
    public static String render(ReportData data, ReportOptions options, TokenTexts texts) {
        StringBuilder h = new StringBuilder(1 << 16);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                // nothing may be fetched: no network, no frames, no forms; only the inline style and script run
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
                        + "script-src 'unsafe-inline'; img-src data:\">\n")
                .append("<title>").append(esc(options.title())).append("</title>\n<style>").append(resource("report.css")).append("</style>\n")
                .append("</head>\n<body>\n<header>\n<h1>").append(esc(options.title())).append("</h1>\n<p class=\"meta\">");
        h.append(data.rsr().size()).append(" RSR record(s), ").append(data.prm().size()).append(" PRM record(s) from ");
        for (int i = 0; i < data.sources().size(); i++) {
            h.append(i == 0 ? "" : ", ").append("<code>").append(esc(data.sources().get(i))).append("</code>");
        }
        h.append("</p>\n<nav>");
        if (!data.rsr().isEmpty()) {
            h.append("<a href=\"#teachers\">teachers</a> <a href=\"#best\">best per problem</a> <a href=\"#distributions\">distributions</a> ")
                    .append("<a href=\"#heatmaps\">token heatmaps</a> ");
        }
        if (!data.prm().isEmpty()) {
            h.append("<a href=\"#prm\">step rewards</a>");
        }
        h.append("</nav>\n");
        if (!data.warnings().isEmpty()) {
            h.append("<details class=\"warnings\"><summary>").append(data.warnings().size()).append(" warning(s) while reading</summary><ul>");
            data.warnings().stream().limit(50).forEach(w -> h.append("<li>").append(esc(w)).append("</li>"));
            h.append("</ul></details>\n");
        }
        h.append("</header>\n<main>\n");
        List<Map<String, Object>> heatmaps = new ArrayList<>();
        if (!data.rsr().isEmpty()) {
            rsrSections(h, data, options, texts, heatmaps);
        }
        if (!data.prm().isEmpty()) {
            prmSection(h, data, options);
        }
        if (data.rsr().isEmpty() && data.prm().isEmpty()) {
            h.append("<p class=\"empty\">No RSR or PRM records were found in the input.</p>\n");
        }
        h.append("</main>\n<div id=\"tip\" role=\"tooltip\" hidden></div>\n");
        h.append("<script type=\"application/json\" id=\"panscore-data\">").append(json(options, heatmaps)).append("</script>\n");
        h.append("<script>").append(resource("report.js")).append("</script>\n</body>\n</html>\n");
        return clean(h.toString());
    }

    // ---- RSR ------------------------------------------------------------------------------------

    private static void rsrSections(StringBuilder h, ReportData data, ReportOptions options, TokenTexts texts, List<Map<String, Object>> heatmaps) {
        List<TrajectoryScore> scores = data.rsrScores();
        List<DatasetSummary.TeacherRsr> teachers = DatasetSummary.teachers(scores);
        Map<String, double[]> means = new HashMap<>(); // teacher -> {sum s̄, sum r̄, n}
        for (TrajectoryScore s : scores) {
            double[] m = means.computeIfAbsent(s.teacher(), k -> new double[3]);
            m[0] += s.meanSurprisal();
            m[1] += s.meanClippedRank();
            m[2]++;
        }
        h.append("<section id=\"teachers\">\n<h2>Teachers by dataset RSR</h2>\n")
                .append("<p class=\"note\">RSR<sub>D</sub> = &Sigma; r&#772; / &Sigma; s&#772; over a teacher's trajectories (mean clipped rank over mean surprisal); ")
                .append("lower is better: the student finds the text likely and its tokens near the top.</p>\n");
        barChart(h, teachers);
        h.append("<table id=\"teacher-table\">\n<thead><tr><th>rank</th><th>teacher</th><th>trajectories</th><th>RSR</th>")
                .append("<th>mean surprisal</th><th>mean clipped rank</th></tr></thead>\n<tbody>\n");
        for (DatasetSummary.TeacherRsr t : teachers) {
            double[] m = means.get(t.teacher());
            h.append("<tr data-teacher=\"").append(esc(t.teacher())).append("\"><td>").append(t.rank()).append("</td><td class=\"name\">")
                    .append(esc(t.teacher())).append("</td><td>").append(t.trajectories()).append("</td><td>").append(num(t.rsr(), 4))
                    .append("</td><td>").append(num(m[0] / m[2], 4)).append("</td><td>").append(num(m[1] / m[2], 3)).append("</td></tr>\n");
        }
        h.append("</tbody>\n</table>\n</section>\n");

        Map<String, RsrRecord> byId = new HashMap<>();
        data.rsr().forEach(r -> byId.put(r.score().id(), r));
        List<DatasetSummary.Best> best = DatasetSummary.bestPerProblem(scores);
        h.append("<section id=\"best\">\n<h2>Best trajectory per problem</h2>\n<p class=\"note\">The trajectory with the lowest RSR of each problem ")
                .append("(ties by id), as <code>panscore rsr --select-best</code> picks it.</p>\n")
                .append("<table id=\"best-table\">\n<thead><tr><th>problem</th><th>trajectory</th><th>teacher</th><th>RSR</th><th>candidates</th>")
                .append("<th>tokens</th><th>heatmap</th></tr></thead>\n<tbody>\n");
        int drawn = 0;
        for (DatasetSummary.Best b : best) {
            RsrRecord rec = byId.get(b.id());
            String link = "";
            if (rec.tokens() != null && drawn < options.maxHeatmaps()) {
                link = "<a href=\"#hm-" + drawn + "\">show</a>";
                heatmaps.add(heatmap(rec, texts));
                drawn++;
            }
            h.append("<tr><td>").append(esc(b.problem())).append("</td><td class=\"name\">").append(esc(b.id())).append("</td><td>")
                    .append(esc(b.teacher())).append("</td><td>").append(num(b.rsr(), 4)).append("</td><td>").append(b.candidates())
                    .append("</td><td>").append(rec.score().tokenCount()).append("</td><td>").append(link).append("</td></tr>\n");
        }
        h.append("</tbody>\n</table>\n</section>\n");

        distributions(h, data, options, teachers);

        h.append("<section id=\"heatmaps\">\n<h2>Token heatmaps of the chosen trajectories</h2>\n");
        long withTokens = data.rsr().stream().filter(r -> r.tokens() != null).count();
        if (heatmaps.isEmpty()) {
            h.append("<p class=\"note\">No per-token statistics in the input: run <code>panscore rsr --per-token</code> to see them here.</p>\n");
        } else {
            h.append("<p class=\"note\">One box per token of the best trajectory of each problem (").append(heatmaps.size()).append(" of ")
                    .append(best.size()).append(" problems drawn; ").append(withTokens).append(" record(s) carry per-token data). ")
                    .append("Hover a token for its text, log-prob, rank, entropy")
                    .append(data.rsr().stream().anyMatch(r -> r.tokens() != null && r.tokens().topK() != null) ? " and top-k" : "")
                    .append(".</p>\n<div class=\"controls\">colour: <label><input type=\"radio\" name=\"colour\" value=\"surprisal\"")
                    .append(options.colour().equals("surprisal") ? " checked" : "").append("> surprisal</label> <label><input type=\"radio\" name=\"colour\" value=\"entropy\"")
                    .append(options.colour().equals("entropy") ? " checked" : "").append("> entropy</label> <span class=\"legend\"><span>low</span>")
                    .append("<span class=\"ramp\"></span><span id=\"legend-max\">high</span></span></div>\n");
            for (int i = 0; i < heatmaps.size(); i++) {
                Map<String, Object> m = heatmaps.get(i);
                h.append("<div class=\"heatmap\" id=\"hm-").append(i).append("\" data-id=\"").append(esc((String) m.get("id")))
                        .append("\" data-tokens=\"").append(((double[]) m.get("lp")).length).append("\">\n<h3><span class=\"name\">")
                        .append(esc((String) m.get("id"))).append("</span> <small>problem ").append(esc((String) m.get("problem")))
                        .append(", teacher ").append(esc((String) m.get("teacher"))).append(", RSR ").append(num((Double) m.get("rsr"), 4))
                        .append(", ").append(((double[]) m.get("lp")).length).append(" tokens</small></h3>\n<div class=\"tokens\"></div>\n</div>\n");
            }
        }
        h.append("</section>\n");
    }

    private static Map<String, Object> heatmap(RsrRecord rec, TokenTexts renderer) {
        Tokens t = rec.tokens();
        String[] texts = t.texts();
        if (texts == null && t.ids() != null && renderer != null) {
            texts = renderer.sequence(t.ids());
        }
        List<List<Alternative>> topK = t.topK();
        if (topK != null && renderer != null) {
            topK = topK.stream().map(alts -> alts.stream()
                    .map(a -> a.text() == null && a.id() >= 0 ? new Alternative(a.id(), renderer.single(a.id()), a.logprob()) : a).toList()).toList();
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", rec.score().id());
        m.put("problem", rec.score().problem());
        m.put("teacher", rec.score().teacher());
        m.put("rsr", rec.score().rsr());
        m.put("ids", t.ids());
        m.put("t", texts);
        m.put("lp", t.logprobs());
        m.put("h", t.entropies());
        m.put("r", t.ranks());
        m.put("k", topK);
        return m;
    }

    private static void barChart(StringBuilder h, List<DatasetSummary.TeacherRsr> teachers) {
        int rowH = 26;
        int labelW = 200;
        int plotW = 420;
        int height = teachers.size() * rowH + 28;
        double max = teachers.stream().mapToDouble(DatasetSummary.TeacherRsr::rsr).filter(Double::isFinite).max().orElse(1);
        max = max > 0 ? max : 1;
        h.append("<svg id=\"teacher-chart\" class=\"chart\" role=\"img\" aria-label=\"teachers by dataset RSR\" width=\"").append(labelW + plotW + 80)
                .append("\" height=\"").append(height).append("\" viewBox=\"0 0 ").append(labelW + plotW + 80).append(' ').append(height).append("\">\n");
        for (int i = 0; i < teachers.size(); i++) {
            DatasetSummary.TeacherRsr t = teachers.get(i);
            double w = Double.isFinite(t.rsr()) ? Math.max(1, plotW * t.rsr() / max) : 0;
            int y = i * rowH + 4;
            h.append("<g><title>").append(esc(t.teacher())).append(": RSR ").append(num(t.rsr(), 4)).append(", ").append(t.trajectories())
                    .append(" trajectories</title><text x=\"").append(labelW - 8).append("\" y=\"").append(y + 16).append("\" text-anchor=\"end\">")
                    .append(t.rank()).append(". ").append(esc(shorten(t.teacher(), 24))).append("</text><rect x=\"").append(labelW).append("\" y=\"")
                    .append(y).append("\" width=\"").append(num(w, 1)).append("\" height=\"").append(rowH - 8).append("\" class=\"bar")
                    .append(i == 0 ? " first" : "").append("\"/><text x=\"").append(num(labelW + w + 6, 1)).append("\" y=\"").append(y + 16)
                    .append("\">").append(num(t.rsr(), 4)).append("</text></g>\n");
        }
        h.append("<text x=\"").append(labelW).append("\" y=\"").append(height - 6).append("\" class=\"axis\">dataset RSR (0 to ").append(num(max, 3))
                .append(")</text>\n</svg>\n");
    }

    // ---- distributions --------------------------------------------------------------------------

    private static void distributions(StringBuilder h, ReportData data, ReportOptions options, List<DatasetSummary.TeacherRsr> teachers) {
        int rMax = options.rMax();
        Map<String, long[]> rank = new HashMap<>();
        Map<String, long[]> surprisal = new HashMap<>();
        Map<String, Boolean> perToken = new HashMap<>();
        for (RsrRecord r : data.rsr()) {
            String teacher = r.score().teacher();
            boolean tokens = r.tokens() != null;
            // a teacher's histogram is per token only when all its records have tokens, so the two are never mixed
            perToken.merge(teacher, tokens, Boolean::logicalAnd);
        }
        for (RsrRecord r : data.rsr()) {
            String teacher = r.score().teacher();
            long[] rb = rank.computeIfAbsent(teacher, k -> new long[RANK_LO.length]);
            long[] sb = surprisal.computeIfAbsent(teacher, k -> new long[SURPRISAL_EDGES.length]);
            if (perToken.get(teacher)) {
                Tokens t = r.tokens();
                for (int i = 0; i < t.size(); i++) {
                    rb[rankBin(Math.min(Math.max(t.ranks()[i], 1), rMax))]++;
                    sb[surprisalBin(-t.logprobs()[i])]++;
                }
            } else {
                rb[rankBin((int) Math.round(Math.min(Math.max(r.score().meanClippedRank(), 1), rMax)))]++;
                sb[surprisalBin(r.score().meanSurprisal())]++;
            }
        }
        h.append("<section id=\"distributions\">\n<h2>Per-teacher distributions</h2>\n<p class=\"note\">Share of tokens in each bin of clipped rank ")
                .append("(min(rank, ").append(rMax).append(")) and of surprisal (&minus;log-prob, nats). ")
                .append("A teacher without per-token data is shown over its trajectories' means instead (marked).</p>\n<div class=\"dists\">\n");
        String[] rankLabels = new String[RANK_LO.length];
        for (int i = 0; i < RANK_LO.length; i++) {
            int hi = i + 1 < RANK_LO.length ? RANK_LO[i + 1] - 1 : rMax;
            rankLabels[i] = RANK_LO[i] == hi ? Integer.toString(hi) : RANK_LO[i] + "-" + hi;
        }
        String[] sLabels = new String[SURPRISAL_EDGES.length];
        for (int i = 0; i < SURPRISAL_EDGES.length; i++) {
            sLabels[i] = i + 1 < SURPRISAL_EDGES.length ? fmtEdge(SURPRISAL_EDGES[i]) + "-" + fmtEdge(SURPRISAL_EDGES[i + 1])
                    : "\u2265" + fmtEdge(SURPRISAL_EDGES[i]);
        }
        for (DatasetSummary.TeacherRsr t : teachers) {
            boolean tokens = perToken.get(t.teacher());
            h.append("<div class=\"dist\" data-teacher=\"").append(esc(t.teacher())).append("\"><h3>").append(t.rank()).append(". ").append(esc(t.teacher()))
                    .append(tokens ? "" : " <small class=\"means\">(trajectory means)</small>").append("</h3>\n");
            histogram(h, "clipped rank", rankLabels, rank.get(t.teacher()), tokens ? "tokens" : "trajectories");
            histogram(h, "surprisal", sLabels, surprisal.get(t.teacher()), tokens ? "tokens" : "trajectories");
            h.append("</div>\n");
        }
        h.append("</div>\n</section>\n");
    }

    static int rankBin(int clippedRank) {
        for (int i = RANK_LO.length - 1; i >= 0; i--) {
            if (clippedRank >= RANK_LO[i]) {
                return i;
            }
        }
        return 0;
    }

    static int surprisalBin(double s) {
        if (!(s >= 0)) {
            return 0; // NaN or a (rounding) negative surprisal
        }
        for (int i = SURPRISAL_EDGES.length - 1; i >= 0; i--) {
            if (s >= SURPRISAL_EDGES[i]) {
                return i;
            }
        }
        return 0;
    }

    private static String fmtEdge(double v) {
        return v == Math.rint(v) ? Integer.toString((int) v) : Double.toString(v).replaceFirst("^0\\.", ".");
    }

    private static void histogram(StringBuilder h, String what, String[] labels, long[] counts, String unit) {
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        int barW = 40;
        int plotH = 80;
        int width = labels.length * barW + 10;
        h.append("<svg class=\"hist\" role=\"img\" aria-label=\"").append(esc(what)).append("\" width=\"").append(width).append("\" height=\"")
                .append(plotH + 44).append("\" viewBox=\"0 0 ").append(width).append(' ').append(plotH + 44).append("\">\n<text x=\"4\" y=\"12\" class=\"axis\">")
                .append(esc(what)).append(" (").append(total).append(' ').append(unit).append(")</text>\n");
        for (int i = 0; i < labels.length; i++) {
            double share = total == 0 ? 0 : (double) counts[i] / total;
            double bh = plotH * share;
            int x = 5 + i * barW;
            h.append("<g><title>").append(esc(what)).append(' ').append(esc(labels[i])).append(": ").append(counts[i]).append(' ').append(unit)
                    .append(" (").append(num(100 * share, 1)).append("%)</title><rect x=\"").append(x).append("\" y=\"").append(num(18 + plotH - bh, 1))
                    .append("\" width=\"").append(barW - 4).append("\" height=\"").append(num(bh, 1)).append("\" class=\"bar\"/><text x=\"")
                    .append(x + (barW - 4) / 2).append("\" y=\"").append(plotH + 32).append("\" text-anchor=\"middle\" class=\"tick\">").append(esc(labels[i]))
                    .append("</text></g>\n");
        }
        h.append("</svg>\n");
    }

    // ---- PRM ------------------------------------------------------------------------------------

    private static void prmSection(StringBuilder h, ReportData data, ReportOptions options) {
        double threshold = options.badStepThreshold();
        Map<String, List<PrmRecord>> byProblem = new LinkedHashMap<>();
        data.prm().forEach(p -> byProblem.computeIfAbsent(p.problem(), k -> new ArrayList<>()).add(p));
        Comparator<PrmRecord> better = Comparator.comparingDouble(PrmRecord::minReward).reversed().thenComparing(PrmRecord::id);
        h.append("<section id=\"prm\">\n<h2>Implicit process rewards</h2>\n<p class=\"note\">Step rewards r<sup>t</sup> per response; a step with ")
                .append("r &lt; ").append(num(threshold, 4)).append(" is bad and the first one is marked. Best of N = highest minimum step reward ")
                .append("(<code>panscore prm --select-best --agg min --over r</code>).</p>\n")
                .append("<table id=\"prm-table\">\n<thead><tr><th>problem</th><th>best response</th><th>teacher</th><th>min r</th><th>q<sup>T</sup></th>")
                .append("<th>responses</th><th>with a bad step</th></tr></thead>\n<tbody>\n");
        byProblem.forEach((problem, list) -> {
            PrmRecord b = list.stream().min(better).orElseThrow();
            long bad = list.stream().filter(p -> p.firstBadStep(threshold) >= 0).count();
            h.append("<tr><td>").append(esc(problem)).append("</td><td class=\"name\">").append(esc(b.id())).append("</td><td>").append(esc(b.teacher()))
                    .append("</td><td>").append(num(b.minReward(), 4)).append("</td><td>").append(num(b.reward(), 4)).append("</td><td>").append(list.size())
                    .append("</td><td>").append(bad).append("</td></tr>\n");
        });
        h.append("</tbody>\n</table>\n<div class=\"responses\">\n");
        int drawn = 0;
        for (PrmRecord p : data.prm()) {
            if (drawn++ >= options.maxPrmResponses()) {
                h.append("<p class=\"note\">").append(data.prm().size() - options.maxPrmResponses())
                        .append(" more response(s) not drawn (<code>--max-prm</code>).</p>\n");
                break;
            }
            stepChart(h, p, threshold);
        }
        h.append("</div>\n</section>\n");
    }

    private static void stepChart(StringBuilder h, PrmRecord p, double threshold) {
        int bad = p.firstBadStep(threshold);
        List<PrmStep> steps = p.steps();
        double maxAbs = 1e-9;
        for (PrmStep s : steps) {
            if (Double.isFinite(s.reward())) {
                maxAbs = Math.max(maxAbs, Math.abs(s.reward()));
            }
        }
        int barW = Math.max(8, Math.min(40, 600 / Math.max(1, steps.size())));
        int half = 40;
        int width = Math.max(160, steps.size() * barW + 20);
        h.append("<div class=\"response\" data-id=\"").append(esc(p.id())).append("\" data-first-bad=\"").append(bad).append("\"><h3><span class=\"name\">")
                .append(esc(p.id())).append("</span> <small>problem ").append(esc(p.problem())).append(p.teacher().isEmpty() ? "" : ", teacher " + esc(p.teacher()))
                .append(", q<sup>T</sup> ").append(num(p.reward(), 4)).append(", ").append(steps.size()).append(" step(s)")
                .append(bad >= 0 ? ", <span class=\"bad\">first bad step: " + (bad + 1) + "</span>" : "").append("</small></h3>\n")
                .append("<svg class=\"steps\" role=\"img\" aria-label=\"step rewards\" width=\"").append(width).append("\" height=\"").append(2 * half + 24)
                .append("\" viewBox=\"0 0 ").append(width).append(' ').append(2 * half + 24).append("\">\n<line x1=\"0\" x2=\"").append(width)
                .append("\" y1=\"").append(half + 8).append("\" y2=\"").append(half + 8).append("\" class=\"zero\"/>\n");
        for (int i = 0; i < steps.size(); i++) {
            PrmStep s = steps.get(i);
            double r = Double.isFinite(s.reward()) ? s.reward() : 0;
            double bh = half * Math.abs(r) / maxAbs;
            double y = r >= 0 ? half + 8 - bh : half + 8;
            int x = 10 + i * barW;
            String cls = "step" + (r < threshold ? " neg" : " pos") + (i == bad ? " first-bad" : "");
            h.append("<g><title>step ").append(i + 1).append(": r ").append(num(s.reward(), 5)).append(", q ").append(num(s.value(), 5)).append(", ")
                    .append(s.tokenCount()).append(" tokens").append(i == bad ? " (first bad step)" : "").append("</title><rect x=\"").append(x)
                    .append("\" y=\"").append(num(y, 1)).append("\" width=\"").append(barW - 2).append("\" height=\"").append(num(Math.max(bh, 0.5), 1))
                    .append("\" class=\"").append(cls).append("\"/>");
            if (i == bad) {
                h.append("<text x=\"").append(x + (barW - 2) / 2).append("\" y=\"").append(2 * half + 22).append("\" text-anchor=\"middle\" class=\"bad-mark\">")
                        .append("\u25B2 first bad</text>");
            }
            h.append("</g>\n");
        }
        h.append("</svg>\n</div>\n");
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** The data the page's script needs, as JSON that cannot end the script element. */
    private static String json(ReportOptions options, List<Map<String, Object>> heatmaps) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            g.writeStartObject();
            g.writeStringField("colour", options.colour());
            g.writeNumberField("surprisalScale", SURPRISAL_SCALE);
            g.writeArrayFieldStart("heatmaps");
            for (Map<String, Object> m : heatmaps) {
                g.writeStartObject();
                g.writeStringField("id", clean((String) m.get("id")));
                int[] ids = (int[]) m.get("ids");
                if (ids != null) {
                    g.writeFieldName("ids");
                    g.writeArray(ids, 0, ids.length);
                }
                String[] texts = (String[]) m.get("t");
                if (texts != null) {
                    g.writeArrayFieldStart("t");
                    for (String s : texts) {
                        g.writeString(clean(s));
                    }
                    g.writeEndArray();
                }
                rounded(g, "lp", (double[]) m.get("lp"));
                rounded(g, "h", (double[]) m.get("h"));
                int[] ranks = (int[]) m.get("r");
                g.writeFieldName("r");
                g.writeArray(ranks, 0, ranks.length);
                @SuppressWarnings("unchecked")
                List<List<Alternative>> k = (List<List<Alternative>>) m.get("k");
                if (k != null) {
                    g.writeArrayFieldStart("k");
                    for (List<Alternative> alts : k) {
                        g.writeStartArray();
                        for (Alternative a : alts) {
                            g.writeStartArray();
                            g.writeString(a.text() != null ? clean(a.text()) : "#" + a.id());
                            roundedValue(g, a.logprob());
                            g.writeEndArray();
                        }
                        g.writeEndArray();
                    }
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return scriptSafe(w.toString());
    }

    private static void rounded(JsonGenerator g, String field, double[] v) throws IOException {
        g.writeArrayFieldStart(field);
        for (double d : v) {
            roundedValue(g, d);
        }
        g.writeEndArray();
    }

    private static void roundedValue(JsonGenerator g, double d) throws IOException {
        if (Double.isFinite(d)) {
            g.writeNumber(Math.round(d * 1e4) / 1e4);
        } else {
            g.writeNull(); // NaN and -inf are not JSON
        }
    }

    /**
     * JSON text that is safe inside a script element: {@code <}, {@code >}, {@code &} and the two
     * JavaScript line terminators become escapes (they can only occur inside JSON strings).
     */
    static String scriptSafe(String json) {
        StringBuilder b = new StringBuilder(json.length() + 16);
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            switch (c) {
                case '<' -> b.append("\\u003c");
                case '>' -> b.append("\\u003e");
                case '&' -> b.append("\\u0026");
                case '\u2028' -> b.append("\\u2028");
                case '\u2029' -> b.append("\\u2029");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** HTML-escapes text for element content and double- or single-quoted attribute values. */
    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** Lone surrogates (a token that is half a character) become U+FFFD, so the page is valid UTF-8. */
    static String clean(String s) {
        if (s == null) {
            return null;
        }
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok;
            if (Character.isHighSurrogate(c)) {
                ok = i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
                if (ok) {
                    if (b != null) {
                        b.append(c).append(s.charAt(i + 1));
                    }
                    i++;
                    continue;
                }
            } else {
                ok = !Character.isLowSurrogate(c);
            }
            if (!ok && b == null) {
                b = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (b != null) {
                b.append(ok ? c : '\uFFFD');
            }
        }
        return b == null ? s : b.toString();
    }

    private static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "\u2026";
    }

    private static String num(double v, int decimals) {
        if (!Double.isFinite(v)) {
            return Double.isNaN(v) ? "\u2013" : v > 0 ? "\u221E" : "\u2212\u221E";
        }
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String resource(String name) {
        try (InputStream in = HtmlReport.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " of the report");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
