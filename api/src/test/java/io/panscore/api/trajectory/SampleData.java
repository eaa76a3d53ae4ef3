package io.panscore.api.trajectory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The bundled sample trajectories (3 problems x 3 teachers x 2 responses, prompt and chat formats). */
final class SampleData {

    private SampleData() {}

    static String jsonl() throws IOException {
        try (InputStream in = SampleData.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static List<Trajectory> trajectories() throws IOException {
        List<Trajectory> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                SampleData.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl"), StandardCharsets.UTF_8))) {
            new TrajectoryJsonl(r, e -> {
                throw e;
            }).forEachRemaining(out::add);
        }
        return out;
    }
}
