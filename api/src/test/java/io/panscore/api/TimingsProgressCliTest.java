package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code prm --timings} and {@code --progress always|never} by the numbers they print: the token
 * counts equal the response tokens counted here (template none: the response tokenized alone), the
 * bar ends at n/n trajectories with n the input's records, the three times are non-negative and
 * add up to no more than the run's wall-clock time.
 */
class TimingsProgressCliTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** Runs the CLI in-process with System.err captured (the progress bar writes there). */
    private static String[] runCapturingStderr(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        CliRun r;
        try {
            r = CliRun.of(args);
        } finally {
            System.setErr(old);
        }
        assertEquals(0, r.status(), r.err());
        return new String[] {r.out(), bytes.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void timingsAndProgressPrintTheScoredCounts(@TempDir Path dir) throws Exception {
        String sample;
        try (InputStream in = TimingsProgressCliTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            sample = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        List<Trajectory> trajectories = new ArrayList<>();
        new TrajectoryJsonl(new BufferedReader(new StringReader(sample)), e -> {
            throw e;
        }).forEachRemaining(trajectories::add);
        long responseTokens = 0;
        try (Model model = Model.load(Fixtures.tiny())) {
            for (Trajectory t : trajectories) {
                responseTokens += Independent.tokensNoTemplate(model, t).response().length;
            }
        }
        int n = trajectories.size();
        assertTrue(n > 1 && responseTokens > n, n + " trajectories, " + responseTokens + " tokens");
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample);
        String ref = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();

        long t0 = System.nanoTime();
        String[] r = runCapturingStderr("prm", "--policy", Fixtures.tiny().toString(), "--ref", ref, "--in", in.toString(), "--out",
                dir.resolve("a.jsonl").toString(), "--ctx", "1024", "--threads", "1", "--template", "none", "--timings", "--progress", "always");
        double wall = (System.nanoTime() - t0) / 1e9;
        String out = r[0];
        String err = r[1];

        // the summary line and --timings count the same tokens: every response token, scored once
        Matcher scored = Pattern.compile("scored ([\\d,]+) trajectories \\(([\\d,]+) tokens").matcher(out);
        assertTrue(scored.find(), out);
        assertEquals(n, Long.parseLong(scored.group(1).replace(",", "")));
        assertEquals(responseTokens, Long.parseLong(scored.group(2).replace(",", "")), out);
        Matcher time = Pattern.compile("time: policy ([\\d.]+) s, reference ([\\d.]+) s, encoding and rewards ([\\d.]+) s, ([\\d,]+) tokens").matcher(out);
        assertTrue(time.find(), out);
        double policy = Double.parseDouble(time.group(1));
        double reference = Double.parseDouble(time.group(2));
        double rest = Double.parseDouble(time.group(3));
        assertEquals(responseTokens, Long.parseLong(time.group(4).replace(",", "")), out);
        assertTrue(policy >= 0 && reference >= 0 && rest >= 0, out);
        assertTrue(policy + reference + rest <= wall + 0.03, out + " within " + wall + " s"); // 3 values rounded to 0.01 s
        long tokensInFile = 0;
        for (String line : Files.readAllLines(dir.resolve("a.jsonl"))) {
            tokensInFile += JSON.readTree(line).get("tokens").asLong();
        }
        assertEquals(responseTokens, tokensInFile);

        // --progress always: the last redraw shows n/n trajectories and a full bar
        String[] draws = err.split("\r");
        String last = draws[draws.length - 1].lines().findFirst().orElse("").strip();
        assertTrue(last.startsWith("[" + "#".repeat(30) + "] " + String.format(Locale.ROOT, "%,d/%,d", n, n) + " trajectories"), err);
        assertTrue(last.contains("tok/s") && last.endsWith("ETA 0:00:00"), last);

        // --progress never: no bar, and without --timings no time line
        String[] quiet = runCapturingStderr("prm", "--policy", Fixtures.tiny().toString(), "--ref", ref, "--in", in.toString(), "--out",
                dir.resolve("b.jsonl").toString(), "--ctx", "1024", "--threads", "1", "--template", "none", "--progress", "never");
        assertFalse(quiet[1].contains("trajectories"), quiet[1]);
        assertFalse(quiet[0].contains("time: policy"), quiet[0]);
        assertTrue(quiet[0].contains("(" + String.format(Locale.ROOT, "%,d", responseTokens) + " tokens"), quiet[0]);
    }
}
