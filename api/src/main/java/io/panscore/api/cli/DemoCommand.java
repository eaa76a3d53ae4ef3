package io.panscore.api.cli;

import io.panscore.api.ScoredText;
import io.panscore.api.Scorer;
import io.panscore.api.trajectory.DatasetSummary;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.api.trajectory.TrajectoryOptions;
import io.panscore.api.trajectory.TrajectoryScore;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.ModelInfo;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panscore demo}: writes the fixture model (random weights, real Qwen2 vocabulary) unless a
 * model is given, scores the bundled sample text and prints the per-token table, then scores the
 * bundled sample trajectories (3 problems x 3 teachers x 2 responses) and ranks the teachers by RSR.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Score the bundled sample text under the fixture model (or --model) and print a per-token table.")
final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, description = "GGUF model file (default: the fixture model, written on first use)")
    Path model;

    @Option(names = "--template", description = "how the sample trajectories' prompts are rendered: " + Templates.DESCRIPTION)
    String template = "model";

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Path path = model != null ? model : Fixtures.qwen2();
        String text = sampleText();
        try (Scorer scorer = Scorer.open(path, engineArgs.modelOptions(), engineArgs.engineOptions())) {
            PromptTemplate prompts = Templates.checked(template, scorer.model()); // before anything is scored
            ModelInfo info = scorer.model().info();
            out.printf("model: %s (%s, vocabulary %,d tokens, %d layers)%n", path, info.architecture(), info.vocabSize(), info.layers());
            if (model == null) {
                out.println("       a fixture with seeded random weights: the numbers are real statistics of a meaningless model");
            }
            long t0 = System.nanoTime();
            ScoredText scored = scorer.scoreText(text);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            TokenTable.print(scored, out);
            out.printf("scored in %d ms on %d threads%n%n", ms, scorer.engine().options().threads());
            rankSampleTeachers(scorer, prompts, out);
        }
        return 0;
    }

    private static void rankSampleTeachers(Scorer scorer, PromptTemplate prompts, PrintWriter out) throws IOException {
        List<Trajectory> sample = sampleTrajectories();
        long t0 = System.nanoTime();
        List<TrajectoryScore> scores = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        for (TrajectoryScorer.Outcome o : new TrajectoryScorer(scorer.engine(), TrajectoryOptions.defaults().withTemplate(prompts)).scoreAll(sample)) {
            switch (o) {
                case TrajectoryScorer.Scored s -> scores.add(s.score());
                case TrajectoryScorer.Failed f -> failures.add(f.id() + ": " + f.message());
            }
        }
        if (scores.isEmpty()) {
            throw new InvalidInputException(0, "none of the " + sample.size() + " sample trajectories could be scored, e.g. " + failures.getFirst());
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        out.printf(Locale.ROOT, "%d sample trajectories scored in %d ms; teachers by dataset RSR (lower is better):%n", scores.size(), ms);
        for (DatasetSummary.TeacherRsr t : DatasetSummary.teachers(scores)) {
            out.printf(Locale.ROOT, "  %d. %-10s RSR %.4f over %d trajectories%n", t.rank(), t.teacher(), t.rsr(), t.trajectories());
        }
        out.println("best trajectory per problem:");
        for (DatasetSummary.Best b : DatasetSummary.bestPerProblem(scores)) {
            out.printf(Locale.ROOT, "  %-12s %-24s RSR %.4f%n", b.problem(), b.id(), b.rsr());
        }
    }

    /** The bundled sample trajectories. */
    static List<Trajectory> sampleTrajectories() throws IOException {
        InputStream in = DemoCommand.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl");
        if (in == null) {
            throw new IOException("the sample trajectories are missing from the jar");
        }
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            List<Trajectory> out = new ArrayList<>();
            new TrajectoryJsonl(r, e -> {
                throw e;
            }).forEachRemaining(out::add);
            return out;
        }
    }

    static String sampleText() throws IOException {
        try (InputStream in = DemoCommand.class.getResourceAsStream("/io/panscore/api/sample.txt")) {
            if (in == null) {
                throw new IOException("the sample text is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
