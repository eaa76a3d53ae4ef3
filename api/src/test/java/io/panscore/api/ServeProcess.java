package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.cli.Main;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code panscore serve} in a child JVM (the real CLI, flags parsed as a user's are), on the port
 * it prints at start-up; closing sends SIGTERM and requires a clean stop within 30 s. Not
 * thread-safe: one test drives one server.
 */
final class ServeProcess implements AutoCloseable {

    private static final Pattern LISTENING = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)");

    private final Process process;
    private final int port;
    private final String banner;

    private ServeProcess(Process process, int port, String banner) {
        this.process = process;
        this.port = port;
        this.banner = banner;
    }

    /** Starts {@code panscore serve ARGS} and waits until it prints the address it listens on. */
    static ServeProcess start(List<String> serveArgs) throws IOException {
        return start(serveArgs, java.util.Map.of());
    }

    /** The same, with these variables added to (or, mapped to null, removed from) the child's environment. */
    static ServeProcess start(List<String> serveArgs, java.util.Map<String, String> env) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve"));
        cmd.addAll(serveArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        env.forEach((k, v) -> {
            if (v == null) {
                pb.environment().remove(k);
            } else {
                pb.environment().put(k, v);
            }
        });
        Process p = pb.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        int port = -1;
        StringBuilder seen = new StringBuilder();
        for (String line; port < 0 && (line = out.readLine()) != null;) {
            seen.append(line).append('\n');
            Matcher m = LISTENING.matcher(line);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
            }
        }
        if (port < 0) {
            p.destroyForcibly();
            throw new AssertionError("serve did not start: " + seen);
        }
        Thread.ofVirtual().start(() -> out.lines().forEach(l -> {})); // keep draining, so the child never blocks on a full pipe
        return new ServeProcess(p, port, seen.toString());
    }

    int port() {
        return port;
    }

    /** What serve printed up to and including the line with its address. */
    String banner() {
        return banner;
    }

    /** SIGTERM: the shutdown hook stops the server gracefully. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
    }
}
