package dev.bptt4j.train;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.backend.TrainingOps;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

    /**
     * Host copies of the optimiser's state buffers, named {@code <kind>.<parameter name>} (Adam's
     * {@code exp_avg.} and {@code exp_avg_sq.}, SGD's {@code momentum_buffer.}, as PyTorch's
     * {@code optimizer.state_dict()} calls them), each flat; empty before the first step. With
     * {@link #steps()} this is everything a continued run needs besides the learning rate.
     */
    public Map<String, Tensor> state() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        DeviceSlice[][] buffers = stateBuffers();
        if (buffers == null) return out;
        String[] kinds = stateKinds();
        for (int k = 0; k < kinds.length; k++) {
            for (int i = 0; i < parameters.size(); i++) {
                if (buffers[k][i] == null) continue;
                Parameter p = parameters.get(i);
                out.put(kinds[k] + "." + p.name(), backend.download(buffers[k][i], (int) p.elements()));
            }
        }
        return out;
    }

    /**
     * Restores what {@link #state()} and {@link #steps()} returned from an optimiser of the same
     * kind and settings over the same parameters, so that the next step is the one that optimiser
     * would have taken. Every entry must be present (none when {@code steps} is 0) with the
     * parameter's element count; unknown entries are an error.
     */
    public void loadState(Map<String, Tensor> state, long steps) {
        if (steps < 0) throw new IllegalArgumentException("steps: expected >= 0, got " + steps);
        String[] kinds = stateKinds();
        Map<String, Tensor> left = new LinkedHashMap<>(state);
        Tensor[][] values = new Tensor[kinds.length][parameters.size()];
        for (int k = 0; k < kinds.length && steps > 0; k++) {
            if (!hasState(k)) continue;
            for (int i = 0; i < parameters.size(); i++) {
                Parameter p = parameters.get(i);
                String name = kinds[k] + "." + p.name();
                Tensor t = left.remove(name);
                if (t == null) throw new IllegalArgumentException("optimiser state: missing '" + name + "' after " + steps + " steps");
                if (t.size() != p.elements()) {
                    throw new IllegalArgumentException("optimiser state '" + name + "': expected " + p.elements() + " elements, got " + t.size());
                }
                values[k][i] = t.reshape(t.size());
            }
        }
        if (!left.isEmpty()) throw new IllegalArgumentException("optimiser state: unexpected entries " + left.keySet());
        close(); // the buffers of the state being replaced
        DeviceSlice[][] buffers = steps == 0 ? null : new DeviceSlice[kinds.length][parameters.size()];
        for (int k = 0; k < kinds.length && buffers != null; k++) {
            for (int i = 0; i < parameters.size(); i++) {
                if (values[k][i] == null) continue;
                DeviceBuffer b = zerosLike(parameters.get(i));
                backend.upload(values[k][i].dtype() == b.dtype() ? values[k][i] : values[k][i].to(b.dtype()), DeviceSlice.of(b));
                buffers[k][i] = DeviceSlice.of(b);
            }
        }
        setStateBuffers(buffers);
        this.steps = steps;
    }

    /** The kinds of state buffer, in the order of {@link #stateBuffers()}'s rows. */
    protected abstract String[] stateKinds();

    /** Whether kind k is kept at all (SGD keeps no momentum buffer when its momentum is 0). */
    protected abstract boolean hasState(int kind);

    /** [kind][parameter] state buffers, or null before the first step. */
    protected abstract DeviceSlice[][] stateBuffers();

    /** Installs buffers made by {@link #loadState} (null: as before the first step). */
    protected abstract void setStateBuffers(DeviceSlice[][] buffers);

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
