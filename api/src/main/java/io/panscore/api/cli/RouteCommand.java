package io.panscore.api.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.router.LocalStepWriter;
import io.panscore.api.router.OpenAiStepWriter;
import io.panscore.api.router.RouteOptions;
import io.panscore.api.router.RoutePolicy;
import io.panscore.api.router.RoutedTrace;
import io.panscore.api.router.RoutingLoop;
import io.panscore.api.router.StepWriter;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.Model;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panscore route --small S.gguf (--large L.gguf | --large-url URL) --in problems.jsonl --out
 * traces.jsonl}: GlimpRouter end to end (SPEC §2) on each problem, one trace per line; resumable
 * like {@code rsr}.
 */
@Command(name = "route", mixinStandardHelpOptions = true,
        description = {"Route reasoning steps between a small and a large model (GlimpRouter, SPEC §2): before each step the small model's "
                + "first-token entropy decides who writes it; the large model writes the final answer.",
                "Input: one problem a line, {\"id\": ..., \"prompt\": \"...\"} (also \"question\" or \"problem\" as the text) or {\"id\": ..., \"messages\": [...]}.",
                "Output: per problem the steps (model, entropy, tokens, ms, text), the answer, the large model's share of steps and tokens, the wall time.",
                "Resumable: rerunning with the same --out skips the ids already written."})
