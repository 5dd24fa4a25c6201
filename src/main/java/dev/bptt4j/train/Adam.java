package dev.bptt4j.train;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;

import java.util.List;

/**
 * {@code torch.optim.Adam(lr, betas, eps, weight_decay)} (amsgrad off) plus an L1 term: bias
 * corrected moments, eps added outside the square root; see
 * {@link dev.bptt4j.backend.TrainingKernels#adam} for the exact update.
 */
public final class Adam extends Optimizer {
    private final double beta1, beta2, eps, weightDecay, l1;
    private DeviceSlice[] expAvg, expAvgSq;

    public Adam(Backend backend, List<Parameter> parameters, double lr, double beta1, double beta2, double eps,
                double weightDecay, double l1) {
        super(backend, parameters, lr);
        if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1: expected in [0, 1), got " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2: expected in [0, 1), got " + beta2);
        checkNonNegative("eps", eps);
        checkNonNegative("weightDecay", weightDecay);
        checkNonNegative("l1", l1);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.l1 = l1;
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public static Adam withDefaults(Backend backend, List<Parameter> parameters, double lr) {
        return new Adam(backend, parameters, lr, 0.9, 0.999, 1e-8, 0, 0);
    }

    @Override
    protected String[] stateKinds() {
        return new String[]{"exp_avg", "exp_avg_sq"};
    }

    @Override
    protected boolean hasState(int kind) {
        return true;
    }

    @Override
    protected DeviceSlice[][] stateBuffers() {
        return expAvg == null ? null : new DeviceSlice[][]{expAvg, expAvgSq};
    }

    @Override
    protected void setStateBuffers(DeviceSlice[][] buffers) {
        expAvg = buffers == null ? null : buffers[0];
        expAvgSq = buffers == null ? null : buffers[1];
    }

    @Override
    public void step() {
        if (expAvg == null) {
            expAvg = new DeviceSlice[parameters.size()];
            expAvgSq = new DeviceSlice[parameters.size()];
            for (int i = 0; i < parameters.size(); i++) {
                expAvg[i] = DeviceSlice.of(zerosLike(parameters.get(i)));
                expAvgSq[i] = DeviceSlice.of(zerosLike(parameters.get(i)));
            }
        }
        steps++;
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            training.adamStep(p.value(), p.gradient(), expAvg[i], expAvgSq[i], p.elements(), lr, beta1, beta2, eps,
                    weightDecay, l1, steps);
        }
    }
}
