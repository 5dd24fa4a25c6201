package dev.bptt4j.io;

import java.io.IOException;

/**
 * A safetensors file (or byte array) that cannot be trusted: truncated, malformed header,
 * inconsistent offsets, unsupported dtype, or a tensor the caller needs but the file lacks.
 * Messages name the source, the tensor and the expected versus actual value so that a bad
 * test case can be fixed without a hex dump.
 */
public class SafeTensorsException extends IOException {
    private static final long serialVersionUID = 1L;

    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
