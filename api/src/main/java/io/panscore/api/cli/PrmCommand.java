package io.panscore.api.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.prm.Aggregation;
import io.panscore.api.prm.PrmOptions;
import io.panscore.api.prm.PrmScore;
import io.panscore.api.prm.PrmScorer;
import io.panscore.api.prm.ProcessBenchEval;
import io.panscore.api.prm.Selection;
import io.panscore.api.prm.StepReward;
import io.panscore.api.trajectory.Csv;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.kernel.Model;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panscore prm --policy P --ref R --in F.jsonl --out G.jsonl}: implicit process rewards
 * (SPEC §4) per step, resumably, with best-of-N and step-filter summaries.
 */
@Command(name = "prm", mixinStandardHelpOptions = true,
        description = {"Implicit process rewards: beta * log(pi_policy / pi_ref) per token, summed into step rewards.",
                "Resumable: rerunning with the same --out skips the ids already written."})
final class PrmCommand implements Callable<Integer> {

    static final String CSV_HEADER = "id,problem,teacher,tokens,steps,reward,min_r,mean_r,sum_r,last_r,min_q,mean_q,sum_q,last_q";

    @Spec
    CommandSpec spec;

    @Option(names = "--policy", required = true, description = "the PRM / policy model (GGUF)")
    Path policy;

    @Option(names = "--ref", description = "the reference model (GGUF); required unless --no-ref")
    Path ref;

    @Option(names = "--no-ref", description = "no reference model: l_i = log pi_policy")
    boolean noRef;

    @Option(names = "--beta", description = "beta of r = beta * sum log(pi_policy / pi_ref); use the beta your PRM was trained with. "
            + "Default ${DEFAULT-VALUE}: the released ImplicitPRM code (prm_eval_utils.py, EurusPRM usage); the paper trains with 0.05, "
            + "the released ProcessBench script uses 0.005")
    double beta = PrmOptions.DEFAULT_BETA;

    @Option(names = "--parity", description = "reproduce a released implementation switch by switch (docs/PARITY.md): implicitprm = "
            + "beta 0.001 (unless --beta), Jinja chat template, 'Step i: ' step prefixes, 'Step N:' re-splitting, end-of-turn token scored in the last step; "
            + "processbench = all of implicitprm, beta 0.005 (unless --beta), and the released ProcessBench script's step boundaries: each q ends as many "
            + "tokens past its step's content as the chat template writes after an assistant message (<|im_end|> and \\n: 2), i.e. 1-2 tokens into the next step")
    String parity;

    @Option(names = "--step-prefix", description = "write explicit steps as 'Step i: <step>' joined by \\n\\n, as the released code does")
    boolean stepPrefix;

    @Option(names = "--step-markers", description = "split responses without explicit steps before each 'Step N:' marker instead of on --delimiter")
    boolean stepMarkers;

    @Option(names = "--score-eot", description = "score the end-of-turn token after the response, in the last step (as the released code does)")
    boolean scoreEot;

    @Option(names = "--error-threshold", description = "ProcessBench first-error rule: the first step with sigmoid(q) below this. Default: ${DEFAULT-VALUE}")
    double errorThreshold = PrmOptions.DEFAULT_ERROR_THRESHOLD;

    @Option(names = "--eval", paramLabel = "LABELLED.jsonl", description = "score this labelled file (each line also has \"label\": the index "
            + "of the first wrong step, -1 if all are right) and report ProcessBench's accuracies and F1 of the first-error prediction")
    Path eval;

    @Option(names = "--search-thresholds", paramLabel = "N", description = "with --eval: also try the thresholds i/N (i = 0..N) and report the one "
            + "with the best F1, as the released ProcessBench run chooses its threshold on GSM8K (it uses N = 10000). Default: no search")
    int searchThresholds;

    @Option(names = "--agg", description = "aggregation for --select-best: min, mean, sum or last. Default: ${DEFAULT-VALUE}")
    String agg = "min";

    @Option(names = "--over", description = "aggregate the step rewards r or the cumulative values q. Default: ${DEFAULT-VALUE}")
    String over = "r";

