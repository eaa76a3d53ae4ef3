package io.panscore.api.cli;

import io.panscore.api.ScoredText;
import io.panscore.api.ScoredToken;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Prints a scored text as an aligned per-token table (4 decimals, for reading), or as JSON lines
 * (every number in the shortest form that reads back to exactly the value computed: the per-token
 * statistics are float32, so they print as floats).
 */
final class TokenTable {

    private TokenTable() {}

    static void print(ScoredText scored, PrintWriter out) {
        boolean top = scored.tokens().stream().anyMatch(t -> !t.top().isEmpty());
        out.println("log-probs and entropies in nats; rank is 1-based (1 = the model's most likely token);"
                + " the text's first token is scored only when the model adds a BOS before it");
        out.printf(Locale.ROOT, "%5s  %-16s %14s %14s %7s  %-16s %14s%s%n", "pos", "token", "logprob(nats)", "entropy(nats)", "rank", "argmax",
                "argmax_logprob", top ? "  top-k (token logprob)" : "");
        for (ScoredToken t : scored.tokens()) {
            out.printf(Locale.ROOT, "%5d  %-16s %14s %14s %7d  %-16s %14s%s%n", t.position(), shown(t.text()), fixed(t.logprob()),
                    fixed(t.entropy()), t.rank(), shown(t.argmaxText()), fixed(t.argmaxLogprob()), top ? "  " + topList(t) : "");
        }
        out.printf(Locale.ROOT, "%d tokens scored: mean surprisal %.4f nats, perplexity %.2f, mean entropy %.4f nats%n",
                scored.tokens().size(), scored.meanSurprisal(), scored.perplexity(), scored.meanEntropy());
    }

    private static String topList(ScoredToken t) {
        StringBuilder b = new StringBuilder();
        for (ScoredToken.Alternative a : t.top()) {
            if (!b.isEmpty()) {
                b.append(", ");
            }
            b.append(shown(a.text())).append(' ').append(fixed(a.logprob()));
        }
        return b.toString();
    }

    /**
     * One JSON object per scored token. Keys: pos (0-based token index), id, token (exact piece),
     * logprob and entropy (nats), rank (1-based), argmax_id, argmax, argmax_logprob, and with top-k
     * "top": [{"id", "token", "logprob"}, ...] best first.
     */
    static void printJsonLines(ScoredText scored, PrintWriter out) {
        for (ScoredToken t : scored.tokens()) {
            StringBuilder b = new StringBuilder();
            b.append("{\"pos\":").append(t.position()).append(",\"id\":").append(t.id()).append(",\"token\":").append(json(t.text()))
                    .append(",\"logprob\":").append(f32(t.logprob())).append(",\"entropy\":").append(f32(t.entropy()))
                    .append(",\"rank\":").append(t.rank()).append(",\"argmax_id\":").append(t.argmaxId()).append(",\"argmax\":")
                    .append(json(t.argmaxText())).append(",\"argmax_logprob\":").append(f32(t.argmaxLogprob()));
            if (!t.top().isEmpty()) {
                b.append(",\"top\":[");
                for (int i = 0; i < t.top().size(); i++) {
                    ScoredToken.Alternative a = t.top().get(i);
                    b.append(i == 0 ? "" : ",").append("{\"id\":").append(a.id()).append(",\"token\":").append(json(a.text()))
                            .append(",\"logprob\":").append(f32(a.logprob())).append('}');
                }
                b.append(']');
            }
            out.println(b.append('}'));
        }
    }

    /** Visible rendering of a token: escapes whitespace, clips long pieces. */
    static String shown(String text) {
        String s = text.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "·");
        return s.length() > 16 ? s.substring(0, 15) + "…" : s;
    }

    /** 4 decimals for the table; a value that rounds to zero prints as 0.0000, never -0.0000. */
    static String fixed(double v) {
        String s = String.format(Locale.ROOT, "%.4f", v);
        return s.equals("-0.0000") ? "0.0000" : s;
    }

    /**
     * A float32 statistic (held in a double) in the shortest decimal form that reads back to the
     * same float, as JSON (non-finite values are null).
     */
    static String f32(double v) {
        return Double.isFinite(v) ? Float.toString((float) v) : "null";
    }

    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
