package dev.bptt4j.train;

/**
 * The gradients' global norm is Inf or NaN. Thrown by {@link GradientClipper#clipNorm} before
 * anything is scaled, so the parameters are untouched and an optimiser step never turns them into
 * NaN; the gradients are left as they are for inspection ({@code zeroGrad()} to go on).
 */
public final class NonFiniteGradientException extends ArithmeticException {
    private final double norm;

    public NonFiniteGradientException(double norm) {
        super("gradient norm is " + norm + " (non-finite): step refused; lower the learning rate, clip harder, or check the inputs");
        this.norm = norm;
    }

    public double norm() {
        return norm;
    }
}
