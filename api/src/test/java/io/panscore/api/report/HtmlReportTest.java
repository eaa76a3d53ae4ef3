package io.panscore.api.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report's reading, ranking, marking and escaping, on hand-made score files (no model needed).
 * Expected values are worked out by hand in the comments.
 */
class HtmlReportTest {

    @TempDir
    Path dir;

    private static String rsr(String id, String problem, String teacher, double meanS, double meanR, String extra) {
        // RSR of one trajectory = Σr/Σs = r̄/s̄
        return "{\"id\":\"" + id + "\",\"problem\":\"" + problem + "\",\"teacher\":\"" + teacher + "\",\"tokens\":3,\"mean_surprisal\":" + meanS
                + ",\"mean_clipped_rank\":" + meanR + ",\"rsr\":" + (meanR / meanS) + ",\"mean_entropy\":1.0,\"perplexity\":2.0" + extra + "}";
    }

    private Path write(String name, String... lines) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, List.of(lines), StandardCharsets.UTF_8);
        return p;
    }

    private static List<String> column(String html, String tableId, int col) {
        String table = html.substring(html.indexOf("<table id=\"" + tableId + "\">"));
        table = table.substring(0, table.indexOf("</table>"));
        List<String> out = new ArrayList<>();
        Matcher row = Pattern.compile("<tr[^>]*>(.*?)</tr>").matcher(table.substring(table.indexOf("<tbody>")));
        while (row.find()) {
            Matcher cell = Pattern.compile("<td[^>]*>(.*?)</td>").matcher(row.group(1));
            for (int i = 0; i <= col; i++) {
                assertTrue(cell.find());
            }
            out.add(cell.group(1));
        }
        return out;
    }

    @Test
    void teachersRankedByDatasetRsrAndBestPerProblem() throws IOException {
        // A: (s̄ 1, r̄ 2), (s̄ 1, r̄ 4) -> RSR_D = 6/2 = 3; B: (s̄ 1, r̄ 1) -> 1; C: (s̄ 2, r̄ 10) -> 5. Order: B, A, C.
        Path f = write("s.jsonl", rsr("p1/A", "p1", "A", 1, 2, ""), rsr("p2/A", "p2", "A", 1, 4, ""), rsr("p1/B", "p1", "B", 1, 1, ""),
                rsr("p2/C", "p2", "C", 2, 10, ""));
        ReportData data = new ReportReader().read(List.of(f));
        String html = HtmlReport.render(data, ReportOptions.defaults());
        assertEquals(List.of("B", "A", "C"), column(html, "teacher-table", 1));
        assertEquals(List.of("1", "2", "3"), column(html, "teacher-table", 0));
        assertEquals(List.of("1.0000", "3.0000", "5.0000"), column(html, "teacher-table", 3));
        // best of p1: B (RSR 1) over A (2); of p2: A (4) over C (5)
        assertEquals(List.of("p1/B", "p2/A"), column(html, "best-table", 1));
        // no per-token data: distributions over trajectory means, and no heatmap
        assertTrue(html.contains("(trajectory means)"));
        assertFalse(html.contains("class=\"heatmap\""));
        assertTrue(html.contains("run <code>panscore rsr --per-token</code>"));
    }

    @Test
    void recordKindIsDetectedPerLineAndBadLinesAreReported() throws IOException {
        String prm = "{\"id\":\"q1\",\"problem\":\"p\",\"teacher\":\"T\",\"tokens\":6,\"beta\":0.05,\"reward\":-0.2,"
                + "\"steps\":[{\"index\":0,\"tokens\":2,\"r\":0.2,\"q\":0.2},{\"index\":1,\"tokens\":2,\"r\":-0.1,\"q\":0.1},"
                + "{\"index\":2,\"tokens\":2,\"r\":-0.3,\"q\":-0.2}]}";
        Path f = write("mixed.jsonl", rsr("a", "p", "T", 1, 2, ""), prm, "not json", "{\"id\":\"x\"}", rsr("a", "p", "T", 1, 3, ""));
        ReportData data = new ReportReader().read(List.of(f));
        assertEquals(1, data.rsr().size());
        assertEquals(2.0, data.rsr().get(0).score().meanClippedRank(), "the first of a repeated id is kept");
        assertEquals(1, data.prm().size());
        assertEquals(3, data.warnings().size(), data.warnings().toString());
        assertTrue(data.warnings().get(0).contains("line 3"), data.warnings().get(0));
        assertTrue(data.warnings().get(1).contains("line 4"), data.warnings().get(1));
        assertTrue(data.warnings().get(2).contains("repeated RSR id"), data.warnings().get(2));
        // steps r = 0.2, -0.1, -0.3: below 0 first at step index 1; below -0.2 first at index 2
        assertEquals(1, data.prm().get(0).firstBadStep(0));
        assertEquals(2, data.prm().get(0).firstBadStep(-0.2));
        assertEquals(-1, data.prm().get(0).firstBadStep(-1));
        String html = HtmlReport.render(data, ReportOptions.defaults());
        assertTrue(html.contains("data-id=\"q1\" data-first-bad=\"1\""), "first bad step marked on the response");
        assertEquals(1, count(html, "class=\"step neg first-bad\""));
        assertTrue(html.contains("first bad step: 2"), "shown 1-based");
    }

    @Test
    void perTokenRecordsGetHeatmapsWithTheirTokensAndTexts() throws IOException {
        String tokens = ",\"token_ids\":[5,6,7],\"token_logprobs\":[-0.5,-2.0,-0.1],\"token_entropies\":[1.0,2.0,0.5],\"token_ranks\":[1,4,1]";
        Path f = write("t.jsonl", rsr("p/A", "p", "A", 1, 2, tokens), rsr("p/B", "p", "B", 1, 3, tokens));
        ReportData data = new ReportReader().read(List.of(f));
        assertNull(data.rsr().get(0).tokens().texts(), "the file has ids only");
        List<int[]> asked = new ArrayList<>();
        TokenTexts texts = new TokenTexts() {
            @Override
            public String[] sequence(int[] ids) {
                asked.add(ids);
                return java.util.Arrays.stream(ids).mapToObj(id -> "tok" + id).toArray(String[]::new);
            }

            @Override
            public String single(int id) {
                return "tok" + id;
            }
        };
        String html = HtmlReport.render(data, ReportOptions.defaults(), texts);
        assertEquals(1, asked.size(), "texts rendered for the drawn heatmap only");
        assertEquals(1, count(html, "class=\"heatmap\""), "one problem, one heatmap (its best trajectory)");
        assertTrue(html.contains("data-id=\"p/A\" data-tokens=\"3\""));
        String json = html.substring(html.indexOf("id=\"panscore-data\">") + 19, html.indexOf("</script>"));
        assertTrue(json.contains("\"t\":[\"tok5\",\"tok6\",\"tok7\"]"), json);
        assertTrue(json.contains("\"lp\":[-0.5,-2.0,-0.1]"), json);
        assertTrue(json.contains("\"r\":[1,4,1]"), json);
        // per-token histograms: ranks 1, 4, 1 -> bins "1" twice and "3-4" once
        assertTrue(html.contains("clipped rank (3 tokens)"));
        assertTrue(html.contains("clipped rank 1: 2 tokens"));
        assertTrue(html.contains("clipped rank 3-4: 1 tokens"));
    }

    @Test
    void hostileStringsAreEscapedEverywhere() throws IOException {
        String evil = "</script><img src=x onerror=alert(1)>";
        String tokens = ",\"token_ids\":[1],\"token_logprobs\":[-1.0],\"token_entropies\":[1.0],\"token_ranks\":[2],"
                + "\"token_texts\":[\"</script><script>alert(2)</script>\"]";
        Path f = write("evil.jsonl", rsr("<b>id</b>\\u2028", "'p'", evil.replace("\"", "\\\""), 1, 2, tokens));
        String html = HtmlReport.render(new ReportData(List.of("<evil>.jsonl"), new ReportReader().read(List.of(f)).rsr(), List.of(), List.of()),
                ReportOptions.defaults().withTitle("<title>"));
        assertEquals(2, count(html, "<script"), "only the data and the code script elements");
        assertEquals(2, count(html, "</script>"));
        assertFalse(html.contains("<img"));
        assertFalse(html.contains("<b>"));
        assertFalse(html.contains("<evil>"));
        assertFalse(html.contains("'p'"));
        String json = html.substring(html.indexOf("id=\"panscore-data\">"), html.indexOf("</script>"));
        assertTrue(json.contains("\\u2028"), "the id's line separator is escaped in the data");
        assertFalse(json.contains("\u2028"), "a raw line separator would end a JavaScript string in old engines");
        assertTrue(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assertTrue(html.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(2)"), "token text escaped inside the JSON");
    }

    @Test
    void escapingHelpers() {
        assertEquals("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;", HtmlReport.esc("<a href=\"x\" title='y'>&"));
        assertEquals("\"\\u003c/script\\u003e \\u0026 \\u2028\"", HtmlReport.scriptSafe("\"</script> & \u2028\""));
        assertEquals("a\uFFFDb", HtmlReport.clean("a\uD800b"), "a lone high surrogate");
        assertEquals("a\uFFFD", HtmlReport.clean("a\uDC00"), "a lone low surrogate");
        assertEquals("\uD83D\uDE00", HtmlReport.clean("\uD83D\uDE00"), "a pair is kept");
        assertNull(HtmlReport.clean(null));
    }

    @Test
    void histogramBins() {
        // rank bins: 1 | 2 | 3-4 | 5-8 | 9-16 | 17-32 | 33-64 | 65-r_max
        assertEquals(0, HtmlReport.rankBin(1));
        assertEquals(1, HtmlReport.rankBin(2));
        assertEquals(2, HtmlReport.rankBin(4));
        assertEquals(3, HtmlReport.rankBin(5));
        assertEquals(6, HtmlReport.rankBin(64));
        assertEquals(7, HtmlReport.rankBin(100));
        // surprisal edges 0, .25, .5, 1, 2, 4, 8 nats
        assertEquals(0, HtmlReport.surprisalBin(0.1));
        assertEquals(1, HtmlReport.surprisalBin(0.25));
        assertEquals(3, HtmlReport.surprisalBin(1.5));
        assertEquals(6, HtmlReport.surprisalBin(50));
        assertEquals(0, HtmlReport.surprisalBin(Double.NaN));
    }

    @Test
    void optionsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> ReportOptions.defaults().withColour("rank"));
        assertThrows(IllegalArgumentException.class, () -> ReportOptions.defaults().withRMax(0));
        assertThrows(IllegalArgumentException.class, () -> ReportOptions.defaults().withMaxHeatmaps(-1));
    }

    @Test
    void reportCommandWritesTheFile() throws IOException {
        Path f = write("s.jsonl", rsr("p1/A", "p1", "A", 1, 2, ""), rsr("p1/B", "p1", "B", 1, 1, ""));
        Path out = dir.resolve("r.html");
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int status = Main.run(new String[] {"report", "--in", f.toString(), "--out", out.toString()}, new PrintWriter(o, true), new PrintWriter(e, true));
        assertEquals(0, status, e.toString());
        assertTrue(o.toString().contains("2 RSR and 0 PRM record(s)"), o.toString());
        String html = Files.readString(out);
        assertEquals(List.of("B", "A"), column(html, "teacher-table", 1));
        assertNotNull(html);
        // a missing input is a one-line error, exit status 1
        int missing = Main.run(new String[] {"report", "--in", dir.resolve("nope.jsonl").toString(), "--out", out.toString()},
                new PrintWriter(o, true), new PrintWriter(e, true));
        assertEquals(1, missing);
        assertTrue(e.toString().contains("cannot read --in"), e.toString());
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
