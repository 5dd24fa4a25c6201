package dev.bptt4j.train;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;

import java.util.List;

/**
 * {@code torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov)} plus an L1 term: see
 * {@link dev.bptt4j.backend.TrainingKernels#sgd} for the exact update. As in PyTorch the momentum
 * buffer is the (regularised) gradient itself on the first step, dampening applies from the second.
 */
public final class Sgd extends Optimizer {
    private final double momentum, dampening, weightDecay, l1;
    private final boolean nesterov;
    private DeviceSlice[] momentumBuffers;

    public Sgd(Backend backend, List<Parameter> parameters, double lr, double momentum, double dampening,
               double weightDecay, double l1, boolean nesterov) {
        super(backend, parameters, lr);
        checkNonNegative("momentum", momentum);
        checkNonNegative("weightDecay", weightDecay);
        checkNonNegative("l1", l1);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("nesterov: needs momentum > 0 and dampening = 0 (as torch.optim.SGD)");
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.l1 = l1;
        this.nesterov = nesterov;
    }

    /** Plain SGD: {@code p ← p − lr·g}. */
    public static Sgd plain(Backend backend, List<Parameter> parameters, double lr) {
        return new Sgd(backend, parameters, lr, 0, 0, 0, 0, false);
    }

    @Override
    protected String[] stateKinds() {
        return new String[]{"momentum_buffer"};
    }

    @Override
    protected boolean hasState(int kind) {
        return momentum != 0;
    }

    @Override
    protected DeviceSlice[][] stateBuffers() {
        return momentumBuffers == null ? null : new DeviceSlice[][]{momentumBuffers};
    }

    @Override
    protected void setStateBuffers(DeviceSlice[][] buffers) {
        momentumBuffers = buffers == null ? null : buffers[0];
    }

    @Override
    public void step() {
        boolean first = momentumBuffers == null;
        if (first) {
            momentumBuffers = new DeviceSlice[parameters.size()];
            if (momentum != 0) for (int i = 0; i < parameters.size(); i++) momentumBuffers[i] = DeviceSlice.of(zerosLike(parameters.get(i)));
        }
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            training.sgdStep(p.value(), p.gradient(), momentumBuffers[i], p.elements(), lr, momentum, dampening,
                    weightDecay, l1, nesterov, first);
        }
        steps++;
    }
}
