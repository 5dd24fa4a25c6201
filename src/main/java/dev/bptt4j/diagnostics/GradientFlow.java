package dev.bptt4j.diagnostics;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.SoftmaxHead;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * How far gradients travel back in time. For one batch, {@code norms[t][k] = ‖∂L_t/∂h_k‖} (k ≤ t,
 * Frobenius norm over the batch) for the top layer's forward direction, where L_t is the loss at
 * step t alone: for each t, one backward with dy nonzero only at step t, observing the gradient
 * carried through the recurrence at every step ({@link Rnn#setCarryObserver}). The diagonal is
 * ‖dy_t‖ itself.
 *
 * <p>The summary is the mean of log(‖∂L_t/∂h_{t−ℓ}‖ / ‖∂L_t/∂h_t‖) over t for each lag ℓ, and its
 * least-squares slope, reported as a factor per step: below {@value #VANISHING} the gradient
 * vanishes (a tenth of it is lost at every step), above {@value #EXPLODING} it explodes.
 *
 * <p>This costs T forward and backward passes with a host read per step: a diagnostic, not part
 * of training. The model's gradients are saved before and restored after.
 */
public final class GradientFlow {
    public static final double VANISHING = 0.9;
    public static final double EXPLODING = 1.1;

    public enum Verdict { VANISHING, HEALTHY, EXPLODING }

    /**
     * @param norms          [t][k] = ‖∂L_t/∂h_k‖ for k ≤ t, NaN above the diagonal
     * @param meanLogByLag   [ℓ] = mean over t of ln(norms[t][t−ℓ] / norms[t][t])
     * @param factorPerStep  exp of the fitted slope of meanLogByLag
     */
    public record Report(double[][] norms, double[] meanLogByLag, double factorPerStep, Verdict verdict) {
        /** One line: verdict, factor per step, and how much of the gradient is left after T−1 steps. */
        public String summary() {
            int lags = meanLogByLag.length;
            return String.format(Locale.ROOT, "gradient flow: %s (x%.3f per step; after %d steps %.2e of the local gradient remains)",
                    verdict.name().toLowerCase(Locale.ROOT), factorPerStep, lags - 1, Math.exp(meanLogByLag[lags - 1]));
        }

        /** CSV with header {@code t,k,lag,norm}, one row per k ≤ t. */
        public void writeCsv(Path path) throws IOException {
            StringBuilder sb = new StringBuilder("t,k,lag,norm\n");
            for (int t = 0; t < norms.length; t++) {
                for (int k = 0; k <= t; k++) sb.append(t).append(',').append(k).append(',').append(t - k).append(',').append(norms[t][k]).append('\n');
            }
            Files.writeString(path, sb.toString());
        }
    }

    private GradientFlow() {
    }

    /**
     * The gradient flow of a loss whose gradient with respect to the top layer's output is
     * {@code dy} (T, B, D·H), e.g. from {@link #lossGradient}. x is (T, B, I), all lengths T.
     */
    public static Report measure(Rnn rnn, Tensor x, States initial, Tensor dy) {
        int steps = x.dim(0), batch = x.dim(1);
        int width = dy.size() / (steps * batch), top = rnn.config().numLayers() - 1, hidden = rnn.cell().outputSize();
        double[][] norms = new double[steps][steps];
        for (double[] row : norms) java.util.Arrays.fill(row, Double.NaN);
        Map<String, Tensor> saved = rnn.gradients();
        try {
            for (int t = 0; t < steps; t++) {
                Tensor dyAtT = Tensor.zeros(dy.dtype(), dy.shape());
                double local = 0;
                for (int b = 0; b < batch; b++) {
                    for (int c = 0; c < hidden; c++) { // forward direction's columns only
                        int i = (t * batch + b) * width + c;
                        dyAtT.setDouble(i, dy.getDouble(i));
                        local += dy.getDouble(i) * dy.getDouble(i);
                    }
                }
                norms[t][t] = Math.sqrt(local);
                final int target = t;
                rnn.setCarryObserver((layer, direction, tau, carry) -> {
                    int k = tau - 1;
                    if (layer == top && direction == 0 && k >= 0 && k < target) norms[target][k] = carry.norm();
                });
                try (Rnn.Pass pass = rnn.forward(x, initial, null)) {
                    pass.backward(dyAtT, States.ZEROS, false);
                } finally {
                    rnn.setCarryObserver(null);
                }
            }
        } finally {
            Map<String, DeviceBuffer> grads = rnn.gradientBuffers();
            for (Map.Entry<String, Tensor> e : saved.entrySet()) rnn.backend().upload(e.getValue(), DeviceSlice.of(grads.get(e.getKey())));
        }
        return summarise(norms);
    }

    /** dL/dy (T, B, H) of the head's loss for x and targets, without touching any gradient. */
    public static Tensor lossGradient(Rnn rnn, SoftmaxHead head, Tensor x, States initial, Tensor targets) {
        int steps = x.dim(0), batch = x.dim(1), width = head.hiddenSize();
        Backend backend = rnn.backend();
        Map<String, Tensor> savedHead = Map.of("weight", head.gradient("weight"), "bias", head.gradient("bias"));
        try (Rnn.Pass pass = rnn.forwardOnDevice(x, initial, null)) {
            head.forward(pass.outputOnDevice(), steps * batch, targets, batch, dev.bptt4j.train.Reduction.MEAN);
            return backend.download(head.backward(), steps, batch, width);
        } finally {
            for (Map.Entry<String, Tensor> e : savedHead.entrySet()) backend.upload(e.getValue(), DeviceSlice.of(head.gradientBuffers().get(e.getKey())));
        }
    }

    /** Summarises a norms matrix (exposed for tests and for matrices measured elsewhere). */
    public static Report summarise(double[][] norms) {
        int steps = norms.length;
        double[] meanLog = new double[steps];
        for (int lag = 0; lag < steps; lag++) {
            double s = 0;
            int n = 0;
            for (int t = lag; t < steps; t++) {
                double local = norms[t][t], far = norms[t][t - lag];
                if (!(local > 0)) continue; // a step with no loss says nothing
                s += Math.log(Math.max(far, Double.MIN_NORMAL) / local);
                n++;
            }
            meanLog[lag] = n == 0 ? 0 : s / n;
        }
        // Least-squares slope through the origin (lag 0 is 0 by definition).
        double num = 0, den = 0;
        for (int lag = 1; lag < steps; lag++) {
            num += lag * meanLog[lag];
            den += (double) lag * lag;
        }
        double factor = den == 0 ? 1 : Math.exp(num / den);
        Verdict v = factor < VANISHING ? Verdict.VANISHING : factor > EXPLODING ? Verdict.EXPLODING : Verdict.HEALTHY;
        return new Report(norms, meanLog, factor, v);
    }

}
