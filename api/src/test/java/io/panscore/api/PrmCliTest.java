package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrmCliTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    private static String[] args(Path in, Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("prm", "--policy", Fixtures.tiny().toString(), "--ref",
                Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString(), "--in", in.toString(), "--out", out.toString(),
                "--ctx", "1024", "--chunk", "8", "--progress", "never"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void scoresSelectsFiltersAndResumes(@TempDir Path dir) throws Exception {
        String sample;
        try (InputStream s = PrmCliTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            sample = new String(s.readAllBytes(), StandardCharsets.UTF_8);
        }
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample + "{\"id\": \"bad\"\n");
        Path out = dir.resolve("out.jsonl");
        CliRun r = run(args(in, out, "--select-best", "--agg", "min", "--filter-threshold", "-0.5", "--filter-mode", "truncate", "--timings"));
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("skipping line 19: not valid JSON"), r.err());
        assertTrue(r.out().contains("best response per problem") && r.out().contains("step filter") && r.out().contains("time: policy"), r.out());
        List<String> lines = Files.readAllLines(out);
        assertEquals(18, lines.size());
        assertTrue(lines.getFirst().contains("\"aggregates\":{\"min_r\":") && lines.getFirst().contains("\"steps\":[{\"index\":0"), lines.getFirst());
        byte[] clean = Files.readAllBytes(out);
        // cut the file mid-record and resume
        Files.write(out, java.util.Arrays.copyOf(clean, clean.length / 2));
        assertEquals(0, run(args(in, out)).status());
        assertArrayEquals(clean, Files.readAllBytes(out));
        Path csv = dir.resolve("out.csv");
        assertEquals(0, run(args(in, csv, "--beta", "0.001")).status());
        assertTrue(Files.readAllLines(csv).getFirst().startsWith("id,problem,teacher,tokens,steps,reward,min_r"));
    }

    @Test
    void argumentErrors(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), "");
        CliRun noRef = run("prm", "--policy", Fixtures.tiny().toString(), "--in", in.toString(), "--out", dir.resolve("o.jsonl").toString());
        assertEquals(1, noRef.status());
        assertTrue(noRef.err().contains("give --ref, or --no-ref"), noRef.err());
        CliRun mismatch = run("prm", "--policy", Fixtures.tiny().toString(), "--ref", Fixtures.qwen2().toString(), "--in", in.toString(), "--out",
                dir.resolve("o.jsonl").toString(), "--ctx", "64");
        assertEquals(1, mismatch.status());
        assertTrue(mismatch.err().contains("same tokenizer"), mismatch.err());
    }
}
