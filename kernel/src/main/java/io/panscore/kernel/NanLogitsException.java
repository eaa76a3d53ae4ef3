package io.panscore.kernel;

/** The model produced NaN logits, or a row with no finite logit: no statistic is meaningful there. */
public class NanLogitsException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public NanLogitsException(int status, String message) {
        super(status, message);
    }
}
