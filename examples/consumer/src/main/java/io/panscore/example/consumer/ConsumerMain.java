package io.panscore.example.consumer;

import io.panscore.api.ScoredText;
import io.panscore.api.Scorer;
import io.panscore.api.router.Decision;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.trajectory.DatasetSummary;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.api.trajectory.TrajectoryOptions;
import io.panscore.api.trajectory.TrajectoryScore;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.Runtime;
import io.panscore.kernel.fixture.FixtureModels;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.BufferedReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Uses panscore as a library: scores a text, scores an RSR file of trajectories and ranks the
 * teachers, and glimpses the next step's entropy with GlimpRouter.
 *
 * <pre>
 *   java ... ConsumerMain [model.gguf] [work-dir]
 * </pre>
 * Without a model it writes panscore's tiny fixture model (seeded random weights, real Qwen2
 * vocabulary) into the work directory. Prompts are used as plain text ({@code --template none}),
 * so a model without a chat template (stories260K) works too.
 */
public final class ConsumerMain {

    private ConsumerMain() {}

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args.length > 1 ? args[1] : "target/consumer-run");
        Files.createDirectories(work);
        Path model;
        if (args.length > 0) {
            model = Path.of(args[0]);
        } else {
            model = work.resolve("fixture-tiny.gguf");
            FixtureModels.write(Fixtures.qwen2Vocabulary(), FixtureSpec.tinyQwen2Small(), model);
        }
        System.out.println("panscore " + Runtime.version() + " (" + Runtime.backends() + ") from " + Runtime.libraryPath());
        System.out.println("running on the " + (ConsumerMain.class.getModule().isNamed() ? "module path as " + ConsumerMain.class.getModule().getName()
                : "class path"));

        // 1. a text
        try (Scorer scorer = Scorer.open(model)) {
            ScoredText t = scorer.scoreText("Once upon a time there was a little cat. The cat liked to play in the sun.");
            System.out.printf(Locale.ROOT, "text: %d tokens, mean surprisal %.4f nats, perplexity %.3f, mean entropy %.4f nats%n", t.tokenCount(),
                    t.meanSurprisal(), t.perplexity(), t.meanEntropy());
            if (t.tokenCount() < 2 || !Double.isFinite(t.meanSurprisal())) {
                throw new IllegalStateException("unexpected scores");
            }
        }

        // 2. an RSR file: two teachers on two problems
        Path trajectories = work.resolve("trajectories.jsonl");
        Files.writeString(trajectories, String.join("\n",
                "{\"id\":\"p1/a\",\"problem\":\"p1\",\"teacher\":\"a\",\"prompt\":\"Tell a story.\",\"response\":\"Once upon a time there was a dog.\\n\\nThe dog was happy.\"}",
                "{\"id\":\"p1/b\",\"problem\":\"p1\",\"teacher\":\"b\",\"prompt\":\"Tell a story.\",\"response\":\"Quantum zebra xylophone jumps.\\n\\nBlue.\"}",
                "{\"id\":\"p2/a\",\"problem\":\"p2\",\"teacher\":\"a\",\"prompt\":\"Tell a story.\",\"response\":\"The little girl went to the park.\"}",
                "{\"id\":\"p2/b\",\"problem\":\"p2\",\"teacher\":\"b\",\"prompt\":\"Tell a story.\",\"response\":\"Park the went girl little the to.\"}") + "\n");
        List<TrajectoryScore> scores = new ArrayList<>();
        try (Model m = Model.load(model); Engine engine = m.newEngine(EngineOptions.defaults());
                BufferedReader in = Files.newBufferedReader(trajectories, StandardCharsets.UTF_8)) {
            TrajectoryScorer scorer = new TrajectoryScorer(engine, TrajectoryOptions.defaults().withTemplate(PromptTemplate.none()));
            Iterator<TrajectoryScorer.Outcome> out = scorer.score(new TrajectoryJsonl(in, e -> { throw e; }));
            while (out.hasNext()) {
                switch (out.next()) {
                    case TrajectoryScorer.Scored s -> scores.add(s.score());
                    case TrajectoryScorer.Failed f -> throw new IllegalStateException(f.id() + ": " + f.message());
                }
            }
        }
        System.out.println("rsr: " + scores.size() + " trajectories");
        for (DatasetSummary.TeacherRsr t : DatasetSummary.teachers(scores)) {
            System.out.printf(Locale.ROOT, "  teacher %d. %s: dataset RSR %.4f over %d trajectories%n", t.rank(), t.teacher(), t.rsr(), t.trajectories());
        }
        if (scores.size() != 4) {
            throw new IllegalStateException("expected 4 scored trajectories, got " + scores.size());
        }

        // 3. a glimpse: the entropy of the next step's first token decides who writes it
        try (GlimpRouter router = GlimpRouter.builder(model).threshold(1.0).maxSessions(4).build();
                GlimpRouter.RouterSession s = router.open("Once upon a time")) {
            Decision d = router.glimpse(s);
            System.out.printf(Locale.ROOT, "glimpse: entropy %.4f nats -> %s model%n", d.entropy(), d.route());
            router.append(s, " there was a cat.");
            Decision d2 = router.glimpse(s);
            System.out.printf(Locale.ROOT, "glimpse after a step: entropy %.4f nats -> %s model%n", d2.entropy(), d2.route());
        }
        System.out.println("consumer: OK");
    }
}
