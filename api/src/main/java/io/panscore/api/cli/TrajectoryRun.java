package io.panscore.api.cli;

import io.panscore.api.trajectory.MalformedInputException;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.kernel.InvalidInputException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/**
 * What the trajectory commands (rsr, prm) share: JSONL input with per-line errors, a resumable
 * output file flushed per record, the progress bar and the closing summary line.
 */
final class TrajectoryRun {

    enum OnError { skip, fail }

    /** One input trajectory's result, already formatted for the output file. */
    record Result(String id, String line, String failure, int tokens) {
        static Result ok(String id, String line, int tokens) {
            return new Result(id, line, null, tokens);
        }

        static Result failed(String id, String why) {
            return new Result(id, null, why, 0);
        }
    }

    /** Scores the parsed input, skipping what is done. */
    interface Scoring {
        Iterator<Result> run(Iterator<Trajectory> input, Predicate<String> alreadyDone) throws IOException;
    }

    /** Options every trajectory command has. */
    static final class Args {
        @Option(names = "--in", required = true, description = "trajectories, one JSON object per line")
        Path in;

        @Option(names = "--out", required = true, description = "results, one record per line; an existing file is resumed (appended to)")
        Path out;

        @Option(names = "--format", description = "jsonl or csv (default: from --out's extension, else jsonl)")
        String format;

        @Option(names = "--on-error", description = "a malformed line or an unscorable trajectory: skip (report, count, go on) or fail (stop; what was written stays). Default: ${DEFAULT-VALUE}")
        OnError onError = OnError.skip;

        @Option(names = "--chunk", description = "trajectories per native call (packing and prompt sharing happen within one). Default: ${DEFAULT-VALUE}")
        int chunk = 64;

        @Option(names = "--progress", description = "auto (a bar on a terminal), always or never. Default: ${DEFAULT-VALUE}")
        String progress = "auto";

        @Option(names = "--template", description = Templates.DESCRIPTION)
        String template = "model";

        ScoreWriter.Format format() {
            return format != null ? ScoreWriter.Format.valueOf(format.toUpperCase(Locale.ROOT))
                    : out.toString().endsWith(".csv") ? ScoreWriter.Format.CSV : ScoreWriter.Format.JSONL;
        }
    }

    private TrajectoryRun() {}

    /** Runs a job; returns the number of records written now. */
    static long run(Args args, String csvHeader, PrintWriter stdout, PrintWriter stderr, Scoring scoring) throws IOException {
        if (!Files.isReadable(args.in)) {
            throw new IOException("cannot read --in " + args.in);
        }
        long total;
        try (Stream<String> lines = Files.lines(args.in, StandardCharsets.UTF_8)) {
            total = lines.filter(l -> !l.isBlank()).count();
        }
        int[] malformed = {0};
        MalformedInputException[] stoppedAt = {null};
        int[] unnamed = {0, 0};
        long failed = 0;
        long written = 0;
        Progress bar = new Progress(System.err, args.progress.equals("always") || (args.progress.equals("auto") && System.console() != null), total);
        try (ScoreWriter writer = ScoreWriter.open(args.out, args.format(), csvHeader);
                BufferedReader reader = Files.newBufferedReader(args.in, StandardCharsets.UTF_8)) {
            Set<String> done = Set.copyOf(writer.doneIds());
            bar.advance(done.size(), 0);
            TrajectoryJsonl lines = new TrajectoryJsonl(reader, e -> {
                if (args.onError == OnError.fail) {
                    stoppedAt[0] = stoppedAt[0] == null ? e : stoppedAt[0];
                    return;
                }
                malformed[0]++;
                stderr.println("panscore: skipping " + e.getMessage());
            });
            // With --on-error fail, input ends before a malformed line, so every valid line before it is
            // scored and written before the run stops (the scorers read a chunk ahead).
            Iterator<Trajectory> input = new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return stoppedAt[0] == null && lines.hasNext() && stoppedAt[0] == null;
                }

                @Override
                public Trajectory next() {
                    Trajectory t = lines.next();
                    unnamed[0] += t.problem().isEmpty() ? 1 : 0;
                    unnamed[1] += t.teacher().isEmpty() ? 1 : 0;
                    return t;
                }
            };
            Iterator<Result> results = scoring.run(input, done::contains);
            while (results.hasNext()) {
                Result r = results.next();
                if (r.line() != null) {
                    writer.writeRecord(r.id(), r.line());
                    written++;
                    bar.advance(1, r.tokens());
                } else {
                    if (args.onError == OnError.fail) {
                        throw new InvalidInputException(0, "trajectory \"" + r.id() + "\" cannot be scored: " + r.failure());
                    }
                    failed++;
                    stderr.println("panscore: skipping trajectory \"" + r.id() + "\": " + r.failure());
                    bar.advance(1, 0);
                }
            }
            bar.finish();
            stdout.printf(Locale.ROOT, "scored %,d trajectories (%,d tokens, %,.0f tokens/s)%s; skipped %d malformed line(s), %d unscorable trajectory(ies)%n",
                    written, bar.tokens(), bar.tokens() / Math.max(1e-9, bar.seconds()),
                    done.isEmpty() ? "" : String.format(Locale.ROOT, ", %,d already in %s", done.size(), args.out), malformed[0], failed);
            if (unnamed[0] > 0 || unnamed[1] > 0) {
                stderr.printf(Locale.ROOT, "panscore: note: %s: recorded as \"\" (summaries group them together)%n",
                        unnamed[0] > 0 && unnamed[1] > 0 ? unnamed[0] + " trajectory(ies) without \"problem\" and " + unnamed[1] + " without \"teacher\""
                                : unnamed[0] > 0 ? unnamed[0] + " trajectory(ies) without \"problem\"" : unnamed[1] + " trajectory(ies) without \"teacher\"");
            }
            if (stoppedAt[0] != null) {
                throw new InvalidInputException(0, stoppedAt[0].getMessage() + "; stopped there (--on-error fail) after writing the "
                        + written + " record(s) before it to " + args.out);
            }
            if (written == 0 && done.isEmpty()) {
                throw new InvalidInputException(0, total == 0 ? "--in " + args.in + " holds no trajectories: nothing was scored"
                        : "nothing was scored: every trajectory of --in " + args.in + " was malformed or unscorable (see the messages above)");
            }
        }
        return written;
    }

    /** Maps a scorer's outcomes to results, lazily. */
    static <O> Iterator<Result> results(Iterator<O> outcomes, java.util.function.Function<O, Result> toResult) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return outcomes.hasNext();
            }

            @Override
            public Result next() {
                return toResult.apply(outcomes.next());
            }
        };
    }

    /** "\n" and "\t" typed on a command line become the characters. */
    static String unescape(String s) {
        return s == null ? null : s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
