package io.panscore.api.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on a terminal (trajectories, tokens/s, ETA), redrawn at most 5 times a
 * second; silent when output is not a terminal, so logs and CI stay quiet. Not thread-safe.
 */
final class Progress {

    private final PrintStream err;
    private final boolean enabled;
    private final long total;
    private final long start = System.nanoTime();
    private long lastDraw;
    private long done;
    private long tokens;

    Progress(PrintStream err, boolean enabled, long total) {
        this.err = err;
        this.enabled = enabled;
        this.total = total;
    }

    void advance(long records, long newTokens) {
        done += records;
        tokens += newTokens;
        long now = System.nanoTime();
        if (enabled && now - lastDraw > 200_000_000L) {
            lastDraw = now;
            draw(now);
        }
    }

    private void draw(long now) {
        double secs = Math.max(1e-9, (now - start) / 1e9);
        double rate = done / secs;
        int width = 30;
        int filled = total > 0 ? (int) Math.min(width, width * done / total) : 0;
        String eta = total > 0 && rate > 0 ? clock((total - done) / rate) : "?";
        err.printf(Locale.ROOT, "\r[%s%s] %,d/%s trajectories  %,.0f tok/s  ETA %s   ", "#".repeat(filled), " ".repeat(width - filled), done,
                total > 0 ? String.format(Locale.ROOT, "%,d", total) : "?", tokens / secs, eta);
        err.flush();
    }

    void finish() {
        if (enabled) {
            draw(System.nanoTime());
            err.println();
        }
    }

    double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    long tokens() {
        return tokens;
    }

    private static String clock(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