final class RouteCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Option(names = "--small", required = true, description = "the small model (GGUF): glimpses, and the steps it writes")
    Path small;

    static final class Large {
        @Option(names = "--large", description = "the large model as a local GGUF")
        Path file;

        @Option(names = "--large-url", description = "the large model behind an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1")
        String url;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Large large;

    @Option(names = "--large-model", description = "the \"model\" field sent to --large-url. Default: ${DEFAULT-VALUE}")
    String largeModel = "default";

    @Option(names = "--api-key-env", description = "an environment variable holding --large-url's bearer token. Default: ${DEFAULT-VALUE}")
    String apiKeyEnv = "OPENAI_API_KEY";

    @Option(names = "--in", required = true, description = "problems, one JSON object per line")
    Path in;

    @Option(names = "--out", required = true, description = "traces, one JSON object per line; an existing file is resumed (appended to)")
    Path out;

    @Option(names = "--policy", description = "glimp, small, large or random. Default: ${DEFAULT-VALUE}")
    String policy = "glimp";

    @Option(names = "--threshold", description = "τ: a step whose glimpse entropy is at least τ goes to the large model (top-20 renormalised entropy, "
            + "the released code's). Default: ${DEFAULT-VALUE}")
    double threshold = 1.0;

    @Option(names = "--large-fraction", description = "--policy random: the probability that a step goes to the large model. Default: ${DEFAULT-VALUE}")
    double largeFraction = 0.5;

    @Option(names = "--seed", description = "seeds the step samplers and --policy random. Default: ${DEFAULT-VALUE}")
    long seed = 0;

    @Option(names = "--template", description = "the small model's prompt template: " + Templates.DESCRIPTION)
    String template = "model";

    @Option(names = "--large-template", description = "the local large model's prompt template (same forms as --template). Default: ${DEFAULT-VALUE}")
    String largeTemplate = "model";

    @Option(names = "--temperature", description = "step sampling temperature. Default: ${DEFAULT-VALUE}")
    double temperature = 0.6;

    @Option(names = "--top-p", description = "step sampling top-p. Default: ${DEFAULT-VALUE}")
    double topP = 0.95;

    @Option(names = "--max-step-tokens", description = "most tokens per step. Default: ${DEFAULT-VALUE}")
    int maxStepTokens = 512;

    @Option(names = "--max-total-tokens", description = "the reasoning stops once its steps hold this many tokens. Default: ${DEFAULT-VALUE}")
    int maxTotalTokens = 8192;

    @Option(names = "--max-answer-tokens", description = "most tokens of the final answer (0: none). Default: ${DEFAULT-VALUE}")
    int maxAnswerTokens = 2048;

    @Option(names = "--ctx", description = "KV cache tokens per problem, each model (0: the steps' and answer's budgets plus 2048 for the prompt, "
            + "at most the small model's training context). Default: ${DEFAULT-VALUE}")
    int contextSize = 0;

    @Option(names = "--on-error", description = "a malformed line or a problem that fails: skip (report, count, go on) or fail (stop; what was written stays). "
            + "Default: ${DEFAULT-VALUE}")
    String onError = "skip";

    @Option(names = "--timeout", description = "seconds per request to --large-url. Default: ${DEFAULT-VALUE}")
    int timeoutSeconds = 600;

    @Option(names = "--parallel", description = "problems routed at once: their glimpses are micro-batched and their small-model steps "
            + "share batched decodes (traces are written as problems finish). Default: ${DEFAULT-VALUE}")
    int parallel = 1;

    @Option(names = "--gpu-layers", description = "layers to offload to the GPU (-1 = all), both local models. Default: ${DEFAULT-VALUE}")
    int gpuLayers = 0;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        RoutePolicy p;
        try {
            p = RoutePolicy.valueOf(policy.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--policy must be glimp, small, large or random, got " + policy);
        }
        if (!onError.equals("skip") && !onError.equals("fail")) {
            throw new IllegalArgumentException("--on-error must be skip or fail, got " + onError);
        }
        if (!Files.isReadable(in)) {
            throw new IOException("cannot read --in " + in);
        }
        RouteOptions options = new RouteOptions(p, largeFraction, seed, temperature, topP, maxStepTokens, "\n\n", "</think>", maxTotalTokens, maxAnswerTokens);
        PromptTemplate smallTemplate = PromptTemplate.parse(template);
        io.panscore.kernel.ModelOptions mo = io.panscore.kernel.ModelOptions.defaults().withGpuLayers(gpuLayers);

        Map<String, Object> meta = new TreeMap<>();
        meta.put("panscore_output", 1);
        meta.put("command", "route");
        meta.put("small", TrajectoryRun.fingerprint(small));
        meta.put("large", large.file != null ? TrajectoryRun.fingerprint(large.file) : large.url + " " + largeModel);
        meta.put("options", options.toString());
        meta.put("threshold", threshold);
        meta.put("template", template);
        meta.put("large_template", largeTemplate);
        meta.put("ctx", contextSize);

        if (parallel < 1) {
            throw new IllegalArgumentException("--parallel must be >= 1, got " + parallel);
        }
        long[] written = {0};
        long skipped = 0;
        long[] tokens = {0, 0}; // small, large
        long t0 = System.nanoTime();
        try (Model smallModel = Model.load(small, mo)) {
            Templates.check(smallTemplate, smallModel);
            int ctx = contextSize > 0 ? contextSize : Math.min(Math.max(512, smallModel.info().contextTrain()), maxTotalTokens + maxAnswerTokens + 2048);
            try (GlimpRouter router = GlimpRouter.builder(smallModel).threshold(threshold).template(smallTemplate).contextSize(ctx * parallel)
                            .maxSessions(parallel + 1).build();
                    StepWriter writer = large.file != null ? LocalStepWriter.load(large.file, mo, PromptTemplate.parse(largeTemplate), parallel, ctx * parallel)
                            : new OpenAiStepWriter(large.url, largeModel, System.getenv(apiKeyEnv), Duration.ofSeconds(timeoutSeconds));
                    RoutingLoop loop = new RoutingLoop(router, writer, options);
                    ScoreWriter outFile = ScoreWriter.open(out, ScoreWriter.Format.JSONL, null, meta);
                    BufferedReader reader = Files.newBufferedReader(in, StandardCharsets.UTF_8)) {
                Set<String> done = Set.copyOf(outFile.doneIds());
                java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(parallel);
                java.util.concurrent.ExecutorCompletionService<Object[]> running = new java.util.concurrent.ExecutorCompletionService<>(pool);
                int inFlight = 0;
                String[] failure = {null};
                try {
                    int lineNo = 0;
                    for (String line; failure[0] == null && (line = reader.readLine()) != null;) {
                        lineNo++;
                        if (line.isBlank()) {
                            continue;
                        }
                        Problem problem;
                        try {
                            problem = parse(line, lineNo);
                        } catch (InvalidInputException e) {
                            if (onError.equals("fail")) {
                                failure[0] = e.getMessage();
                                break;
                            }
                            skipped++;
                            stderr.println("panscore: skipping " + e.getMessage());
                            continue;
                        }
                        if (done.contains(problem.id)) {
                            continue;
                        }
                        int n = lineNo;
                        running.submit(() -> {
                            try {
                                return new Object[] {problem, n, loop.route(problem.messages)};
                            } catch (RuntimeException e) {
                                return new Object[] {problem, n, e};
                            }
                        });
                        inFlight++;
                        while (inFlight >= parallel) {
                            inFlight--;
                            skipped += collect(running.take().get(), p, outFile, written, tokens, stderr, failure);
                        }
                    }
                    while (inFlight > 0) {
                        inFlight--;
                        skipped += collect(running.take().get(), p, outFile, written, tokens, stderr, failure);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException(e.getCause());
                } finally {
                    pool.shutdownNow();
                }
                if (failure[0] != null) {
                    throw new InvalidInputException(0, failure[0] + "; stopped there (--on-error fail) after writing " + written[0] + " trace(s) to " + out);
                }
                stdout.printf(Locale.ROOT, "routed %,d problem(s) in %.1f s (policy %s; step tokens: %,d small, %,d large)%s; skipped %d%n", written[0],
                        (System.nanoTime() - t0) / 1e9, policy, tokens[0], tokens[1],
                        done.isEmpty() ? "" : String.format(Locale.ROOT, ", %,d already in %s", done.size(), out), skipped);
                if (written[0] == 0 && done.isEmpty()) {
                    throw new InvalidInputException(0, "nothing was routed: --in " + in + " holds no routable problem (see the messages above)");
                }
            }
        }
        return 0;
    }

    record Problem(String id, List<ChatMessage> messages) {}

    /** Writes a finished problem's trace, or reports its failure; returns 1 when it was skipped. */
    private int collect(Object[] done, RoutePolicy p, ScoreWriter outFile, long[] written, long[] tokens, PrintWriter stderr, String[] failure)
            throws IOException {
        Problem problem = (Problem) done[0];
        if (done[2] instanceof RuntimeException e) {
            String why = "line " + done[1] + ": problem \"" + problem.id + "\" could not be routed: " + e.getMessage();
            if (onError.equals("fail")) {
                failure[0] = failure[0] == null ? why : failure[0];
                return 0;
            }
            stderr.println("panscore: skipping " + why);
            return 1;
        }
        RoutedTrace trace = (RoutedTrace) done[2];
        outFile.writeRecord(problem.id, json(problem.id, p, threshold, trace));
        written[0]++;
        for (RoutedTrace.Step s : trace.steps()) {
            tokens[s.model().equals("large") ? 1 : 0] += Math.max(0, s.tokens());
        }
        return 0;
    }

    static Problem parse(String line, int lineNo) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (IOException e) {
            throw new InvalidInputException(0, "line " + lineNo + ": not JSON: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
        if (n == null || !n.isObject()) {
            throw new InvalidInputException(0, "line " + lineNo + ": expected a JSON object");
        }
        JsonNode id = n.get("id");
        if (id == null || !(id.isTextual() || id.isIntegralNumber()) || id.asText().isEmpty()) {
            throw new InvalidInputException(0, "line " + lineNo + ": missing \"id\" (a non-empty string or integer)");
        }
        JsonNode m = n.get("messages");
        if (m != null) {
            if (!m.isArray() || m.isEmpty()) {
                throw new InvalidInputException(0, "line " + lineNo + ": \"messages\" must be a non-empty array of {\"role\", \"content\"} objects");
            }
            List<ChatMessage> messages = new ArrayList<>();
            for (int i = 0; i < m.size(); i++) {
                JsonNode msg = m.get(i);
                if (!msg.isObject() || !msg.path("role").isTextual() || !msg.path("content").isTextual()) {
                    throw new InvalidInputException(0, "line " + lineNo + ": messages[" + i + "] must be an object with string \"role\" and \"content\"");
                }
                messages.add(new ChatMessage(msg.get("role").asText(), msg.get("content").asText()));
            }
            return new Problem(id.asText(), messages);
        }
        for (String field : List.of("prompt", "question", "problem")) {
            JsonNode t = n.get(field);
            if (t != null) {
                if (!t.isTextual() || t.asText().isBlank()) {
                    throw new InvalidInputException(0, "line " + lineNo + ": \"" + field + "\" must be a non-empty string");
                }
                return new Problem(id.asText(), List.of(new ChatMessage("user", t.asText())));
            }
        }
        throw new InvalidInputException(0, "line " + lineNo + ": missing \"prompt\" (or \"question\", \"problem\", \"messages\")");
    }

    static String json(String id, RoutePolicy policy, double threshold, RoutedTrace t) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        return io.panscore.api.router.TraceJson.write(o, policy, threshold, t).toString();
    }
}
