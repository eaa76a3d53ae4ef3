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
import java.util.Map;
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
        Iterator<Result> run(Iterator<Trajectory> input, Predicate<String> alreadyDone) throws IOException;
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

        @Option(names = "--template", description = Templates.DESCRIPTION)
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
        return run(args, csvHeader, null, stdout, stderr, scoring);
    }

    /**
     * Runs a job; {@code meta} (what the scores depend on) goes to the output's sidecar and is
     * checked when the output is resumed (see {@link ScoreWriter#open(Path, ScoreWriter.Format, String, Map)}).
     */
    static long run(Args args, String csvHeader, Map<String, ?> meta, PrintWriter stdout, PrintWriter stderr, Scoring scoring) throws IOException {
        if (args.in == null) {
            throw new IllegalArgumentException("missing required option: --in");
        }
        if (!Files.isReadable(args.in)) {
            throw new IOException("cannot read --in " + args.in);
        }
        // The progress bar's total comes from a first pass over a regular file only: a pipe, a
        // FIFO or /dev/stdin can be read once, and counting would consume what is to be scored.
        long total = 0;
        if (Files.isRegularFile(args.in)) {
            try (Stream<String> lines = Files.lines(args.in, StandardCharsets.UTF_8)) {
                total = lines.filter(l -> !l.isBlank()).count();
            } catch (java.io.UncheckedIOException e) {
                total = 0; // not UTF-8 throughout: the scoring pass reports the bad line
            }
        }
        int[] malformed = {0};
        MalformedInputException[] stoppedAt = {null};
        int[] unnamed = {0, 0};
        long failed = 0;
        long written = 0;
        long truncated = 0;
        Progress bar = new Progress(System.err, args.progress.equals("always") || (args.progress.equals("auto") && System.console() != null), total);
        try (ScoreWriter writer = ScoreWriter.open(args.out, args.format(), csvHeader, meta);
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

    /**
     * A fingerprint of a model file for the output's sidecar: SHA-256 over its size, its first
     * 4 MiB (the GGUF header: metadata, vocabulary, tensor infos) and 64 KiB at 64 places spread
     * over the rest. Cheap on a 100 GB file, and it tells apart any two models a user would mix up
     * (another model, quantisation or fine-tune); it is not a cryptographic proof of identical weights.
     */
    static String fingerprint(Path model) throws IOException {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(model, java.nio.file.StandardOpenOption.READ)) {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            long size = ch.size();
            sha.update(java.nio.ByteBuffer.allocate(8).putLong(0, size));
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(1 << 22);
            readAt(ch, buf, 0);
            sha.update(buf.flip());
            for (int i = 0; i < 64 && size > (1 << 22); i++) {
                buf.clear().limit(1 << 16);
                readAt(ch, buf, (1 << 22) + (size - (1 << 22)) / 64 * i);
                sha.update(buf.flip());
            }
            return "sha256-sampled:" + java.util.HexFormat.of().formatHex(sha.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void readAt(java.nio.channels.FileChannel ch, java.nio.ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                break;
            }
        }
    }

    /** What every trajectory command's scores depend on, besides its own options. */
    static Map<String, Object> meta(String command, Args args, EngineArgs engine) {
        Map<String, Object> m = new java.util.TreeMap<>();
        m.put("panscore_output", 1);
        m.put("command", command);
        m.put("format", args.format().name().toLowerCase(Locale.ROOT));
        m.put("chunk", args.chunk);
        m.put("template", args.template);
        m.put("ctx", engine.contextSize);
        m.put("batch", engine.batchSize);
        m.put("ubatch", engine.microBatchSize);
        m.put("gpu_layers", engine.gpuLayers);
        m.put("max_tokens", args.maxTokens);
        return m;
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
