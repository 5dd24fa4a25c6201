package dev.bptt4j.train;

import java.io.IOException;

/** A training state file that cannot be used (missing, truncated, altered, of another format); the message names the file. */
public final class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
