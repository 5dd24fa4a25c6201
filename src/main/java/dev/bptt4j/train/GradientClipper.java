package dev.bptt4j.train;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.TrainingOps;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.tensor.DType;

import java.util.List;

/**
 * Gradient clipping on the device, with {@code torch.nn.utils}' semantics. The global norm is
 * accumulated into one float64 device scalar across all parameters ({@link TrainingOps#sumOfSquares})
 * and read back once.
 */
public final class GradientClipper implements AutoCloseable {
    private final Backend backend;
    private final List<Parameter> parameters;
    private final DeviceBuffer sumOfSquares;
    private final DeviceSlice total;
    private final TrainingOps training;

    public GradientClipper(Backend backend, List<Parameter> parameters) {
        this.backend = backend;
        this.parameters = List.copyOf(parameters);
        this.sumOfSquares = backend.allocate(DType.F64, 1);
        this.total = DeviceSlice.of(sumOfSquares);
        this.training = backend.training();
    }

    /** The global L2 norm of all gradients (one host read). */
    public double totalNorm() {
        Packing.fill(backend, total, 1, 0.0);
        for (Parameter p : parameters) training.sumOfSquares(p.gradient(), p.elements(), total);
        return Math.sqrt(backend.download(total, 1).getDouble(0));
    }

    /**
     * {@code clip_grad_norm_(params, maxNorm)}: returns the total norm before clipping and, when
     * {@code maxNorm / (norm + 1e-6) < 1}, scales every gradient by that factor.
     *
     * @throws NonFiniteGradientException when the norm is Inf or NaN (as PyTorch's
     *     {@code error_if_nonfinite=True}); nothing is scaled then
     */
    public double clipNorm(double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("maxNorm: expected > 0, got " + maxNorm);
        double norm = totalNorm();
        if (!Double.isFinite(norm)) throw new NonFiniteGradientException(norm);
        double coefficient = maxNorm / (norm + 1e-6);
        if (coefficient < 1) {
            for (Parameter p : parameters) training.scale(p.gradient(), p.elements(), coefficient);
        }
        return norm;
    }

    /** {@code clip_grad_value_(params, v)}: clamps every gradient element into [−v, v]. */
    public void clipValue(double clipValue) {
        if (!(clipValue > 0)) throw new IllegalArgumentException("clipValue: expected > 0, got " + clipValue);
        for (Parameter p : parameters) training.clamp(p.gradient(), p.elements(), -clipValue, clipValue);
    }

    @Override
    public void close() {
        sumOfSquares.close();
    }
}
