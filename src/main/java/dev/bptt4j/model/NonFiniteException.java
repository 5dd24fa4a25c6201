package dev.bptt4j.model;

/**
 * A NaN or ±Inf found by the opt-in finite check ({@link Rnn#setCheckFinite}, or the
 * {@code bptt4j.checkFinite} system property). The message names the tensor and, for
 * per-step tensors, the layer, direction and step where it first appeared. Thrown from a
 * backward, it leaves the parameter gradients partly accumulated: call {@link Rnn#zeroGrad()}
 * before training on.
 */
public final class NonFiniteException extends ArithmeticException {
    private static final long serialVersionUID = 1L;

    public NonFiniteException(String message) {
        super(message);
    }
}
