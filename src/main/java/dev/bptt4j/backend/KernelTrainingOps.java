package dev.bptt4j.backend;

import static dev.bptt4j.backend.KernelSpec.Element.F64;
import static dev.bptt4j.backend.KernelSpec.Element.I32;
import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * {@link TrainingOps} as the kernels of {@code cuda/training.cu}, launched through
 * {@link Backend#launch}: the CUDA backend runs them on the device, the CPU backend in place over
 * its off-heap buffers. The specs below are those kernels' signatures.
 */
public final class KernelTrainingOps implements TrainingOps {
    /** One thread per row. */
    public static final KernelSpec SOFTMAX_XENT = KernelSpec.kernel("softmax_xent", "training")
            .pointer("logits", REAL, "rows", "classes") // logits in, gradScale·(softmax − onehot) out
            .pointer("targets", I32, "rows")
            .pointer("rowLoss", REAL, "rows")
            .int32("rows").int32("classes").float64("gradScale")
            .grid("rows").build();
    public static final KernelSpec SGD_STEP = KernelSpec.kernel("sgd_step", "training")
            .pointer("param", REAL, "count")
            .pointer("grad", REAL, "count") // read only
            .nullablePointer("momentumBuffer", REAL, "count") // read and written only when momentum != 0
            .int64("count").float64("lr").float64("momentum").float64("dampening").float64("weightDecay").float64("l1")
            .int32("nesterov").int32("firstStep")
            .require("a momentum buffer when momentum != 0", a -> a.realAt(5) == 0 || a.slice(2) != null)
            .grid("count").build();
    public static final KernelSpec ADAM_STEP = KernelSpec.kernel("adam_step", "training")
            .pointer("param", REAL, "count")
            .pointer("grad", REAL, "count") // read only
            .pointer("expAvg", REAL, "count")
            .pointer("expAvgSq", REAL, "count")
            .int64("count").float64("lr").float64("beta1").float64("beta2").float64("eps").float64("weightDecay").float64("l1")
            .float64("biasCorrection1") // 1 − β1^step, from the host
            .float64("biasCorrection2Sqrt") // √(1 − β2^step), from the host
            .grid("count").build();
    /** Threads share data: a grid-stride sum per thread, a tree per block, one atomicAdd per block. */
    public static final KernelSpec SUM_OF_SQUARES = KernelSpec.kernel("sum_of_squares", "training")
            .pointer("x", REAL, "count")
            .int64("count")
            .pointer("out", F64, 1) // one double, added to
            .grid("count").build();
    public static final KernelSpec SCALE = KernelSpec.kernel("scale", "training")
            .pointer("x", REAL, "count").int64("count").float64("alpha")
            .grid("count").build();
    public static final KernelSpec CLAMP = KernelSpec.kernel("clamp", "training")
            .pointer("x", REAL, "count").int64("count").float64("lo").float64("hi")
            .grid("count").build();

    private final Backend backend;

    public KernelTrainingOps(Backend backend) {
        this.backend = backend;
    }

    @Override
    public void softmaxCrossEntropy(DeviceSlice logits, DeviceSlice targets, DeviceSlice rowLoss, int rows, int classes, double gradScale) {
        SOFTMAX_XENT.args(logits.buffer().dtype()).on(backend).pointer(logits).pointer(targets).pointer(rowLoss)
                .int32(rows).int32(classes).float64(gradScale).launch();
    }

    static KernelArgs sgdArgs(Backend backend, DeviceSlice param, DeviceSlice grad, DeviceSlice momentumBuffer, long count, double lr,
                              double momentum, double dampening, double weightDecay, double l1, boolean nesterov, boolean firstStep) {
        return SGD_STEP.args(param.buffer().dtype()).on(backend).pointer(param).pointer(grad).pointer(momentum != 0 ? momentumBuffer : null)
                .int64(count).float64(lr).float64(momentum).float64(dampening).float64(weightDecay).float64(l1)
                .int32(nesterov ? 1 : 0).int32(firstStep ? 1 : 0);
    }

    @Override
    public void sgdStep(DeviceSlice param, DeviceSlice grad, DeviceSlice momentumBuffer, long count, double lr, double momentum,
                        double dampening, double weightDecay, double l1, boolean nesterov, boolean firstStep) {
        sgdArgs(backend, param, grad, momentumBuffer, count, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep).launch();
    }

    static KernelArgs adamArgs(Backend backend, DeviceSlice param, DeviceSlice grad, DeviceSlice expAvg, DeviceSlice expAvgSq, long count,
                               double lr, double beta1, double beta2, double eps, double weightDecay, double l1, long step) {
        if (step < 1) throw new IllegalArgumentException("adamStep step: expected >= 1, got " + step);
        // The bias corrections as TrainingKernels.adam computes them, so that every backend agrees bit for bit in float64.
        double biasCorrection1 = 1 - Math.pow(beta1, step);
        double biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        return ADAM_STEP.args(param.buffer().dtype()).on(backend).pointer(param).pointer(grad).pointer(expAvg).pointer(expAvgSq)
                .int64(count).float64(lr).float64(beta1).float64(beta2).float64(eps).float64(weightDecay).float64(l1)
                .float64(biasCorrection1).float64(biasCorrection2Sqrt);
    }

    @Override
    public void adamStep(DeviceSlice param, DeviceSlice grad, DeviceSlice expAvg, DeviceSlice expAvgSq, long count, double lr,
                         double beta1, double beta2, double eps, double weightDecay, double l1, long step) {
        adamArgs(backend, param, grad, expAvg, expAvgSq, count, lr, beta1, beta2, eps, weightDecay, l1, step).launch();
    }

    @Override
    public void sumOfSquares(DeviceSlice x, long count, DeviceSlice out) {
        SUM_OF_SQUARES.args(x.buffer().dtype()).on(backend).pointer(x).int64(count).pointer(out).launch();
    }

    @Override
    public void scale(DeviceSlice x, long count, double alpha) {
        SCALE.args(x.buffer().dtype()).on(backend).pointer(x).int64(count).float64(alpha).launch();
    }

    @Override
    public void clamp(DeviceSlice x, long count, double min, double max) {
        CLAMP.args(x.buffer().dtype()).on(backend).pointer(x).int64(count).float64(min).float64(max).launch();
    }
}
