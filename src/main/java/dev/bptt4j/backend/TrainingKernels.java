package dev.bptt4j.backend;

/**
 * The element math of the training kernels (loss, optimisers, clipping) over double arrays: the
 * host reference that the CPU backend runs in place and that {@link Backend}'s default methods run
 * after a download, for a backend without its own kernels. Values are computed in double and
 * rounded once to the buffer's dtype when stored, so float64 follows PyTorch's formulas exactly
 * and float32 within an ulp of them.
 *
 * <p>Gradients of parameters are read, never written, by the optimisers (PyTorch's
 * {@code grad.add(param, alpha=wd)} is out of place too); optimiser state is assigned.
 */
public final class TrainingKernels {
    private TrainingKernels() {
    }

    /**
     * Per row r with target t = targets[r]: when t ≥ 0, {@code rowLoss[r] = logsumexp(z_r) − z_r[t]}
     * with the max subtracted first (stable for any finite logits), and the row of logits becomes
     * {@code gradScale·(softmax(z_r) − onehot(t))}; when t &lt; 0 (masked), the row and its loss
     * become 0. A target ≥ classes is an error.
     */
    public static void softmaxCrossEntropy(double[] logits, int logitsOff, int[] targets, int targetsOff,
                                           double[] rowLoss, int rowLossOff, int rows, int classes, double gradScale) {
        for (int r = 0; r < rows; r++) {
            int base = logitsOff + r * classes;
            int t = targets[targetsOff + r];
            if (t < 0) {
                java.util.Arrays.fill(logits, base, base + classes, 0.0);
                rowLoss[rowLossOff + r] = 0.0;
                continue;
            }
            if (t >= classes) throw new IllegalArgumentException("targets[" + r + "]: class " + t + " >= classes " + classes);
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) max = Math.max(max, logits[base + c]);
            double shiftedTarget = logits[base + t] - max;
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                double e = Math.exp(logits[base + c] - max);
                sum += e;
                logits[base + c] = e;
            }
            // loss = log Σ exp(z − max) − (z_t − max): finite even when exp(z_t − max) underflows.
            rowLoss[rowLossOff + r] = Math.log(sum) - shiftedTarget;
            double inv = 1.0 / sum;
            for (int c = 0; c < classes; c++) logits[base + c] = gradScale * (logits[base + c] * inv - (c == t ? 1.0 : 0.0));
        }
    }

    /** The penalty gradient added to the loss gradient: PyTorch's L2 {@code wd·p}, plus L1 {@code l1·sign(p)}. */
    private static double regularised(double g, double p, double weightDecay, double l1) {
        if (weightDecay != 0) g = g + weightDecay * p;
        if (l1 != 0) g = g + l1 * Math.signum(p);
        return g;
    }

    /**
     * {@code torch.optim.SGD}: g ← g + wd·p (+ l1·sign p); with momentum μ ≠ 0,
     * buf ← g on the first step, else μ·buf + (1 − dampening)·g, and g ← g + μ·buf (Nesterov) or buf;
     * then p ← p − lr·g. {@code momentumBuffer} may be null when μ = 0.
     */
    public static void sgd(double[] p, double[] g, double[] buf, int n, double lr, double momentum, double dampening,
                           double weightDecay, double l1, boolean nesterov, boolean firstStep) {
        for (int i = 0; i < n; i++) {
            double d = regularised(g[i], p[i], weightDecay, l1);
            if (momentum != 0) {
                double b = firstStep ? d : momentum * buf[i] + (1 - dampening) * d;
                buf[i] = b;
                d = nesterov ? d + momentum * b : b;
            }
            p[i] = p[i] - lr * d;
        }
    }

    /**
     * {@code torch.optim.Adam} (amsgrad off): g ← g + wd·p (+ l1·sign p); m ← β1·m + (1−β1)·g;
     * v ← β2·v + (1−β2)·g²; p ← p − (lr / (1 − β1^step))·m / (√v / √(1 − β2^step) + eps), with
     * {@code step} counted from 1 and eps outside the square root.
     */
    public static void adam(double[] p, double[] g, double[] m, double[] v, int n, double lr, double beta1, double beta2,
                            double eps, double weightDecay, double l1, long step) {
        adam(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, l1, 1 - Math.pow(beta1, step), Math.sqrt(1 - Math.pow(beta2, step)));
    }

    /** {@link #adam} with the bias corrections {@code 1 − β1^step} and {@code √(1 − β2^step)} given. */
    public static void adam(double[] p, double[] g, double[] m, double[] v, int n, double lr, double beta1, double beta2,
                            double eps, double weightDecay, double l1, double biasCorrection1, double biasCorrection2Sqrt) {
        double stepSize = lr / biasCorrection1;
        for (int i = 0; i < n; i++) {
            double d = regularised(g[i], p[i], weightDecay, l1);
            m[i] = beta1 * m[i] + (1 - beta1) * d;
            v[i] = beta2 * v[i] + (1 - beta2) * d * d;
            double denom = Math.sqrt(v[i]) / biasCorrection2Sqrt + eps;
            p[i] = p[i] - stepSize * (m[i] / denom);
        }
    }

    /** Σ x², accumulated in double. */
    public static double sumOfSquares(double[] x, int off, int n) {
        double s = 0;
        for (int i = off; i < off + n; i++) s += x[i] * x[i];
        return s;
    }

    /** x ← alpha·x. */
    public static void scale(double[] x, int off, int n, double alpha) {
        for (int i = off; i < off + n; i++) x[i] = alpha * x[i];
    }

    /** x ← min(max(x, lo), hi); NaN stays NaN (as {@code torch.clamp}). */
    public static void clamp(double[] x, int off, int n, double lo, double hi) {
        for (int i = off; i < off + n; i++) {
            double v = x[i];
            if (v < lo) x[i] = lo;
            else if (v > hi) x[i] = hi;
        }
    }
}
