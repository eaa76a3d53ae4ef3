package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.fixture.Fixtures;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code panscore report}'s flags by what the page then shows, recomputed here from the score
 * files: --max-heatmaps (heatmaps drawn), --max-prm (step charts drawn and the count of the rest),
 * --bad-step-threshold (each drawn response's first step with r below it, and per problem the
 * responses with one), --colour (the checked colour), --r-max (the last rank bin).
 */
class ReportCliValuesTest {

    static final ObjectMapper JSON = new ObjectMapper();

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void reportFlagsShapeThePage(@TempDir Path dir) throws Exception {
        String sample;
        try (InputStream in = ReportCliValuesTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            sample = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample);
        Path rsr = dir.resolve("rsr.jsonl");
        Path prm = dir.resolve("prm.jsonl");
        String tiny = Fixtures.tiny().toString();
        CliRun a = CliRun.of("rsr", "--model", tiny, "--in", in.toString(), "--out", rsr.toString(), "--per-token", "--template", "none", "--ctx", "1024",
                "--threads", "1", "--progress", "never");
        assertEquals(0, a.status(), a.err());
        CliRun b = CliRun.of("prm", "--policy", tiny, "--no-ref", "--beta", "0.05", "--in", in.toString(), "--out", prm.toString(), "--template", "none",
                "--ctx", "1024", "--threads", "1", "--progress", "never");
        assertEquals(0, b.status(), b.err());

        // from the score files: problems, and each response's step rewards in file order
        Set<String> problems = new LinkedHashSet<>();
        for (String line : Files.readAllLines(rsr)) {
            problems.add(JSON.readTree(line).get("problem").asText());
        }
        List<String> ids = new ArrayList<>();
        Map<String, String> problemOf = new LinkedHashMap<>();
        Map<String, double[]> rewards = new LinkedHashMap<>();
        List<Double> minima = new ArrayList<>();
        for (String line : Files.readAllLines(prm)) {
            JsonNode n = JSON.readTree(line);
            String id = n.get("id").asText();
            ids.add(id);
            problemOf.put(id, n.get("problem").asText());
            JsonNode steps = n.get("steps");
            double[] r = new double[steps.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = steps.get(i).get("r").asDouble();
            }
            minima.add(java.util.Arrays.stream(r).min().orElseThrow());
            rewards.put(id, r);
        }
        assertTrue(problems.size() > 2 && ids.size() > 4, problems + " " + ids);
        // a threshold between the two middle minimum step rewards: half the responses have a bad step
        minima.sort(null);
        double threshold = (minima.get(minima.size() / 2 - 1) + minima.get(minima.size() / 2)) / 2;
        int maxPrm = 3;

        Path html = dir.resolve("report.html");
        CliRun r = CliRun.of("report", "--in", rsr.toString(), "--in", prm.toString(), "--out", html.toString(), "--colour", "entropy",
                "--bad-step-threshold", Double.toString(threshold), "--max-heatmaps", "2", "--max-prm", Integer.toString(maxPrm), "--r-max", "7");
        assertEquals(0, r.status(), r.err());
        String page = Files.readString(html);

        assertEquals(2, count(page, "<div class=\"heatmap\""), "--max-heatmaps 2 of " + problems.size() + " problems");
        assertTrue(page.contains("value=\"entropy\" checked"), "--colour entropy");
        assertTrue(page.contains("value=\"surprisal\">"), "surprisal not checked");
        assertTrue(page.contains("(min(rank, 7))"), "--r-max 7");

        // --max-prm: the first 3 responses drawn, each with its first bad step under the threshold
        Matcher drawn = Pattern.compile("<div class=\"response\" data-id=\"([^\"]*)\" data-first-bad=\"(-?\\d+)\"").matcher(page);
        List<String> drawnIds = new ArrayList<>();
        while (drawn.find()) {
            String id = drawn.group(1);
            drawnIds.add(id);
            double[] rs = rewards.get(id);
            int firstBad = -1;
            for (int i = 0; i < rs.length && firstBad < 0; i++) {
                firstBad = rs[i] < threshold ? i : -1;
            }
            assertEquals(firstBad, Integer.parseInt(drawn.group(2)), id);
        }
        assertEquals(ids.subList(0, maxPrm), drawnIds);
        assertTrue(page.contains((ids.size() - maxPrm) + " more response(s) not drawn"), "the rest counted");

        // per problem: responses with a bad step (the prm table's last column)
        Map<String, int[]> perProblem = new LinkedHashMap<>();
        for (String id : ids) {
            int[] c = perProblem.computeIfAbsent(problemOf.get(id), k -> new int[2]);
            c[0]++;
            c[1] += java.util.Arrays.stream(rewards.get(id)).anyMatch(x -> x < threshold) ? 1 : 0;
        }
        int table = page.indexOf("<table id=\"prm-table\">");
        String rows = page.substring(table, page.indexOf("</table>", table));
        int withBad = 0;
        int without = 0;
        for (Map.Entry<String, int[]> e : perProblem.entrySet()) {
            Matcher row = Pattern.compile("<tr><td>" + Pattern.quote(e.getKey()) + "</td>.*?<td>(\\d+)</td><td>(\\d+)</td></tr>").matcher(rows);
            assertTrue(row.find(), e.getKey());
            assertEquals(e.getValue()[0], Integer.parseInt(row.group(1)), e.getKey() + ": responses");
            assertEquals(e.getValue()[1], Integer.parseInt(row.group(2)), e.getKey() + ": with a bad step");
            withBad += e.getValue()[1];
            without += e.getValue()[0] - e.getValue()[1];
        }
        assertTrue(withBad > 0 && without > 0, "the threshold splits the responses: " + withBad + " with a bad step, " + without + " without");
    }
}
