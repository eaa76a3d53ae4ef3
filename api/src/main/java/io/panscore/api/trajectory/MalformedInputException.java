package io.panscore.api.trajectory;

import io.panscore.kernel.InvalidInputException;

/** A line of a JSONL input that is not a valid trajectory; the message names the line and the problem. */
public class MalformedInputException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final long line;

    public MalformedInputException(long line, String problem) {
        super(0, "line " + line + ": " + problem);
        this.line = line;
    }

    /** 1-based line number in the input file. */
    public long line() {
        return line;
    }
}