    @Option(names = "--delimiter", description = "step delimiter unless the input gives \"steps\" (escapes \\n \\t understood). Default: \\n\\n")
    String delimiter = "\\n\\n";

    @Option(names = "--log-ratios", description = "include per-token log-ratios (JSONL only)")
    boolean logRatios;

    @Option(names = "--select-best", description = "print the best response per problem under --agg/--over")
    boolean selectBest;

    @Option(names = "--filter-threshold", description = "print which responses a step filter with this threshold on r keeps")
    Double filterThreshold;

    @Option(names = "--filter-mode", description = "drop (a response with a bad step) or truncate (before its first bad step). Default: ${DEFAULT-VALUE}")
    String filterMode = "drop";

    @Option(names = "--timings", description = "print where the time went (policy decode, reference decode, the rest)")
    boolean timings;

    @Mixin
    TrajectoryRun.Args io;

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws IOException {
        if ((ref == null) != noRef) {
            throw new IllegalArgumentException(noRef ? "--no-ref and --ref exclude each other" : "give --ref, or --no-ref for no reference model");
        }
        Aggregation aggregation = Aggregation.valueOf(agg.toUpperCase(Locale.ROOT));
        Aggregation.Over series = Aggregation.Over.valueOf(over.toUpperCase(Locale.ROOT));
        Selection.FilterMode mode = Selection.FilterMode.valueOf(filterMode.toUpperCase(Locale.ROOT));
        ScoreWriter.Format fmt = io.format();
        if (logRatios && fmt == ScoreWriter.Format.CSV) {
            throw new IllegalArgumentException("--log-ratios needs --format jsonl");
        }
        PromptTemplate template = PromptTemplate.parse(io.template);
        PrmOptions base = PrmOptions.defaults();
        if (parity != null) {
            base = switch (parity) {
                case "implicitprm" -> PrmOptions.implicitPrmParity();
                case "processbench" -> PrmOptions.processBenchParity();
                default -> throw new IllegalArgumentException("--parity: unknown mode '" + parity + "' (known: implicitprm, processbench)");
            };
        }
        boolean betaGiven = spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption("--beta");
        PrmOptions options = base.withBeta(betaGiven || parity == null ? beta : base.beta()).withDelimiter(TrajectoryRun.unescape(delimiter))
                .withTemplate(template).withChunkSize(io.chunk).withKeepLogRatios(logRatios)
                .withStepPrefix(base.stepPrefix() || stepPrefix).withStepMarkers(base.stepMarkers() || stepMarkers)
                .withScoreEndOfTurn(base.scoreEndOfTurn() || scoreEot).withErrorThreshold(errorThreshold).withMaxTokens(io.maxTokens);
        if (searchThresholds < 0 || (searchThresholds > 0 && eval == null)) {
            throw new IllegalArgumentException("--search-thresholds N needs --eval and N >= 1");
        }
        if (eval != null) {
            if (io.in != null && !io.in.equals(eval)) {
                throw new IllegalArgumentException("--eval FILE scores FILE: leave out --in");
            }
            io.in = eval;
        }
        if (io.in == null) {
            throw new IllegalArgumentException("give --in (or --eval)");
        }
        PrintWriter stdout = spec.commandLine().getOut();
        List<PrmScore> all = new ArrayList<>();
        try (Model p = Model.load(policy, engineArgs.modelOptions());
                Model r = ref == null ? null : Model.load(ref, engineArgs.modelOptions());
                PrmScorer scorer = new PrmScorer(p, r, engineArgs.engineOptions(), options)) {
            Templates.check(template, p); // once, before anything is scored
            if (r != null) {
                Templates.check(template, r);
            }
            java.util.Map<String, Object> meta = TrajectoryRun.meta("prm", io, engineArgs);
            meta.put("policy", TrajectoryRun.fingerprint(policy));
            meta.put("reference", ref == null ? "none" : TrajectoryRun.fingerprint(ref));
            meta.put("beta", options.beta());
            meta.put("delimiter", TrajectoryRun.unescape(delimiter));
            meta.put("log_ratios", logRatios);
            meta.put("step_prefix", options.stepPrefix());
            meta.put("step_markers", options.stepMarkers());
            meta.put("score_eot", options.scoreEndOfTurn());
            if (options.processBenchBoundaries()) {
                meta.put("processbench_boundaries", scorer.processBenchShift());
            }
            TrajectoryRun.run(io, CSV_HEADER, meta, stdout, spec.commandLine().getErr(),
                    (input, done) -> TrajectoryRun.results(scorer.score(input, done), o -> switch (o) {
                        case PrmScorer.Scored s -> {
                            all.add(s.score());
                            yield TrajectoryRun.Result.ok(s.id(),
                                    fmt == ScoreWriter.Format.JSONL ? TrajectoryRun.withTruncatedFrom(json(s.score(), noRef), s.truncatedFrom()) : csv(s.score()),
                                    s.score().tokenCount(), s.truncated());
                        }
                        case PrmScorer.Failed f -> TrajectoryRun.Result.failed(f.id(), f.message());
                    }));
            if (timings) {
                PrmScorer.Timings t = scorer.timings();
                stdout.printf(Locale.ROOT, "time: policy %.2f s, reference %.2f s, encoding and rewards %.2f s, %,d tokens%n", t.policyNanos() / 1e9,
                        t.referenceNanos() / 1e9, t.restNanos() / 1e9, t.tokens());
            }
        }
        if (eval != null) {
            ProcessBenchEval ev = ProcessBenchEval.of(readAll(io.out, fmt, all), labels(eval), options.errorThreshold());
            stdout.printf(Locale.ROOT, "ProcessBench first-error (sigmoid(q) < %s): erroneous %d/%d = %.4f, correct %d/%d = %.4f, F1 %.4f%s%n",
                    options.errorThreshold(), ev.erroneousHits(), ev.erroneous(), ev.errorAccuracy(), ev.correctHits(), ev.correct(),
                    ev.correctAccuracy(), ev.f1(), ev.missing() > 0 ? String.format(Locale.ROOT, " (%d labelled samples not scored)", ev.missing()) : "");
            if (searchThresholds > 0) {
                ProcessBenchEval.Best best = ProcessBenchEval.bestThreshold(readAll(io.out, fmt, all), labels(eval), searchThresholds);
                stdout.printf(Locale.ROOT, "best threshold of %d: %s (erroneous %d/%d, correct %d/%d, F1 %.4f)%n", searchThresholds + 1, best.threshold(),
                        best.eval().erroneousHits(), best.eval().erroneous(), best.eval().correctHits(), best.eval().correct(), best.eval().f1());
            }
        }
        if (selectBest) {
            stdout.printf(Locale.ROOT, "best response per problem (%s over %s, scored in this run):%n", agg, over);
            for (PrmScore s : Selection.bestOfN(all, aggregation, series)) {
                stdout.printf(Locale.ROOT, "  %-20s %-28s %10.5f%n", s.problem(), s.id(), s.aggregate(aggregation, series));
            }
        }
        if (filterThreshold != null) {
            int kept = 0;
            int truncated = 0;
            for (PrmScore s : all) {
                Optional<Selection.Kept> k = Selection.filter(s, filterThreshold, mode);
                if (k.isPresent()) {
                    kept++;
                    truncated += k.get().truncated() ? 1 : 0;
                }
            }
            stdout.printf(Locale.ROOT, "step filter r >= %s (%s): kept %d of %d responses (%d truncated)%n", filterThreshold, filterMode, kept, all.size(),
                    truncated);
        }
        return 0;
    }

