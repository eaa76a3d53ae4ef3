package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.cli.Main;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kill campaign of issue #13: {@code -Dcampaign.kill.count=N} runs (default 2 for CI, one rsr
 * and one prm; {@code scripts/campaign-kill.sh} runs 20), each a separate JVM killed with SIGKILL
 * at a random moment, then resumed; every resumed file must equal a clean run byte for byte.
 */
class KillCampaignTest {

    private static String sample() throws IOException {
        try (InputStream in = KillCampaignTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Path bigInput(Path dir, int copies) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c = 0; c < copies; c++) {
            for (String line : sample().split("\n")) {
                b.append(line.replaceFirst("\"id\": \"", "\"id\": \"copy" + c + "/")).append('\n');
            }
        }
        return Files.writeString(dir.resolve("in.jsonl"), b.toString());
    }

    private static List<String> args(String command, Path in, Path out, String format) {
        List<String> a = new ArrayList<>(command.equals("rsr") ? List.of("rsr", "--model", Fixtures.tiny().toString(), "--step-delimiter", "\\n\\n")
                : List.of("prm", "--policy", Fixtures.tiny().toString(), "--ref", Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString()));
        a.addAll(List.of("--in", in.toString(), "--out", out.toString(), "--ctx", "1024", "--chunk", "8", "--progress", "never", "--format", format));
        return a;
    }

    @Test
    void killedRunsResumeByteIdentical(@TempDir Path dir) throws Exception {
        int count = Integer.getInteger("campaign.kill.count", 2);
        long seed = Long.getLong("campaign.kill.seed", 13);
        Path log = Path.of(System.getProperty("campaign.kill.log", "target/campaign-kill.log"));
        Files.createDirectories(log.toAbsolutePath().getParent());
        Path in = bigInput(dir, 4); // 72 trajectories
        Random rnd = new Random(seed);
        String[] commands = {"rsr", "prm"};
        String[] formats = {"jsonl", "csv"};
        byte[][][] clean = new byte[2][2][];
        long[][] cleanMillis = new long[2][2];
        int midRun = 0;
        try (PrintWriter logOut = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8))) {
            for (int k = 0; k < count; k++) {
                int c = k % 2;
                int f = (k / 2) % 2;
                if (clean[c][f] == null) { // the clean run of this command and format, once
                    Path cleanOut = dir.resolve("clean-" + commands[c] + "." + formats[f]);
                    long t0 = System.nanoTime();
                    CliRun r = CliRun.of(args(commands[c], in, cleanOut, formats[f]).toArray(String[]::new));
                    cleanMillis[c][f] = (System.nanoTime() - t0) / 1_000_000;
                    assertEquals(0, r.status(), r.err());
                    clean[c][f] = Files.readAllBytes(cleanOut);
                }
                Path out = dir.resolve("killed-" + k + "." + formats[f]);
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
                cmd.addAll(args(commands[c], in, out, formats[f]));
                // A random moment: one kill in five at a random time from JVM start (often before any output), the others
                // once a random fraction of the output is on disk (a clean run's size tells where the run is).
                boolean early = k % 5 == 4;
                long delay = 200 + (long) (rnd.nextDouble() * 2500);
                double fraction = 0.05 + 0.9 * rnd.nextDouble();
                long t0 = System.nanoTime();
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child-" + k + ".log").toFile()).start();
                boolean exited;
                if (early) {
                    exited = p.waitFor(delay, TimeUnit.MILLISECONDS);
                } else {
                    long target = (long) (fraction * clean[c][f].length);
                    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
                    while (p.isAlive() && System.nanoTime() < deadline && (!Files.exists(out) || Files.size(out) < target)) {
                        Thread.sleep(2);
                    }
                    exited = !p.isAlive();
                }
                p.destroyForcibly().waitFor(); // SIGKILL
                delay = (System.nanoTime() - t0) / 1_000_000;
                long bytesAtKill = Files.exists(out) ? Files.size(out) : 0;
                boolean mid = !exited && bytesAtKill > 0 && bytesAtKill < clean[c][f].length;
                midRun += mid ? 1 : 0;
                CliRun resumed = CliRun.of(args(commands[c], in, out, formats[f]).toArray(String[]::new));
                assertEquals(0, resumed.status(), "kill " + k + ": " + resumed.err());
                assertArrayEquals(clean[c][f], Files.readAllBytes(out), "kill " + k + " of " + commands[c] + " " + formats[f] + " after " + delay + " ms");
                logOut.printf("kill %2d: %s --format %s, SIGKILL after %5d ms (%s), %s, %7d of %7d bytes written; resumed byte-identical%n", k,
                        commands[c], formats[f], delay, early ? "random time" : String.format(java.util.Locale.ROOT, "at %.0f%% of the output", 100 * fraction),
                        exited ? "had finished" : "mid-run", bytesAtKill, clean[c][f].length);
                logOut.flush();
            }
            logOut.printf("%d kills, %d of them mid-run (part of the output written), all resumed byte-identical to clean runs%n", count, midRun);
        }
        System.out.println("kill campaign: " + count + " kills, " + midRun + " mid-run, all byte-identical (log: " + log + ")");
        assertTrue(count < 2 || midRun > 0, "at least one kill should land mid-run with part of the output written");
    }
}
