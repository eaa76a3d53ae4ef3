package io.panscore.spark;

/**
 * A malformed row or an unscorable trajectory under {@link ScoringConfig.OnError#FAIL}. The message
 * is the CLI's: {@code line N: why} or {@code trajectory "id" cannot be scored: why}. Thrown on an
 * executor it reaches the driver as the cause of a {@code SparkException}.
 */
public class RejectedRowException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public RejectedRowException(String message) {
        super(message);
    }
}
