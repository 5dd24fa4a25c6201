package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.TrainingKernels;
import dev.bptt4j.tensor.DType;

/**
 * The CPU twins of the training kernels (cuda/training.cu): each copies its slice into double
 * scratch, runs {@link TrainingKernels} there and copies the result back rounded to the buffer's
 * dtype. Scratch only grows, so a warmed-up training step allocates nothing.
 */
final class CpuTraining {
    private double[] s0 = new double[0], s1 = new double[0], s2 = new double[0], s3 = new double[0];
    private int[] targets = new int[0];

    private static double[] grow(double[] a, int n) {
        return a.length >= n ? a : new double[n];
    }

    private static void load(CpuBuffer b, int off, double[] into, int n) {
        if (b.dtype == DType.F64) {
            b.doubles.get(off, into, 0, n);
        } else {
            for (int i = 0; i < n; i++) into[i] = b.floats.get(off + i);
        }
    }

    private static void store(CpuBuffer b, int off, double[] from, int n) {
        if (b.dtype == DType.F64) {
            b.doubles.put(off, from, 0, n);
        } else {
            for (int i = 0; i < n; i++) b.floats.put(off + i, (float) from[i]);
        }
    }

    void softmaxCrossEntropy(CpuBuffer logits, int logitsOff, CpuBuffer target, int targetOff, CpuBuffer rowLoss,
                             int rowLossOff, int rows, int classes, double gradScale) {
        int n = rows * classes;
        double[] z = s0 = grow(s0, n), loss = s1 = grow(s1, rows);
        if (targets.length < rows) targets = new int[rows];
        target.ints.get(targetOff, targets, 0, rows);
        load(logits, logitsOff, z, n);
        TrainingKernels.softmaxCrossEntropy(z, 0, targets, 0, loss, 0, rows, classes, gradScale);
        store(logits, logitsOff, z, n);
        store(rowLoss, rowLossOff, loss, rows);
    }

    void sgd(CpuBuffer param, int paramOff, CpuBuffer grad, int gradOff, CpuBuffer momentumBuffer, int bufferOff, int n,
             double lr, double momentum, double dampening, double weightDecay, double l1, boolean nesterov, boolean firstStep) {
        double[] p = s0 = grow(s0, n), g = s1 = grow(s1, n), b = s2 = grow(s2, n);
        load(param, paramOff, p, n);
        load(grad, gradOff, g, n);
        if (momentum != 0) load(momentumBuffer, bufferOff, b, n);
        TrainingKernels.sgd(p, g, b, n, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep);
        store(param, paramOff, p, n);
        if (momentum != 0) store(momentumBuffer, bufferOff, b, n);
    }

    /** Adam with the bias corrections given, as the kernel takes them (see KernelTrainingOps). */
    void adam(CpuBuffer param, int paramOff, CpuBuffer grad, int gradOff, CpuBuffer expAvg, int avgOff, CpuBuffer expAvgSq, int sqOff,
              int n, double lr, double beta1, double beta2, double eps, double weightDecay, double l1,
              double biasCorrection1, double biasCorrection2Sqrt) {
        double[] p = s0 = grow(s0, n), g = s1 = grow(s1, n), m = s2 = grow(s2, n), v = s3 = grow(s3, n);
        load(param, paramOff, p, n);
        load(grad, gradOff, g, n);
        load(expAvg, avgOff, m, n);
        load(expAvgSq, sqOff, v, n);
        TrainingKernels.adam(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, l1, biasCorrection1, biasCorrection2Sqrt);
        store(param, paramOff, p, n);
        store(expAvg, avgOff, m, n);
        store(expAvgSq, sqOff, v, n);
    }

    double sumOfSquares(CpuBuffer x, int off, int n) {
        double[] v = s0 = grow(s0, n);
        load(x, off, v, n);
        return TrainingKernels.sumOfSquares(v, 0, n);
    }

    void scale(CpuBuffer x, int off, int n, double alpha) {
        double[] v = s0 = grow(s0, n);
        load(x, off, v, n);
        TrainingKernels.scale(v, 0, n, alpha);
        store(x, off, v, n);
    }

    void clamp(CpuBuffer x, int off, int n, double lo, double hi) {
        double[] v = s0 = grow(s0, n);
        load(x, off, v, n);
        TrainingKernels.clamp(v, 0, n, lo, hi);
        store(x, off, v, n);
    }
}
