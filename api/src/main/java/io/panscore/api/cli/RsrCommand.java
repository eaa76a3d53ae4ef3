package io.panscore.api.cli;

import io.panscore.api.trajectory.DatasetSummary;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Rsr;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.api.trajectory.TrajectoryOptions;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.kernel.Model;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;
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

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, description = "the student model (GGUF)")
    Path model;

    @Mixin
    TrajectoryRun.Args io;

    @Option(names = "--r-max", description = "rank clipping. Default: ${DEFAULT-VALUE}")
    int rMax = Rsr.DEFAULT_R_MAX;

    @Option(names = "--step-delimiter", description = "report per-step statistics, splitting responses on this text (e.g. '\\n\\n'; escapes \\n \\t are understood; JSONL only)")
    String stepDelimiter;

    @Option(names = "--per-token", description = "include per-token ids, texts, log-probs and entropies (nats) and 1-based ranks (JSONL only)")
    boolean perToken;

    @Option(names = "--select-best", description = "print, per problem, the trajectory with the lowest RSR")
    boolean selectBest;

    @Option(names = "--by-teacher", description = "print teachers ranked by dataset RSR")
    boolean byTeacher;

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        ScoreWriter.Format fmt = io.format();
        if (perToken && fmt == ScoreWriter.Format.CSV) {
            throw new IllegalArgumentException("--per-token needs --format jsonl");
        }
        if (stepDelimiter != null && fmt == ScoreWriter.Format.CSV) {
            throw new IllegalArgumentException("--step-delimiter needs --format jsonl: the CSV has one row per trajectory and no step columns");
        }
        PromptTemplate template = PromptTemplate.parse(io.template);
        TrajectoryOptions options = TrajectoryOptions.defaults().withRMax(rMax).withTemplate(template)
                .withStepDelimiter(TrajectoryRun.unescape(stepDelimiter)).withPerToken(perToken).withChunkSize(io.chunk).withMaxTokens(io.maxTokens);
        try (Model m = Model.load(model, engineArgs.modelOptions()); TrajectoryScorer scorer = new TrajectoryScorer(m, engineArgs.engineOptions(), options)) {
            Templates.check(template, m); // once, before anything is scored
            IntFunction<String> tokenText = perToken ? m::tokenText : null;
            java.util.Map<String, Object> meta = TrajectoryRun.meta("rsr", io, engineArgs);
            meta.put("model", TrajectoryRun.fingerprint(model));
            meta.put("r_max", rMax);
            meta.put("step_delimiter", String.valueOf(TrajectoryRun.unescape(stepDelimiter)));
            meta.put("per_token", perToken);
            TrajectoryRun.run(io, ScoreWriter.CSV_HEADER, meta, stdout, spec.commandLine().getErr(),
                    (input, done) -> TrajectoryRun.results(scorer.score(input, done), o -> switch (o) {
                        case TrajectoryScorer.Scored s -> TrajectoryRun.Result.ok(s.id(),
                                fmt == ScoreWriter.Format.JSONL ? TrajectoryRun.withTruncatedFrom(line(s.score(), fmt, tokenText), s.truncatedFrom())
                                        : line(s.score(), fmt, tokenText),
                                s.score().tokenCount(), s.truncated());
                        case TrajectoryScorer.Failed f -> TrajectoryRun.Result.failed(f.id(), f.message());
                    }));
        }
        if (selectBest || byTeacher) {
            printSummaries(ScoreWriter.readAll(io.out, fmt), stdout);
        }
        return 0;
    }

    private static String line(io.panscore.api.trajectory.TrajectoryScore s, ScoreWriter.Format fmt, IntFunction<String> tokenText) {
        try {
            return fmt == ScoreWriter.Format.JSONL ? ScoreWriter.json(s, tokenText) : ScoreWriter.csv(s);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
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

}
