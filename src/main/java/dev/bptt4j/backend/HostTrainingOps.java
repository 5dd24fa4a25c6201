package dev.bptt4j.backend;

import dev.bptt4j.tensor.Tensor;

/**
 * {@link TrainingOps} for a backend without its own kernels: each op downloads its operands, runs
 * {@link TrainingKernels} on the host and uploads the result rounded to the buffer's dtype. The
 * checks are the kernels' contracts ({@link KernelTrainingOps}), so both fail alike.
 */
public final class HostTrainingOps implements TrainingOps {
    private final Backend backend;

    public HostTrainingOps(Backend backend) {
        this.backend = backend;
    }

    private double[] read(DeviceSlice s, int n) {
        return backend.download(s, n).toDoubleArray();
    }

    private void write(double[] values, DeviceSlice s, int n) {
        Tensor t = Tensor.of(values, n);
        backend.upload(s.buffer().dtype() == t.dtype() ? t : t.to(s.buffer().dtype()), s);
    }

    @Override
    public void softmaxCrossEntropy(DeviceSlice logits, DeviceSlice targets, DeviceSlice rowLoss, int rows, int classes, double gradScale) {
        KernelTrainingOps.SOFTMAX_XENT.args(logits.buffer().dtype()).on(backend).pointer(logits).pointer(targets).pointer(rowLoss)
                .int32(rows).int32(classes).float64(gradScale).check();
        double[] z = read(logits, rows * classes), loss = new double[rows];
        int[] t = backend.download(targets, rows).i32();
        TrainingKernels.softmaxCrossEntropy(z, 0, t, 0, loss, 0, rows, classes, gradScale);
        write(z, logits, rows * classes);
        write(loss, rowLoss, rows);
    }

    @Override
    public void sgdStep(DeviceSlice param, DeviceSlice grad, DeviceSlice momentumBuffer, long count, double lr, double momentum,
                        double dampening, double weightDecay, double l1, boolean nesterov, boolean firstStep) {
        KernelTrainingOps.sgdArgs(backend, param, grad, momentumBuffer, count, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep)
                .check();
        int n = Math.toIntExact(count);
        double[] p = read(param, n), g = read(grad, n), b = momentum != 0 ? read(momentumBuffer, n) : null;
        TrainingKernels.sgd(p, g, b, n, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep);
        write(p, param, n);
        if (b != null) write(b, momentumBuffer, n);
    }

    @Override
    public void adamStep(DeviceSlice param, DeviceSlice grad, DeviceSlice expAvg, DeviceSlice expAvgSq, long count, double lr,
                         double beta1, double beta2, double eps, double weightDecay, double l1, long step) {
        KernelTrainingOps.adamArgs(backend, param, grad, expAvg, expAvgSq, count, lr, beta1, beta2, eps, weightDecay, l1, step).check();
        int n = Math.toIntExact(count);
        double[] p = read(param, n), g = read(grad, n), m = read(expAvg, n), v = read(expAvgSq, n);
        TrainingKernels.adam(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, l1, step);
        write(p, param, n);
        write(m, expAvg, n);
        write(v, expAvgSq, n);
    }

    @Override
    public void sumOfSquares(DeviceSlice x, long count, DeviceSlice out) {
        KernelTrainingOps.SUM_OF_SQUARES.args(x.buffer().dtype()).on(backend).pointer(x).int64(count).pointer(out).check();
        int n = Math.toIntExact(count);
        double s = TrainingKernels.sumOfSquares(read(x, n), 0, n);
        write(new double[]{read(out, 1)[0] + s}, out, 1);
    }

    @Override
    public void scale(DeviceSlice x, long count, double alpha) {
        KernelTrainingOps.SCALE.args(x.buffer().dtype()).on(backend).pointer(x).int64(count).float64(alpha).check();
        int n = Math.toIntExact(count);
        double[] v = read(x, n);
        TrainingKernels.scale(v, 0, n, alpha);
        write(v, x, n);
    }

    @Override
    public void clamp(DeviceSlice x, long count, double min, double max) {
        KernelTrainingOps.CLAMP.args(x.buffer().dtype()).on(backend).pointer(x).int64(count).float64(min).float64(max).check();
        int n = Math.toIntExact(count);
        double[] v = read(x, n);
        TrainingKernels.clamp(v, 0, n, min, max);
        write(v, x, n);
    }
}
