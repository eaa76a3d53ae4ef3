package io.panscore.api.report;

import io.panscore.kernel.Model;

/**
 * Renders token ids as text for a report whose score file has ids only (a model's vocabulary).
 */
public interface TokenTexts {

    /**
     * The text of each token of a sequence, in context, so that their concatenation reads as the
     * sequence does (a SentencePiece token's leading space is kept, unlike when it is rendered alone).
     *
     * @param ids the token ids
     * @return one text per id
     */
    String[] sequence(int[] ids);

    /**
     * The text of one token on its own (a top-k alternative).
     *
     * @param id the token id
     * @return its text
     */
    String single(int id);

    /**
     * Texts from a model: each token is rendered after its predecessor and the predecessor's own
     * text is cut off (a tokenizer drops a leading space only at the start of a text); where that
     * does not split cleanly (half of a multi-byte character), the token alone.
     *
     * @param model the model that scored the file
     * @return the renderer
     */
    static TokenTexts of(Model model) {
        return new TokenTexts() {
            @Override
            public String[] sequence(int[] ids) {
                String[] out = new String[ids.length];
                for (int i = 0; i < ids.length; i++) {
                    if (i == 0) {
                        out[i] = model.detokenize(new int[] {ids[0]}, true); // as the sequence starts
                        continue;
                    }
                    String prev = model.detokenize(new int[] {ids[i - 1]}, true);
                    String both = model.detokenize(new int[] {ids[i - 1], ids[i]}, true);
                    out[i] = both.startsWith(prev) && prev.indexOf('\uFFFD') < 0 ? both.substring(prev.length())
                            : model.detokenize(new int[] {ids[i]}, true);
                }
                return out;
            }

            @Override
            public String single(int id) {
                return model.tokenText(id);
            }
        };
    }
}
