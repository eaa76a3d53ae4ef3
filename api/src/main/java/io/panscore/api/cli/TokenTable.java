package io.panscore.api.cli;

import io.panscore.api.ScoredText;
import io.panscore.api.ScoredToken;
import java.io.PrintWriter;
import java.util.Locale;

/** Prints a scored text as an aligned per-token table, or as JSON lines. */
final class TokenTable {

    private TokenTable() {}

    static void print(ScoredText scored, PrintWriter out) {
        out.printf(Locale.ROOT, "%5s  %-16s %9s %8s %7s  %-16s %9s%n", "pos", "token", "logprob", "entropy", "rank", "argmax", "logprob");
        for (ScoredToken t : scored.tokens()) {
            out.printf(Locale.ROOT, "%5d  %-16s %9.4f %8.4f %7d  %-16s %9.4f%n", t.position(), shown(t.text()), t.logprob(),
                    t.entropy(), t.rank(), shown(t.argmaxText()), t.argmaxLogprob());
        }
        out.printf(Locale.ROOT, "%d tokens scored: mean surprisal %.4f nats, perplexity %.2f, mean entropy %.4f nats%n",
                scored.tokens().size(), scored.meanSurprisal(), scored.perplexity(), scored.meanEntropy());
    }

    static void printJsonLines(ScoredText scored, PrintWriter out) {
        for (ScoredToken t : scored.tokens()) {
            out.printf(Locale.ROOT,
                    "{\"pos\":%d,\"id\":%d,\"token\":%s,\"logprob\":%s,\"entropy\":%s,\"rank\":%d,\"argmax_id\":%d,\"argmax\":%s,\"argmax_logprob\":%s}%n",
                    t.position(), t.id(), json(t.text()), num(t.logprob()), num(t.entropy()), t.rank(), t.argmaxId(),
                    json(t.argmaxText()), num(t.argmaxLogprob()));
        }
    }

    /** Visible rendering of a token: escapes whitespace, clips long pieces. */
    static String shown(String text) {
        String s = text.replace("\n", "\\n").replace("\t", "\\t").replace(" ", "·");
        return s.length() > 16 ? s.substring(0, 15) + "…" : s;
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "null";
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
