package io.panscore.api.cli;

import io.panscore.kernel.PanscoreException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code panscore <command>}: the command-line entry point. Typed panscore failures print their
 * message (no stack trace) and exit with status 1; usage errors exit with status 2.
 */
@Command(name = "panscore", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Exact per-token log-probs, entropy and rank under llama.cpp models.",
        subcommands = {DemoCommand.class, ScoreCommand.class, RsrCommand.class, PrmCommand.class, ServeCommand.class, InfoCommand.class, FixtureCommand.class,
                ReportCommand.class,
                RouteCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        // quiet logs: only warnings from the libraries (Jetty) unless asked otherwise
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI and returns the exit status (for tests). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof PanscoreException || e instanceof java.io.IOException || e instanceof java.io.UncheckedIOException
                    || e instanceof IllegalArgumentException) {
                commandLine.getErr().println("panscore: " + message(e));
                return 1;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /** The one-line message for a failure: file-system exceptions carry only a path as theirs. */
    static String message(Exception e) {
        if (e instanceof java.nio.file.NoSuchFileException n) {
            return "no such file: " + n.getFile() + (n.getReason() == null ? "" : " (" + n.getReason() + ")");
        }
        if (e instanceof java.nio.file.AccessDeniedException a) {
            return "permission denied: " + a.getFile();
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null && !f.getMessage().contains(f.getReason())) {
            return f.getFile() + ": " + f.getReason();
        }
        return e.getMessage();
    }
}
