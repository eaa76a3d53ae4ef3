package io.panscore.api;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The front door: a model and an engine, opened together, scoring texts or token sequences.
 *
 * <pre>{@code
 * try (Scorer scorer = Scorer.open(Path.of("model.gguf"))) {
 *     ScoredText scored = scorer.scoreText("The quick brown fox");
 *     scored.tokens().forEach(t -> System.out.println(t.text() + " " + t.logprob() + " " + t.entropy()));
 * }
 * }</pre>
 *
 * <p>Thread-safety: all methods may be called from any thread; scoring calls are serialized on the
 * one engine (open several scorers, or several engines on one {@link Model}, for parallelism).
 * {@link #close()} waits for a call in flight and is idempotent.
 */
public final class Scorer implements AutoCloseable {

    private final Model model;
    private final Engine engine;
    private final boolean ownsModel;

    private Scorer(Model model, Engine engine, boolean ownsModel) {
        this.model = model;
        this.engine = engine;
        this.ownsModel = ownsModel;
    }

    /** Opens a model file with default options (CPU, all cores). */
    public static Scorer open(Path modelPath) {
        return open(modelPath, ModelOptions.defaults(), EngineOptions.defaults());
    }

    /** Opens a model file; the scorer owns the model and closes it. */
    public static Scorer open(Path modelPath, ModelOptions modelOptions, EngineOptions engineOptions) {
        Model model = Model.load(modelPath, modelOptions);
        try {
            return new Scorer(model, model.newEngine(engineOptions), true);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** A scorer on a model the caller owns (and closes after this scorer). */
    public static Scorer on(Model model, EngineOptions engineOptions) {
        return new Scorer(model, model.newEngine(engineOptions), false);
    }

    public Model model() {
        return model;
    }

    public Engine engine() {
        return engine;
    }

    /**
     * Tokenizes {@code text} (with BOS where the model wants it) and scores every token after the
     * first: the first token is scored only when it is a BOS the model adds (then every token of
     * the text is scored); without a BOS the text's first token has nothing to be predicted from.
     *
     * @throws io.panscore.kernel.InvalidInputException when the text is empty or is a single token
     *         with nothing before it
     */
    public ScoredText scoreText(String text) {
        return scoreText(text, ScoreOptions.defaults());
    }

    /** As {@link #scoreText(String)}, with a temperature and top-k ({@link ScoredToken#top()}). */
    public ScoredText scoreText(String text, ScoreOptions options) {
        Objects.requireNonNull(text, "text");
        if (text.isEmpty()) {
            throw new InvalidInputException(0, "the text is empty: there is nothing to score");
        }
        int[] ids = model.tokenize(text, true, false);
        if (ids.length < 2) {
            throw new InvalidInputException(0, "the text is " + (ids.length == 0 ? "no token" : "a single token")
                    + " and the model adds no BOS before it, so nothing predicts it: a text needs at least 2 tokens"
                    + " (the first token is scored only after a BOS)");
        }
        TokenScores s = engine.score(List.of(Sequence.of(ids)), options).getFirst();
        List<ScoredToken> tokens = new ArrayList<>(s.size());
        int k = s.topK();
        for (int i = 0; i < s.size(); i++) {
            int pos = s.scoreBegin() + i;
            List<ScoredToken.Alternative> top = new ArrayList<>(k);
            for (int j = 0; j < k; j++) {
                int id = s.topIds()[i * k + j];
                top.add(new ScoredToken.Alternative(id, model.tokenText(id), s.topLogprobs()[i * k + j]));
            }
            tokens.add(new ScoredToken(pos, ids[pos], model.tokenText(ids[pos]), s.logprob()[i], s.entropy()[i], s.rank()[i],
                    s.argmax()[i], model.tokenText(s.argmax()[i]), s.argmaxLogprob()[i], top));
        }
        return new ScoredText(tokens, ids.length);
    }

    /** Scores token sequences; see {@link Engine#score(List, ScoreOptions)}. */
    public List<TokenScores> score(List<Sequence> sequences, ScoreOptions options) {
        return engine.score(sequences, options);
    }

    @Override
    public void close() {
        engine.close();
        if (ownsModel) {
            model.close();
        }
    }
}
