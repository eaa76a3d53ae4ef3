package io.panscore.api.cli;

import io.panscore.api.report.HtmlReport;
import io.panscore.api.report.ReportData;
import io.panscore.api.report.ReportOptions;
import io.panscore.api.report.ReportReader;
import io.panscore.api.report.TokenTexts;
import io.panscore.kernel.Model;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panscore report --in scores.jsonl [--in more.jsonl] --out report.html}: one self-contained
 * HTML page over RSR and PRM score files.
 */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Write one self-contained, offline HTML report of RSR and/or PRM score files (the kind is detected per record):",
                "teachers ranked by dataset RSR, the best trajectory per problem, per-teacher distributions of clipped rank and surprisal,",
                "token heatmaps (with --per-token output), PRM step rewards with the first bad step marked."})
final class ReportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, description = "a score file of panscore rsr or prm (JSONL; RSR also CSV); repeatable")
    List<Path> in;

    @Option(names = "--out", required = true, description = "the HTML file to write")
    Path out;

    @Option(names = {"-m", "--model"}, description = "the scoring model (GGUF), to show token texts for per-token output that has only token ids")
    Path model;

    @Option(names = "--title", description = "page title. Default: ${DEFAULT-VALUE}")
    String title = ReportOptions.defaults().title();

    @Option(names = "--colour", description = "what heatmap colour shows first: surprisal or entropy. Default: ${DEFAULT-VALUE}")
    String colour = ReportOptions.defaults().colour();

    @Option(names = "--r-max", description = "rank clipping of the rank distributions (the RSR run's). Default: ${DEFAULT-VALUE}")
    int rMax = ReportOptions.defaults().rMax();

    @Option(names = "--bad-step-threshold", description = "a PRM step with reward r below this is bad. Default: ${DEFAULT-VALUE}")
    double badStep = ReportOptions.defaults().badStepThreshold();

    @Option(names = "--max-heatmaps", description = "token heatmaps drawn at most (best trajectory of each problem). Default: ${DEFAULT-VALUE}")
    int maxHeatmaps = ReportOptions.defaults().maxHeatmaps();

    @Option(names = "--max-prm", description = "PRM responses whose step rewards are drawn at most. Default: ${DEFAULT-VALUE}")
    int maxPrm = ReportOptions.defaults().maxPrmResponses();

    @Override
    public Integer call() throws IOException {
        ReportOptions options = new ReportOptions(title, colour, rMax, badStep, maxHeatmaps, maxPrm);
        ReportData data = new ReportReader().read(in);
        PrintWriter err = spec.commandLine().getErr();
        data.warnings().stream().limit(20).forEach(w -> err.println("panscore: " + w));
        if (data.warnings().size() > 20) {
            err.println("panscore: ... " + (data.warnings().size() - 20) + " more warning(s), listed in the report");
        }
        if (model != null) {
            try (Model m = Model.load(model)) {
                HtmlReport.write(data, options, TokenTexts.of(m), out);
            }
        } else {
            HtmlReport.write(data, options, out);
        }
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s (%,d bytes): %d RSR and %d PRM record(s)%s%n", out, Files.size(out), data.rsr().size(),
                data.prm().size(), model == null && data.rsr().stream().anyMatch(r -> r.tokens() != null && r.tokens().texts() == null)
                        ? "; token texts missing: pass --model to show them" : "");
        return 0;
    }
}
