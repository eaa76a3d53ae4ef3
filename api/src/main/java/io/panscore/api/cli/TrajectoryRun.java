package io.panscore.api.cli;

import io.panscore.api.trajectory.ScoreWriter;
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
    record Result(String id, String line, String failure, int tokens, boolean truncated) {
        static Result ok(String id, String line, int tokens) {
            return new Result(id, line, null, tokens, false);
        }

        /** A record of a trajectory cut to --max-tokens (counted in the summary). */
        static Result ok(String id, String line, int tokens, boolean truncated) {
            return new Result(id, line, null, tokens, truncated);
        }

        static Result failed(String id, String why) {
            return new Result(id, null, why, 0, false);
        }
    }

    /** Scores the parsed input, skipping what is done. */
    interface Scoring {
        Iterator<Result> run(TrajectoryJsonl input, Predicate<String> alreadyDone) throws IOException;
    }

    /** Options every trajectory command has. */
    static final class Args {
        @Option(names = "--in", description = "trajectories, one JSON object per line (required)")
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

        @Option(names = "--template", description = "prompt rendering: model (the GGUF's chat template through Jinja, as Hugging Face renders it), "
                + "jinja:FILE (a Jinja template file), none (the prompt field is pre-rendered text), pattern (llama.cpp's pattern renderer on the "
                + "GGUF's template: the old default), or a llama.cpp built-in template name (chatml, llama3, ...). Default: ${DEFAULT-VALUE}")
        String template = "model";

        @Option(names = "--max-tokens", description = "cut prompt + response to this many tokens and score what is kept (the released RSR code's "
                + "max_model_len); the context is sized to the work up to the model's training context. Default: ${DEFAULT-VALUE}")
        int maxTokens = io.panscore.api.trajectory.TrajectoryOptions.DEFAULT_MAX_TOKENS;

        ScoreWriter.Format format() {
            return format != null ? ScoreWriter.Format.valueOf(format.toUpperCase(Locale.ROOT))
                    : out.toString().endsWith(".csv") ? ScoreWriter.Format.CSV : ScoreWriter.Format.JSONL;
        }
    }

    private TrajectoryRun() {}

    /** Runs a job; returns the number of records written now. */
    static long run(Args args, String csvHeader, PrintWriter stdout, PrintWriter stderr, Scoring scoring) throws IOException {
        if (args.in == null) {
            throw new IllegalArgumentException("missing required option: --in");
        }
        if (!Files.isReadable(args.in)) {
            throw new IOException("cannot read --in " + args.in);
        }
        long total;
        try (Stream<String> lines = Files.lines(args.in, StandardCharsets.UTF_8)) {
            total = lines.filter(l -> !l.isBlank()).count();
        }
        int[] malformed = {0};
        long failed = 0;
        long written = 0;
        long truncated = 0;
        Progress bar = new Progress(System.err, args.progress.equals("always") || (args.progress.equals("auto") && System.console() != null), total);
        try (ScoreWriter writer = ScoreWriter.open(args.out, args.format(), csvHeader);
                BufferedReader reader = Files.newBufferedReader(args.in, StandardCharsets.UTF_8)) {
            Set<String> done = Set.copyOf(writer.doneIds());
            bar.advance(done.size(), 0);
            TrajectoryJsonl input = new TrajectoryJsonl(reader, e -> {
                if (args.onError == OnError.fail) {
                    throw e;
                }
                malformed[0]++;
                stderr.println("panscore: skipping " + e.getMessage());
            });
            Iterator<Result> results = scoring.run(input, done::contains);
            while (results.hasNext()) {
                Result r = results.next();
                if (r.line() != null) {
                    writer.writeRecord(r.id(), r.line());
                    written++;
                    truncated += r.truncated() ? 1 : 0;
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
            stdout.printf(Locale.ROOT, "scored %,d trajectories (%,d tokens, %,.0f tokens/s)%s; %d truncated to --max-tokens %d; skipped %d malformed line(s), %d unscorable trajectory(ies)%n",
                    written, bar.tokens(), bar.tokens() / Math.max(1e-9, bar.seconds()),
                    done.isEmpty() ? "" : String.format(Locale.ROOT, ", %,d already in %s", done.size(), args.out), truncated, args.maxTokens,
                    malformed[0], failed);
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

    /** A JSON record with {@code "truncated_from": n} added before its closing brace when n > 0. */
    static String withTruncatedFrom(String json, int truncatedFrom) {
        if (truncatedFrom <= 0 || !json.endsWith("}")) {
            return json;
        }
        return json.substring(0, json.length() - 1) + ",\"truncated_from\":" + truncatedFrom + "}";
    }

    /** "\n" and "\t" typed on a command line become the characters. */
    static String unescape(String s) {
        return s == null ? null : s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
