// Harness for scripts/bench-openai.sh (run with: java --source 25 -cp api/target/panscore.jar BenchOpenAi.java ...).
//   api  MODEL THREADS CTX TOKENS TEXTS ROUNDS   echo scoring through the Java API (Model + Engine, top-1, token texts)
//   http URL MODEL_FILE TOKENS TEXTS ROUNDS      the same token-id prompts through POST /v1/completions
//                                                (echo=true, max_tokens=0, logprobs=1), one keep-alive client
//   gen  URL STREAMS MAX_TOKENS ROUNDS PROMPT    greedy generation, STREAMS concurrent requests per round
// Prompts: TEXTS deterministic token-id sequences of TOKENS tokens (ids from the model's vocabulary, seed 42), so
// both sides score exactly the same tokens. Prints one line "RESULT key=value ...".
import io.panscore.kernel.*;
import java.net.URI;
import java.net.http.*;
import java.nio.file.Path;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.*;

void main(String[] a) throws Exception {
    switch (a[0]) {
        case "api" -> api(Path.of(a[1]), Integer.parseInt(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]), Integer.parseInt(a[6]));
        case "http" -> http(a[1], Path.of(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]), Integer.parseInt(a[5]));
        case "gen" -> gen(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]), Integer.parseInt(a[4]), a[5]);
        default -> throw new IllegalArgumentException(a[0]);
    }
}

List<int[]> prompts(int vocab, int tokens, int texts) {
    Random r = new Random(42);
    List<int[]> out = new ArrayList<>();
    for (int t = 0; t < texts; t++) {
        int[] ids = new int[tokens];
        // ids from the lower part of the vocabulary (ordinary text pieces), never a control token
        for (int i = 0; i < tokens; i++) ids[i] = 200 + r.nextInt(Math.min(vocab - 400, 20000));
        out.add(ids);
    }
    return out;
}

int vocab(Path model) {
    try (Model m = Model.load(model, ModelOptions.defaults())) { return m.info().vocabSize(); }
}

void api(Path modelPath, int threads, int ctx, int tokens, int texts, int rounds) {
    try (Model m = Model.load(modelPath, ModelOptions.defaults());
         Engine e = m.newEngine(EngineOptions.defaults().withContextSize(ctx).withThreads(threads))) {
        List<int[]> ps = prompts(m.info().vocabSize(), tokens, texts);
        ScoreOptions so = ScoreOptions.defaults().withTopK(1);
        long best = Long.MAX_VALUE; double sink = 0;
        for (int round = -1; round < rounds; round++) {          // round -1 = warm-up
            long t0 = System.nanoTime();
            for (int[] ids : ps) {
                TokenScores s = e.score(List.of(Sequence.of(ids)), so).getFirst();
                for (int i = 0; i < s.size(); i++) {   // what a client of the API reads: logprob, token text, top-1
                    sink += s.logprob()[i] + m.tokenText(ids[s.scoreBegin() + i]).length() + m.tokenText(s.topIds()[i]).length();
                }
            }
            long dt = System.nanoTime() - t0;
            if (round >= 0) best = Math.min(best, dt);
        }
        System.out.printf(Locale.ROOT, "RESULT mode=api texts=%d tokens=%d best_round_ms=%.1f ms_per_text=%.2f tok_per_s=%.0f sink=%.0f%n",
                texts, tokens, best / 1e6, best / 1e6 / texts, (double) texts * tokens / (best / 1e9), sink);
    }
}

void http(String url, Path modelFile, int tokens, int texts, int rounds) throws Exception {
    List<int[]> ps = prompts(vocab(modelFile), tokens, texts);
    HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    long best = Long.MAX_VALUE; long bytes = 0;
    for (int round = -1; round < rounds; round++) {
        long t0 = System.nanoTime();
        for (int[] ids : ps) {
            StringBuilder b = new StringBuilder("{\"model\":\"bench\",\"prompt\":[");
            for (int i = 0; i < ids.length; i++) b.append(i == 0 ? "" : ",").append(ids[i]);
            b.append("],\"echo\":true,\"max_tokens\":0,\"logprobs\":1}");
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(b.toString())).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IllegalStateException(r.statusCode() + " " + r.body());
            if (!r.body().contains("token_logprobs")) throw new IllegalStateException("no logprobs: " + r.body());
            bytes = r.body().length();
        }
        long dt = System.nanoTime() - t0;
        if (round >= 0) best = Math.min(best, dt);
    }
    System.out.printf(Locale.ROOT, "RESULT mode=http texts=%d tokens=%d best_round_ms=%.1f ms_per_text=%.2f tok_per_s=%.0f response_bytes=%d%n",
            texts, tokens, best / 1e6, best / 1e6 / texts, (double) texts * tokens / (best / 1e9), bytes);
}

void gen(String url, int streams, int maxTokens, int rounds, String prompt) throws Exception {
    HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    String body = "{\"model\":\"bench\",\"prompt\":\"" + prompt.replace("\\", "\\\\").replace("\"", "\\\"") + "\",\"max_tokens\":" + maxTokens
            + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":false}";
    Pattern ct = Pattern.compile("\"completion_tokens\"\\s*:\\s*(\\d+)");
    ExecutorService ex = Executors.newFixedThreadPool(streams, r -> { Thread t = new Thread(r); t.setDaemon(true); return t; });
    double bestRate = 0; long bestTokens = 0; long bestMs = 0; int minTok = Integer.MAX_VALUE, maxTok = 0;
    for (int round = -1; round < rounds; round++) {
        long t0 = System.nanoTime();
        List<Future<Integer>> fs = new ArrayList<>();
        for (int s = 0; s < streams; s++) fs.add(ex.submit(() -> {
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IllegalStateException(r.statusCode() + " " + r.body());
            Matcher mm = ct.matcher(r.body());
            if (!mm.find()) throw new IllegalStateException("no usage: " + r.body());
            return Integer.parseInt(mm.group(1));
        }));
        long tok = 0;
        for (Future<Integer> f : fs) { int n = f.get(); tok += n; if (round >= 0) { minTok = Math.min(minTok, n); maxTok = Math.max(maxTok, n); } }
        long dt = System.nanoTime() - t0;
        double rate = tok / (dt / 1e9);
        if (round >= 0 && rate > bestRate) { bestRate = rate; bestTokens = tok; bestMs = dt / 1_000_000; }
    }
    ex.shutdown();
    System.out.printf(Locale.ROOT, "RESULT mode=gen streams=%d max_tokens=%d tokens_per_request=%d..%d best_round_tokens=%d best_round_ms=%d tok_per_s=%.1f%n",
            streams, maxTokens, minTok, maxTok, bestTokens, bestMs, bestRate);
}
