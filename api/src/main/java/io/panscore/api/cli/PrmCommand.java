package io.panscore.api.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.panscore.api.prm.Aggregation;
import io.panscore.api.prm.PrmOptions;
import io.panscore.api.prm.PrmScore;
import io.panscore.api.prm.PrmScorer;
import io.panscore.api.prm.Selection;
import io.panscore.api.prm.StepReward;
import io.panscore.api.trajectory.Csv;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.kernel.Engine;
import io.panscore.kernel.Model;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

    @Option(names = "--beta", description = "the scale of the rewards: r = beta * sum of log(pi_policy / pi_ref) over a step's tokens (nats). Default: ${DEFAULT-VALUE}")
    double beta = PrmOptions.DEFAULT_BETA;

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
        PrmOptions options = PrmOptions.defaults().withBeta(beta).withDelimiter(TrajectoryRun.unescape(delimiter))
                .withTemplate(template).withChunkSize(io.chunk).withKeepLogRatios(logRatios);
        PrintWriter stdout = spec.commandLine().getOut();
        List<PrmScore> all = new ArrayList<>();
        try (Model p = Model.load(policy, engineArgs.modelOptions());
                Engine pe = p.newEngine(engineArgs.engineOptions());
                Model r = ref == null ? null : Model.load(ref, engineArgs.modelOptions());
                Engine re = r == null ? null : r.newEngine(engineArgs.engineOptions())) {
            Templates.check(template, p); // once, before anything is scored
            if (r != null) {
                Templates.check(template, r);
            }
            PrmScorer scorer = new PrmScorer(pe, re, options);
            java.util.Map<String, Object> meta = TrajectoryRun.meta("prm", io, engineArgs);
            meta.put("policy", TrajectoryRun.fingerprint(policy));
            meta.put("reference", ref == null ? "none" : TrajectoryRun.fingerprint(ref));
            meta.put("beta", beta);
            meta.put("delimiter", TrajectoryRun.unescape(delimiter));
            meta.put("log_ratios", logRatios);
            TrajectoryRun.run(io, CSV_HEADER, meta, stdout, spec.commandLine().getErr(),
                    (input, done) -> TrajectoryRun.results(scorer.score(input, done), o -> switch (o) {
                        case PrmScorer.Scored s -> {
                            all.add(s.score());
                            yield TrajectoryRun.Result.ok(s.id(), fmt == ScoreWriter.Format.JSONL ? json(s.score(), noRef) : csv(s.score()),
                                    s.score().tokenCount());
                        }
                        case PrmScorer.Failed f -> TrajectoryRun.Result.failed(f.id(), f.message());
                    }));
            if (timings) {
                PrmScorer.Timings t = scorer.timings();
                stdout.printf(Locale.ROOT, "time: policy %.2f s, reference %.2f s, encoding and rewards %.2f s, %,d tokens%n", t.policyNanos() / 1e9,
                        t.referenceNanos() / 1e9, t.restNanos() / 1e9, t.tokens());
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
