package io.panscore.api.router;

import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.GenerateOptions;
import io.panscore.kernel.Generation;
import io.panscore.kernel.Generator;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.SessionPool;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The large model as a second local GGUF in the same process. Each conversation keeps its context
 * in a session of its own: before a step the context (the released probe context with the model's
 * chat template, or the prompt rendered with another template followed by the steps and
 * delimiters) is tokenized; when it extends what the session holds only the new tokens are decoded,
 * otherwise the session is decoded afresh. The step is generated in a fork of that session (KV
 * cells shared), so the session keeps the context alone and the next step appends to it.
 *
 * <p>Thread-safety: conversations may be used from different threads (one thread per conversation);
 * their generations share the writer's batched generator.
 */
public final class LocalStepWriter implements StepWriter {

    private final Model model;
    private final boolean ownsModel;
    private final SessionPool pool;
    private final Generator generator;
    private final PromptTemplate template;
    private final TrajectoryEncoder prompts;
    private final String delimiter;

    /**
     * @param maxConversations conversations open at once (each takes two KV sequence slots while it writes)
     * @param contextSize      KV cache tokens shared by all conversations
     */
    public LocalStepWriter(Model model, PromptTemplate template, int maxConversations, int contextSize) {
        this(model, false, template, maxConversations, contextSize);
    }

    /** Loads the model from a GGUF file; closed with the writer. */
    public static LocalStepWriter load(Path gguf, ModelOptions modelOptions, PromptTemplate template, int maxConversations, int contextSize) {
        Model m = Model.load(gguf, modelOptions);
        try {
            return new LocalStepWriter(m, true, template, maxConversations, contextSize);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    private LocalStepWriter(Model model, boolean ownsModel, PromptTemplate template, int maxConversations, int contextSize) {
        this.model = Objects.requireNonNull(model, "model");
        this.ownsModel = ownsModel;
        this.template = Objects.requireNonNull(template, "template");
        if (maxConversations < 1) {
            throw new IllegalArgumentException("maxConversations must be >= 1, got " + maxConversations);
        }
        this.prompts = new TrajectoryEncoder(model, template);
        this.delimiter = "\n\n";
        this.pool = new SessionPool(model, EngineOptions.defaults().withContextSize(contextSize).withMaxSequences(2 * maxConversations), 0);
        this.generator = new Generator(pool);
    }

    /** The writer's session pool (its {@link SessionPool#decodedTokens} counts what the large model decoded). */
    public SessionPool pool() {
        return pool;
    }

    @Override
    public String name() {
        return "local:" + model.info().name();
    }

    /** The context text before the next step. */
    String contextText(List<ChatMessage> messages, List<String> steps) {
        if (template.kind() == PromptTemplate.Kind.MODEL) {
            return GlimpRouter.probeText(model, messages, steps);
        }
        String prompt = prompts.renderPrompt(new Trajectory("", "", "", null, messages, ""));
        return steps.isEmpty() ? prompt : prompt + String.join(delimiter, steps) + delimiter;
    }

    private int[] tokens(String text) {
        return template.kind() == PromptTemplate.Kind.MODEL ? GlimpRouter.tokenizeWhole(model, text) : model.tokenize(text, true, true);
    }

    @Override
    public Conversation open(List<ChatMessage> messages) {
        List<ChatMessage> msgs = List.copyOf(messages);
        return new Conversation() {
            private SessionPool.Session base;
            private int[] held = new int[0];

            @Override
            public synchronized Written write(List<String> steps, Request request) {
                int[] next = tokens(contextText(msgs, steps));
                if (base != null && next.length >= held.length && Arrays.equals(held, 0, held.length, next, 0, held.length)) {
                    if (next.length > held.length) {
                        pool.append(base, Arrays.copyOfRange(next, held.length, next.length));
                    }
                } else {
                    if (base != null) {
                        pool.close(base);
                    }
                    base = pool.open(next);
                }
                held = next;
                pool.glimpse(List.of(base)); // decodes what is new, so the fork shares it
                SessionPool.Session fork = pool.fork(base);
                try {
                    Generation g = generator.generate(fork, new GenerateOptions(request.maxTokens(), request.sampling(), request.stop(), 0, true));
                    String reason = switch (g.finishReason()) {
                        case STOP_STRING -> "stop";
                        case MAX_TOKENS, CONTEXT_FULL -> "length";
                        case END_OF_GENERATION -> "eog";
                        case CANCELLED -> "cancelled";
                    };
                    return new Written(g.text(), g.tokens().size(), reason);
                } finally {
                    pool.close(fork);
                }
            }

            @Override
            public synchronized void close() {
                if (base != null) {
                    pool.close(base);
                    base = null;
                }
            }
        };
    }

    @Override
    public void close() {
        generator.close();
        pool.close();
        if (ownsModel) {
            model.close();
        }
    }
}
