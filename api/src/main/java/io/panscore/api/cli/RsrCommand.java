package io.panscore.api.cli;

import io.panscore.api.trajectory.DatasetSummary;
import io.panscore.api.trajectory.MalformedInputException;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Rsr;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.api.trajectory.TrajectoryOptions;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.kernel.Engine;
import io.panscore.kernel.Model;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panscore rsr --model M --in F.jsonl --out G.jsonl}: scores trajectories under a student
 * model (SPEC §3), resumably, and summarises by teacher and by problem.
 */
@Command(name = "rsr", mixinStandardHelpOptions = true,
        description = {"Score (prompt, response) trajectories under a student model: RSR, mean surprisal, mean clipped rank, entropy.",
                "Resumable: rerunning with the same --out skips the ids already written."})
final class RsrCommand implements Callable<Integer> {

    enum OnError { skip, fail }

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, description = "the student model (GGUF)")
    Path model;

    @Option(names = "--in", required = true, description = "trajectories, one JSON object per line")
    Path in;

    @Option(names = "--out", required = true, description = "results, one record per line (appended to; see --format)")
    Path out;

    @Option(names = "--format", description = "jsonl or csv (default: from --out's extension, else jsonl)")
    String format;

    @Option(names = "--r-max", description = "rank clipping. Default: ${DEFAULT-VALUE}")
    int rMax = Rsr.DEFAULT_R_MAX;

    @Option(names = "--template", description = "prompt rendering: model (the GGUF's chat template), none, or a llama.cpp template name (chatml, llama3, ...). Default: ${DEFAULT-VALUE}")
    String template = "model";

    @Option(names = "--step-delimiter", description = "report per-step statistics, splitting responses on this text (e.g. '\\n\\n'; escapes \\n \\t are understood)")
    String stepDelimiter;

    @Option(names = "--per-token", description = "include per-token ids, log-probs, entropies and ranks (JSONL only)")
    boolean perToken;

    @Option(names = "--select-best", description = "print, per problem, the trajectory with the lowest RSR")
    boolean selectBest;

    @Option(names = "--by-teacher", description = "print teachers ranked by dataset RSR")
    boolean byTeacher;

    @Option(names = "--on-error", description = "what a malformed line or an unscorable trajectory does: skip (report, count, go on) or fail (stop; what was written stays). Default: ${DEFAULT-VALUE}")
    OnError onError = OnError.skip;

    @Option(names = "--chunk", description = "trajectories per native call (packing and prompt sharing happen within one). Default: ${DEFAULT-VALUE}")
    int chunk = 64;

    @Option(names = "--progress", description = "auto (a bar on a terminal), always or never. Default: ${DEFAULT-VALUE}")
    String progress = "auto";

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        ScoreWriter.Format fmt = format != null ? ScoreWriter.Format.valueOf(format.toUpperCase(Locale.ROOT))
                : out.toString().endsWith(".csv") ? ScoreWriter.Format.CSV : ScoreWriter.Format.JSONL;
        if (perToken && fmt == ScoreWriter.Format.CSV) {
            throw new IllegalArgumentException("--per-token needs --format jsonl");
        }
        if (!Files.isReadable(in)) {
            throw new IOException("cannot read --in " + in);
        }
        TrajectoryOptions options = TrajectoryOptions.defaults().withRMax(rMax).withTemplate(PromptTemplate.parse(template))
                .withStepDelimiter(unescape(stepDelimiter)).withPerToken(perToken).withChunkSize(chunk);
        long total;
        try (Stream<String> lines = Files.lines(in, StandardCharsets.UTF_8)) {
            total = lines.filter(l -> !l.isBlank()).count();
        }
        List<MalformedInputException> malformed = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        long written = 0;
        Progress bar = new Progress(System.err, progress.equals("always") || (progress.equals("auto") && System.console() != null), total);
        try (ScoreWriter writer = ScoreWriter.open(out, fmt);
                Model m = Model.load(model, engineArgs.modelOptions());
                Engine engine = m.newEngine(engineArgs.engineOptions());
                BufferedReader reader = Files.newBufferedReader(in, StandardCharsets.UTF_8)) {
            Set<String> done = Set.copyOf(writer.doneIds());
            long resumed = done.size();
            bar.advance(resumed, 0);
            TrajectoryJsonl input = new TrajectoryJsonl(reader, e -> {
                if (onError == OnError.fail) {
                    throw e;
                }
                malformed.add(e);
                stderr.println("panscore: skipping " + e.getMessage());
            });
            TrajectoryScorer scorer = new TrajectoryScorer(engine, options);
            Iterator<TrajectoryScorer.Outcome> outcomes = scorer.score(input, done::contains);
            while (outcomes.hasNext()) {
                TrajectoryScorer.Outcome o = outcomes.next();
                switch (o) {
                    case TrajectoryScorer.Scored s -> {
                        writer.write(s.score());
                        written++;
                        bar.advance(1, s.score().tokenCount());
                    }
                    case TrajectoryScorer.Failed f -> {
                        if (onError == OnError.fail) {
                            throw new io.panscore.kernel.InvalidInputException(0, "trajectory \"" + f.id() + "\" cannot be scored: " + f.message());
                        }
                        failed.add(f.id());
                        stderr.println("panscore: skipping trajectory \"" + f.id() + "\": " + f.message());
                        bar.advance(1, 0);
                    }
                }
            }
            bar.finish();
            stdout.printf(Locale.ROOT, "scored %,d trajectories (%,d tokens, %,.0f tokens/s)%s; skipped %d malformed line(s), %d unscorable trajectory(ies)%n",
                    written, bar.tokens(), bar.tokens() / Math.max(1e-9, bar.seconds()),
                    resumed > 0 ? String.format(Locale.ROOT, ", %,d already in %s", resumed, out) : "", malformed.size(), failed.size());
        }
        if (selectBest || byTeacher) {
            printSummaries(ScoreWriter.readAll(out, fmt), stdout);
        }
        return 0;
    }

    private void printSummaries(List<io.panscore.api.trajectory.TrajectoryScore> all, PrintWriter stdout) {
        if (byTeacher) {
            stdout.println("teachers by dataset RSR (lower is better):");
            stdout.printf(Locale.ROOT, "%4s  %-24s %12s %10s%n", "rank", "teacher", "trajectories", "RSR");
            for (DatasetSummary.TeacherRsr t : DatasetSummary.teachers(all)) {
                stdout.printf(Locale.ROOT, "%4d  %-24s %12d %10.4f%n", t.rank(), t.teacher(), t.trajectories(), t.rsr());
            }
        }
        if (selectBest) {
            stdout.println("best trajectory per problem (minimum RSR):");
            stdout.printf(Locale.ROOT, "%-20s %-28s %-20s %10s %10s%n", "problem", "id", "teacher", "RSR", "candidates");
            for (DatasetSummary.Best b : DatasetSummary.bestPerProblem(all)) {
                stdout.printf(Locale.ROOT, "%-20s %-28s %-20s %10.4f %10d%n", b.problem(), b.id(), b.teacher(), b.rsr(), b.candidates());
            }
        }
    }

    /** "\n" and "\t" typed on a command line become the characters. */
    static String unescape(String s) {
        return s == null ? null : s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
