package dev.bptt4j.backend;

/**
 * The training ops on a backend's buffers: the fused softmax cross-entropy of an output layer,
 * one step of SGD or Adam, and the norms, scaling and clamping of gradient clipping. A backend
 * gives its own through {@link Backend#training()}; {@link HostTrainingOps} runs them on the host
 * after a download (correct on any backend, fast on none). The element math of all of them is
 * {@link TrainingKernels}'; optimisers read gradients and assign their state.
 */
public interface TrainingOps {
    /**
     * Fused softmax + cross-entropy over {@code rows × classes} logits (row-major, contiguous).
     * {@code targets} holds I32 class ids, −1 for a masked row. On exit each logits row holds
     * {@code gradScale·(softmax − onehot(target))} (0 for masked rows) and
     * {@code rowLoss[r] = logsumexp(z_r) − z_r[target]} (0 for masked rows), in the logits' dtype.
     */
    void softmaxCrossEntropy(DeviceSlice logits, DeviceSlice targets, DeviceSlice rowLoss, int rows, int classes, double gradScale);

    /**
     * One {@code torch.optim.SGD} step over {@code count} elements of a parameter (see
     * {@link TrainingKernels#sgd}); {@code momentumBuffer} may be null when momentum is 0.
     */
    void sgdStep(DeviceSlice param, DeviceSlice grad, DeviceSlice momentumBuffer, long count, double lr, double momentum,
                 double dampening, double weightDecay, double l1, boolean nesterov, boolean firstStep);

    /**
     * One {@code torch.optim.Adam} step (amsgrad off, {@code step} counted from 1) over {@code count}
     * elements; {@code expAvg} and {@code expAvgSq} are the moments (zero before step 1).
     */
    void adamStep(DeviceSlice param, DeviceSlice grad, DeviceSlice expAvg, DeviceSlice expAvgSq, long count, double lr,
                  double beta1, double beta2, double eps, double weightDecay, double l1, long step);

    /**
     * {@code out[0] += Σ x²} over {@code count} elements; {@code out} is F64 so that norms of
     * float32 tensors accumulate in double. Several calls into one accumulator and one download
     * give a global norm with a single host read.
     */
    void sumOfSquares(DeviceSlice x, long count, DeviceSlice out);

    /** {@code x ← alpha·x} over {@code count} elements. */
    void scale(DeviceSlice x, long count, double alpha);

    /** {@code x ← clamp(x, min, max)} over {@code count} elements; NaN stays NaN. */
    void clamp(DeviceSlice x, long count, double min, double max);
}
