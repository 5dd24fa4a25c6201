package dev.bptt4j.backend.cuda;

/** A misuse of the emulated device that a real GPU might not report: out of bounds, use after free, a leak, a bad argument. */
public final class EmulatedCudaException extends RuntimeException {
    public EmulatedCudaException(String message) {
        super(message);
    }
}
