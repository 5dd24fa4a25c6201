package dev.bptt4j.diagnostics;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;
import dev.bptt4j.model.ParameterSpec;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TruncatedBptt;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How far gradients travel back in time, in every layer and direction. For one batch and each
 * layer l and direction d, {@code norms[t][k] = ‖∂L_t/∂h_k‖} (k ≤ t, Frobenius norm over the
 * batch), where L_t is the loss at step t alone (dy nonzero only at step t, every column) and h_k
 * is that layer-direction's hidden state: the whole derivative, through the layer's own recurrence
 * and through the layers above.
 *
 * <p>Steps are the direction's own: for the forward direction t and k are time steps; for the
 * reverse direction they count from the end of the sequence, index i meaning time step T−1−i (the
 * order in which the reverse direction reads the input). Either way the loss at t reaches the
 * states k ≤ t through the recurrence, and the lag is t − k. (In the top layer ∂L_t/∂h_k is zero
 * for k > t; below a bidirectional layer it is not, as the layer above reads both ways, and those
 * entries are left out.)
 *
 * <p>Each layer-direction is summarised as the mean of log(‖∂L_t/∂h_{t−ℓ}‖ / ‖∂L_t/∂h_t‖) over t
 * for each lag ℓ, and its least-squares slope, reported as a factor per step: below
 * {@value #VANISHING} the gradient vanishes (a tenth of it is lost at every step), above
 * {@value #EXPLODING} it explodes. The report's overall figures ({@link Report#summary()},
 * {@link Report#verdict()}, …) are the top layer's forward direction's, where the loss enters.
 *
 * <p>How: the stack is run as one single-layer copy per layer (the model itself is not run, so
 * its gradients are untouched), which makes each layer's input and the gradient reaching its
 * output visible. For each t, one backward per layer from the top with dy nonzero at step t
 * only: ∂L_t/∂h_k is the gradient carried back through the recurrence to h_k
 * ({@link Rnn#setCarryObserver}) plus the gradient arriving at the layer's output at step k (dy for
 * the top layer, the input gradient of the layer above for the others). This costs T forward and
 * backward passes with a host read per step: a diagnostic, not part of training.
 */
public final class GradientFlow {
    public static final double VANISHING = 0.9;
    public static final double EXPLODING = 1.1;

    public enum Verdict { VANISHING, HEALTHY, EXPLODING }

    /**
     * One layer-direction's gradient flow.
     *
     * @param layer          0 for the layer that reads x
     * @param direction      0 forward, 1 reverse (whose t and k count from the sequence's end)
     * @param norms          [t][k] = ‖∂L_t/∂h_k‖ for k ≤ t, NaN above the diagonal
     * @param meanLogByLag   [ℓ] = mean over t of ln(norms[t][t−ℓ] / norms[t][t])
     * @param factorPerStep  exp of the fitted slope of meanLogByLag
     */
    public record Flow(int layer, int direction, double[][] norms, double[] meanLogByLag, double factorPerStep, Verdict verdict) {
        /** "layer 0 forward", "layer 1 reverse". */
        public String name() {
            return "layer " + layer + " " + (direction == 0 ? "forward" : "reverse");
        }

        /** The verdict, factor per step, and how much of the gradient is left after T−1 steps. */
        public String verdictLine() {
            int lags = meanLogByLag.length;
            return String.format(Locale.ROOT, "%s (x%.3f per step; after %d steps %.2e of the local gradient remains)",
                    verdict.name().toLowerCase(Locale.ROOT), factorPerStep, lags - 1, Math.exp(meanLogByLag[lags - 1]));
        }
    }

    /**
     * Every layer-direction's flow, in the order (layer 0 forward, layer 0 reverse, layer 1 forward,
     * …), i.e. {@code flows.get(layer·directions + direction)}. The accessors {@link #norms()},
     * {@link #meanLogByLag()}, {@link #factorPerStep()}, {@link #verdict()} and {@link #summary()}
     * are the overall figures: the top layer's forward direction's.
     */
    public record Report(int layers, int directions, List<Flow> flows) {
        public Report {
            if (layers < 1 || directions < 1 || directions > 2) {
                throw new IllegalArgumentException("report: expected layers >= 1 and directions 1 or 2, got " + layers + " and " + directions);
            }
            flows = List.copyOf(flows);
            if (flows.size() != layers * directions) {
                throw new IllegalArgumentException("flows: expected " + layers * directions + " (layers x directions), got " + flows.size());
            }
            for (int i = 0; i < flows.size(); i++) {
                Flow f = flows.get(i);
                if (f.layer() != i / directions || f.direction() != i % directions) {
                    throw new IllegalArgumentException("flows[" + i + "]: expected layer " + i / directions + " direction " + i % directions
                            + ", got layer " + f.layer() + " direction " + f.direction());
                }
            }
        }

        /** The flow of one layer and direction (0 forward, 1 reverse). */
        public Flow flow(int layer, int direction) {
            if (layer < 0 || layer >= layers || direction < 0 || direction >= directions) {
                throw new IllegalArgumentException("flow: no layer " + layer + " direction " + direction + " in a report of "
                        + layers + " layer(s) x " + directions + " direction(s)");
            }
            return flows.get(layer * directions + direction);
        }

        /** The top layer's forward direction: the overall figures. */
        public Flow top() {
            return flow(layers - 1, 0);
        }

        /** The top forward direction's [t][k] = ‖∂L_t/∂h_k‖. */
        public double[][] norms() {
            return top().norms();
        }

        public double[] meanLogByLag() {
            return top().meanLogByLag();
        }

        public double factorPerStep() {
            return top().factorPerStep();
        }

        public Verdict verdict() {
            return top().verdict();
        }

        /** One line for the top forward direction: {@code gradient flow: vanishing (x0.554 per step; after …)}. */
        public String summary() {
            return "gradient flow: " + top().verdictLine();
        }

        /**
         * One line per layer-direction ({@code layer 0 reverse: vanishing (x0.554 per step; …)}) when
         * there is more than one; empty for a one-layer, one-direction stack, whose line is {@link #summary()}.
         */
        public List<String> layerSummaries() {
            if (flows.size() == 1) return List.of();
            List<String> out = new ArrayList<>();
            for (Flow f : flows) out.add(f.name() + ": " + f.verdictLine());
            return out;
        }

        /**
         * CSV with header {@code layer,direction,t,k,lag,norm}: one row per layer, direction (0 forward,
         * 1 reverse) and k ≤ t, lag = t − k, norm = ‖∂L_t/∂h_k‖; the reverse direction's t and k count
         * from the sequence's end (step T−1−t and T−1−k).
         */
        public void writeCsv(Path path) throws IOException {
            StringBuilder sb = new StringBuilder("layer,direction,t,k,lag,norm\n");
            for (Flow f : flows) {
                double[][] n = f.norms();
                for (int t = 0; t < n.length; t++) {
                    for (int k = 0; k <= t; k++) {
                        sb.append(f.layer()).append(',').append(f.direction()).append(',').append(t).append(',').append(k).append(',')
                                .append(t - k).append(',').append(n[t][k]).append('\n');
                    }
                }
            }
            Files.writeString(path, sb.toString());
        }
    }

    private GradientFlow() {
    }

    /**
     * The gradient flow of every layer and direction for a loss whose gradient with respect to the
     * top layer's output is {@code dy} (T, B, D·H), e.g. from {@link #lossGradient}. x is (T, B, I),
     * all lengths T; {@code initial} as for {@link Rnn#forward} (null for zeros). For a batch-first
     * stack x and dy are (B, T, ·), as its forward takes them. No dropout: the flow of the
     * evaluation-mode model.
     */
    public static Report measure(Rnn rnn, Tensor x, States initial, Tensor dy) {
        RnnConfig config = rnn.config();
        String layout = config.batchFirst() ? "(B, T, I)" : "(T, B, I)";
        if (x == null || x.rank() != 3) throw new IllegalArgumentException("x: expected " + layout + ", got " + (x == null ? null : Arrays.toString(x.shape())));
        if (config.batchFirst()) {
            // The single-layer copies run time-major.
            x = x.swapLeadingDims();
            if (dy != null && dy.rank() == 3) dy = dy.swapLeadingDims();
        }
        int steps = x.dim(0), batch = x.dim(1), layers = config.numLayers(), dirs = config.directions();
        int hidden = rnn.cell().outputSize(), width = dirs * hidden;
        if (dy == null || !Arrays.equals(dy.shape(), new int[]{steps, batch, width}) || dy.dtype() != config.dtype()) {
            throw new IllegalArgumentException("dy: expected " + config.dtype() + " (" + steps + ", " + batch + ", " + width + "), got " + dy);
        }
        double[][][][] norms = new double[layers][dirs][steps][steps];
        for (double[][][] l : norms) for (double[][] d : l) for (double[] row : d) Arrays.fill(row, Double.NaN);
        Rnn[] stack = new Rnn[layers];
        try {
            States[] init = new States[layers];
            Tensor[] inputs = new Tensor[layers];
            inputs[0] = x;
            for (int l = 0; l < layers; l++) {
                stack[l] = layerCopy(rnn, l);
                init[l] = layerStates(initial, l, dirs);
                if (l + 1 < layers) {
                    try (Rnn.Pass pass = stack[l].forward(inputs[l], init[l], null)) {
                        inputs[l + 1] = pass.output();
                    }
                }
            }
            int rowBlock = batch * width;
            for (int t = 0; t < steps; t++) {
                // dL_t/d(output of the layer being visited): dy at step t for the top layer.
                Tensor g = Tensor.zeros(dy.dtype(), steps, batch, width);
                for (int i = t * rowBlock; i < (t + 1) * rowBlock; i++) g.setDouble(i, dy.getDouble(i));
                for (int l = layers - 1; l >= 0; l--) {
                    double[][][] carries = new double[dirs][steps][]; // [d][κ]: dL_t/dh_κ through the recurrence (null: none)
                    stack[l].setCarryObserver((layer, direction, tau, carry) -> {
                        if (tau >= 1) carries[direction][tau - 1] = carry.toDoubleArray();
                    });
                    Tensor below;
                    try (Rnn.Pass pass = stack[l].forward(inputs[l], init[l], null)) {
                        below = pass.backward(g, States.ZEROS, l > 0).input();
                    } finally {
                        stack[l].setCarryObserver(null);
                    }
                    for (int d = 0; d < dirs; d++) {
                        int lossStep = d == 0 ? t : steps - 1 - t;
                        for (int k = 0; k <= lossStep; k++) {
                            int step = d == 0 ? k : steps - 1 - k; // the time step of the direction's step k
                            double[] carry = carries[d][k];
                            double s = 0;
                            for (int b = 0; b < batch; b++) {
                                for (int c = 0; c < hidden; c++) {
                                    double v = g.getDouble((step * batch + b) * width + d * hidden + c) + (carry == null ? 0 : carry[b * hidden + c]);
                                    s += v * v;
                                }
                            }
                            norms[l][d][lossStep][k] = Math.sqrt(s);
                        }
                    }
                    g = below;
                }
            }
        } finally {
            for (Rnn r : stack) if (r != null) r.close();
        }
        List<Flow> flows = new ArrayList<>();
        for (int l = 0; l < layers; l++) for (int d = 0; d < dirs; d++) flows.add(flow(l, d, norms[l][d]));
        return new Report(layers, dirs, flows);
    }

    /** Layer l of the stack as a one-layer stack of its own (same cell, directions, dtype and parameter values). */
    private static Rnn layerCopy(Rnn rnn, int layer) {
        RnnConfig c = rnn.config();
        RnnConfig one = RnnConfig.of(c.mode(), c.layerInputSize(layer), c.hiddenSize()).withBidirectional(c.bidirectional())
                .withBias(c.bias()).withDType(c.dtype()).withResidual(c.residual()).withProjection(c.projSize());
        Rnn copy = new Rnn(one, rnn.backend());
        try {
            for (ParameterSpec s : c.parameters()) {
                if (s.layer() != layer) continue;
                String suffix = RnnConfig.suffix(layer, s.direction());
                String base = s.name().substring(0, s.name().length() - suffix.length());
                copy.setParameter(base + RnnConfig.suffix(0, s.direction()), rnn.parameter(s.name()));
            }
            return copy;
        } catch (RuntimeException e) {
            copy.close();
            throw e;
        }
    }

    /** Rows [l·D, (l+1)·D) of every initial state: layer l's. */
    private static States layerStates(States initial, int layer, int dirs) {
        if (initial == null || initial.isEmpty()) return States.ZEROS;
        Map<String, Tensor> out = new LinkedHashMap<>();
        initial.asMap().forEach((name, t) -> out.put(name, TruncatedBptt.timeSlice(t, layer * dirs, (layer + 1) * dirs)));
        return States.of(out);
    }

    /** dL/dy (T, B, H) of the head's loss for x and targets, without touching any gradient. */
    public static Tensor lossGradient(Rnn rnn, SoftmaxHead head, Tensor x, States initial, Tensor targets) {
        boolean batchFirst = rnn.config().batchFirst();
        int steps = x.dim(batchFirst ? 1 : 0), batch = x.dim(batchFirst ? 0 : 1), width = head.hiddenSize();
        Backend backend = rnn.backend();
        Map<String, Tensor> savedHead = Map.of("weight", head.gradient("weight"), "bias", head.gradient("bias"));
        try (Rnn.Pass pass = rnn.forwardOnDevice(x, initial, null)) {
            head.forward(pass.outputOnDevice(), steps * batch, targets, batch, dev.bptt4j.train.Reduction.MEAN);
            return batchFirst ? backend.download(head.backward(), batch, steps, width) : backend.download(head.backward(), steps, batch, width);
        } finally {
            for (Map.Entry<String, Tensor> e : savedHead.entrySet()) backend.upload(e.getValue(), DeviceSlice.of(head.gradientBuffers().get(e.getKey())));
        }
    }

    /** Summarises one norms matrix as a one-layer, forward-only report (for tests and for matrices measured elsewhere). */
    public static Report summarise(double[][] norms) {
        return new Report(1, 1, List.of(flow(0, 0, norms)));
    }

    /** Summarises a norms matrix ([t][k] for k ≤ t) as the flow of one layer and direction. */
    public static Flow flow(int layer, int direction, double[][] norms) {
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
        return new Flow(layer, direction, norms, meanLog, factor, v);
    }
}