    /** The "label" of every line of a labelled file (id to first wrong step, -1 = all right). */
    static Map<String, Integer> labels(Path file) throws IOException {
        Map<String, Integer> out = new LinkedHashMap<>();
        ObjectMapper mapper = new ObjectMapper();
        int lineNo = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = mapper.readTree(line);
            } catch (IOException e) {
                continue; // reported (or fatal) when the line is scored
            }
            if (n == null || !n.hasNonNull("id")) {
                continue;
            }
            JsonNode label = n.get("label");
            if (label == null || !label.canConvertToInt()) {
                throw new IllegalArgumentException(file + " line " + lineNo + ": --eval needs an integer \"label\" (first wrong step, -1 if none)");
            }
            out.put(n.get("id").asText(), label.asInt());
        }
        return out;
    }

    /** The scores of a run: those of this run, plus those already in the output file when it was resumed (JSONL only). */
    private static List<PrmScore> readAll(Path out, ScoreWriter.Format fmt, List<PrmScore> thisRun) throws IOException {
        if (fmt != ScoreWriter.Format.JSONL || !Files.isRegularFile(out)) {
            return thisRun;
        }
        ObjectMapper mapper = new ObjectMapper();
        Map<String, PrmScore> byId = new LinkedHashMap<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = mapper.readTree(line);
            } catch (IOException e) {
                continue;
            }
            List<StepReward> steps = new ArrayList<>();
            for (JsonNode st : n.path("steps")) {
                steps.add(new StepReward(st.get("index").asInt(), st.get("tokens").asInt(), st.get("r").asDouble(), st.get("q").asDouble(),
                        st.path("mean_entropy").asDouble(), st.path("max_entropy").asDouble(), st.path("min_logprob").asDouble(),
                        st.path("mean_clipped_rank").asDouble()));
            }
            byId.put(n.get("id").asText(), new PrmScore(n.get("id").asText(), n.path("problem").asText(), n.path("teacher").asText(),
                    n.path("tokens").asInt(), n.path("beta").asDouble(), null, steps));
        }
        for (PrmScore s : thisRun) {
            byId.putIfAbsent(s.id(), s);
        }
        return new ArrayList<>(byId.values());
    }

    /**
     * One record as JSON. Means and rewards are doubles; a step's max entropy and min log-prob are
     * float32 values and print as floats (so do the log-ratios without a reference model: they are
     * the policy's log-probs); each in the shortest form that reads back to the value computed.
     */
    static String json(PrmScore s, boolean ratiosAreFloats) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = new JsonFactory().createGenerator((OutputStream) out)) {
            g.writeStartObject();
            g.writeStringField("id", s.id());
            g.writeStringField("problem", s.problem());
            g.writeStringField("teacher", s.teacher());
            g.writeNumberField("tokens", s.tokenCount());
            g.writeNumberField("beta", s.beta());
            g.writeNumberField("reward", s.responseReward());
            g.writeObjectFieldStart("aggregates");
            for (Aggregation.Over o : Aggregation.Over.values()) {
                for (Aggregation a : Aggregation.values()) {
                    g.writeNumberField(a.name().toLowerCase(Locale.ROOT) + "_" + o.name().toLowerCase(Locale.ROOT), s.aggregate(a, o));
                }
            }
            g.writeEndObject();
            g.writeArrayFieldStart("steps");
            for (StepReward st : s.steps()) {
                g.writeStartObject();
                g.writeNumberField("index", st.index());
                g.writeNumberField("tokens", st.tokenCount());
                g.writeNumberField("r", st.reward());
                g.writeNumberField("q", st.value());
                g.writeNumberField("mean_entropy", st.meanEntropy());
                g.writeNumberField("max_entropy", (float) st.maxEntropy());
                g.writeNumberField("min_logprob", (float) st.minLogprob());
                g.writeNumberField("mean_clipped_rank", st.meanClippedRank());
                g.writeEndObject();
            }
            g.writeEndArray();
            if (s.logRatios() != null) {
                g.writeArrayFieldStart("log_ratios");
                for (double v : s.logRatios()) {
                    if (ratiosAreFloats) {
                        g.writeNumber((float) v);
                    } else {
                        g.writeNumber(v);
                    }
                }
                g.writeEndArray();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    static String csv(PrmScore s) {
        List<String> f = new ArrayList<>(List.of(Csv.quote(s.id()), Csv.quote(s.problem()), Csv.quote(s.teacher()), Integer.toString(s.tokenCount()),
                Integer.toString(s.steps().size()), Double.toString(s.responseReward())));
        for (Aggregation.Over o : Aggregation.Over.values()) {
            for (Aggregation a : Aggregation.values()) {
                f.add(Double.toString(s.aggregate(a, o)));
            }
        }
        return String.join(",", f);
    }
}
