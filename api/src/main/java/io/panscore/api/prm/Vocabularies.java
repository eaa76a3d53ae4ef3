package io.panscore.api.prm;

import io.panscore.kernel.Model;

/** Checks that two models tokenize identically: same size and the same text for every token id. */
public final class Vocabularies {

    private Vocabularies() {}

    /** @throws VocabularyMismatchException naming the first difference */
    public static void requireSame(Model policy, Model reference) {
        int n = policy.info().vocabSize();
        int m = reference.info().vocabSize();
        if (n != m) {
            throw new VocabularyMismatchException("the policy model has " + n + " tokens and the reference model " + m
                    + ": implicit rewards need two models with the same tokenizer");
        }
        for (int id = 0; id < n; id++) {
            String a = policy.tokenText(id);
            String b = reference.tokenText(id);
            if (!a.equals(b)) {
                throw new VocabularyMismatchException("token " + id + " is \"" + printable(a) + "\" in the policy model but \"" + printable(b)
                        + "\" in the reference model: implicit rewards need two models with the same tokenizer");
            }
        }
    }

    private static String printable(String s) {
        return s.replace("\n", "\\n").replace("\t", "\\t");
    }
}
