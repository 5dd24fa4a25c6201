package dev.bptt4j.train;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.backend.TrainingOps;

import java.util.ArrayList;
import java.util.List;

/**
 * A first-order optimiser over parameters on one backend's device. Each {@link #step()} runs one
 * fused elementwise kernel per parameter on the device (no host transfer); state buffers
 * (momentum, moments) are allocated on the first step. Regularisation as in PyTorch: L2
 * {@code weightDecay} is added to the gradient ({@code g + wd·p}, not AdamW's decoupled form), and
 * L1 adds {@code l1·sign(p)} the same way.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final Backend backend;
    protected final TrainingOps training;
    protected final List<Parameter> parameters;
    protected final List<DeviceBuffer> state = new ArrayList<>();
    protected long steps;
    protected double lr;

    protected Optimizer(Backend backend, List<Parameter> parameters, double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("lr: expected >= 0, got " + lr);
        this.backend = backend;
        this.training = backend.training();
        this.parameters = List.copyOf(parameters);
        this.lr = lr;
    }

    /** Applies one update from the accumulated gradients (which it leaves unchanged). */
    public abstract void step();

    /** Sets every parameter's gradient to zero. */
    public void zeroGrad() {
        for (Parameter p : parameters) Packing.fill(backend, p.gradient(), p.elements(), 0.0);
    }

    public double learningRate() {
        return lr;
    }

    /** For schedules: takes effect from the next step. */
    public void setLearningRate(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("lr: expected >= 0, got " + lr);
        this.lr = lr;
    }

    /** Steps taken so far. */
    public long steps() {
        return steps;
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    protected DeviceBuffer zerosLike(Parameter p) {
        DeviceBuffer b = backend.allocate(p.value().buffer().dtype(), p.elements());
        state.add(b);
        return b;
    }

    static void checkNonNegative(String what, double v) {
        if (!(v >= 0)) throw new IllegalArgumentException(what + ": expected >= 0, got " + v);
    }

    @Override
    public void close() {
        for (DeviceBuffer b : state) b.close();
        state.clear();
    }
}
