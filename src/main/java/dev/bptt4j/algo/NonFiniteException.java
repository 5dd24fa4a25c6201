package dev.bptt4j.algo;

/**
 * A NaN or ±Inf found by the opt-in finite check ({@code Rnn.setCheckFinite}, or the
 * {@code bptt4j.checkFinite} system property). The message names the tensor and, for
 * per-step tensors, the layer, direction and step where it first appeared. Thrown from a
 * backward, it leaves the parameter gradients partly accumulated: call {@code Rnn.zeroGrad()}
 * before training on.
 */
public final class NonFiniteException extends ArithmeticException {
    private static final long serialVersionUID = 1L;

    public NonFiniteException(String message) {
        super(message);
    }
}
