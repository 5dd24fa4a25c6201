package dev.bptt4j.diagnostics;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.cell.States;
import dev.bptt4j.train.TruncatedBptt;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.SoftmaxHead;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradient flow: a tanh RNN with small recurrent weights vanishes; an identity-initialised residual
 * cell does not; every layer's and direction's ‖∂L_t/∂h_k‖ is the derivative a pass restarted from
 * the states at step k gives, and the reverse direction's is the forward one's on reversed sequences.
 */
class GradientFlowTest {
    private static final int STEPS = 20, BATCH = 4, INPUT = 3, HIDDEN = 8, CLASSES = 5;

    private static GradientFlow.Report measure(CpuBackend backend, boolean residual, double recurrentScale) {
        SplittableRandom r = new SplittableRandom(9);
        Tensor x = Tensor.zeros(DType.F64, STEPS, BATCH, INPUT);
        for (int i = 0; i < x.size(); i++) x.setDouble(i, r.nextDouble() * 2 - 1);
        int[] y = new int[STEPS * BATCH];
        for (int i = 0; i < y.length; i++) y[i] = r.nextInt(CLASSES);
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, INPUT, HIDDEN).withResidual(residual), backend);
             SoftmaxHead head = new SoftmaxHead(backend, HIDDEN, CLASSES, DType.F64)) {
            rnn.initialize(1);
            head.initialize(2);
            Tensor whh = rnn.parameter("weight_hh_l0");
            for (int i = 0; i < whh.size(); i++) whh.setDouble(i, whh.getDouble(i) * recurrentScale);
            rnn.setParameter("weight_hh_l0", whh);
            Tensor before = rnn.gradient("weight_hh_l0");
            Tensor dy = GradientFlow.lossGradient(rnn, head, x, null, Tensor.ofInts(y, STEPS, BATCH));
            GradientFlow.Report report = GradientFlow.measure(rnn, x, null, dy);
            assertEquals(0.0, rnn.gradient("weight_hh_l0").relativeError(before), "gradients restored");
            assertEquals(0.0, head.gradient("weight").norm(), "head gradients untouched");
            return report;
        }
    }

    @Test
    void smallTanhVanishesResidualDoesNot() throws Exception {
        try (CpuBackend backend = new CpuBackend(1)) {
            GradientFlow.Report tanh = measure(backend, false, 0.3);
            GradientFlow.Report residual = measure(backend, true, 0.0);
            System.out.println("tanh, W_hh x0.3:   " + tanh.summary());
            System.out.println("residual, W_hh=0: " + residual.summary());
            assertEquals(GradientFlow.Verdict.VANISHING, tanh.verdict());
            assertTrue(tanh.factorPerStep() < 0.5, "tanh factor " + tanh.factorPerStep());
            assertEquals(GradientFlow.Verdict.HEALTHY, residual.verdict());
            assertEquals(1.0, residual.factorPerStep(), 1e-9, "identity path: the gradient is carried unchanged");
            for (int t = 0; t < STEPS; t++) {
                assertTrue(Double.isNaN(tanh.norms()[t][Math.min(STEPS - 1, t + 1)]) || t == STEPS - 1, "above the diagonal is NaN");
                assertTrue(tanh.norms()[t][0] >= 0);
            }
            Path dir = Path.of("target", "test-figures");
            Files.createDirectories(dir);
            Map<String, GradientFlow.Report> both = new LinkedHashMap<>();
            both.put("tanh", tanh);
            both.put("residual", residual);
            Plots.gradientFlow(dir.resolve("gradient-flow.png"), both);
            tanh.writeCsv(dir.resolve("gradient-flow-tanh.csv"));
            assertTrue(Files.size(dir.resolve("gradient-flow.png")) > 1000);
            assertTrue(Files.readAllLines(dir.resolve("gradient-flow-tanh.csv")).size() == 1 + STEPS * (STEPS + 1) / 2);
        }
    }

    private static Tensor random(SplittableRandom r, int... shape) {
        Tensor t = Tensor.zeros(DType.F64, shape);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble() * 2 - 1);
        return t;
    }

    /**
     * Stacks of 3 tanh layers and of 2 LSTM layers, against a reference that knows nothing of
     * carries or layer copies: a pass over steps k+1..T−1 restarted from every state at step k, with
     * dy at step t only, gives dL/dh0 = the derivative with the other layers' states at k held
     * fixed. For the top layer that is ∂L_t/∂h_k itself; below it, h_k also feeds the layer above
     * at step k, so (tanh) ∂L_t/∂h^l_k = dh0^l + W_ih^{l+1}ᵀ ((1 − (h^{l+1}_k)²) ⊙ ∂L_t/∂h^{l+1}_k).
     */
    @ParameterizedTest
    @EnumSource(value = RnnMode.class, names = {"RNN_TANH", "LSTM"})
    void everyLayerEqualsARestartedPass(RnnMode mode) {
        int steps = 7, batch = 3, input = 2, hidden = 5, layers = mode == RnnMode.LSTM ? 2 : 3;
        boolean tanh = mode == RnnMode.RNN_TANH;
        SplittableRandom r = new SplittableRandom(4);
        Tensor x = random(r, steps, batch, input), dy = random(r, steps, batch, hidden);
        try (CpuBackend backend = new CpuBackend(1);
             Rnn rnn = new Rnn(RnnConfig.of(mode, input, hidden).withLayers(layers), backend)) {
            rnn.initialize(3);
            States initial = tanh ? States.hidden(random(r, layers, batch, hidden))
                    : States.of("h", random(r, layers, batch, hidden), "c", random(r, layers, batch, hidden));
            GradientFlow.Report report = GradientFlow.measure(rnn, x, initial, dy);
            assertEquals(layers, report.layers());
            assertEquals(1, report.directions());
            assertEquals(layers, report.flows().size());
            double worst = 0;
            int checked = 0;
            for (int k = 0; k + 1 < steps; k++) {
                States atK;
                try (Rnn.Pass head = rnn.forward(TruncatedBptt.timeSlice(x, 0, k + 1), initial, null)) {
                    atK = head.finalStates();
                }
                for (int t = k + 1; t < steps; t++) {
                    Tensor dyT = Tensor.zeros(DType.F64, steps - k - 1, batch, hidden);
                    for (int i = 0; i < batch * hidden; i++) dyT.setDouble((t - k - 1) * batch * hidden + i, dy.getDouble(t * batch * hidden + i));
                    double[] dh0;
                    try (Rnn.Pass tail = rnn.forward(TruncatedBptt.timeSlice(x, k + 1, steps), atK, null)) {
                        dh0 = tail.backward(dyT, States.ZEROS, false).initialStates().hidden().toDoubleArray();
                    }
                    // Whole derivatives from the top down: the top's is dh0's; below, add the path through the layer above at k.
                    double[][] whole = new double[layers][];
                    for (int l = layers - 1; l >= 0; l--) {
                        if (l < layers - 1 && !tanh) break; // only the top layer has this simple reference for the LSTM
                        whole[l] = java.util.Arrays.copyOfRange(dh0, l * batch * hidden, (l + 1) * batch * hidden);
                        if (l == layers - 1) continue;
                        double[] w = rnn.parameter("weight_ih_l" + (l + 1)).toDoubleArray(), above = atK.hidden().toDoubleArray();
                        for (int b = 0; b < batch; b++) {
                            for (int j = 0; j < hidden; j++) {
                                double s = 0;
                                for (int i = 0; i < hidden; i++) {
                                    double h = above[((l + 1) * batch + b) * hidden + i];
                                    s += w[i * hidden + j] * (1 - h * h) * whole[l + 1][b * hidden + i];
                                }
                                whole[l][b * hidden + j] += s;
                            }
                        }
                    }
                    for (int l = 0; l < layers; l++) {
                        if (whole[l] == null) continue;
                        double expected = Tensor.of(whole[l], batch, hidden).norm(), actual = report.flow(l, 0).norms()[t][k];
                        worst = Math.max(worst, Math.abs(actual - expected) / expected);
                        checked++;
                        assertEquals(expected, actual, 1e-12 * expected, mode + " layer " + l + ", t " + t + ", k " + k);
                    }
                }
            }
            System.out.printf("%d-layer %s: %d norms ||dL_t/dh_k|| (k < t) within %.1e of a restarted pass%n", layers, mode, checked, worst);
            for (int t = 0; t < steps; t++) {
                assertEquals(TruncatedBptt.timeSlice(dy, t, t + 1).norm(), report.norms()[t][t], 1e-15, "top layer's diagonal: ||dy_t||");
                for (int l = 0; l < layers; l++) assertTrue(report.flow(l, 0).norms()[t][t] > 0, "layer " + l + "'s diagonal");
            }
            assertEquals(report.flow(layers - 1, 0).factorPerStep(), report.factorPerStep(), 0.0, "overall = top forward");
        }
    }

    /**
     * A bidirectional GRU: the reverse direction's flow (steps counted from the end) equals the
     * forward flow of a one-direction GRU holding the reverse weights, run on the reversed
     * sequences with the reversed dy of the reverse columns.
     */
    @Test
    void reverseDirectionIsTheForwardFlowOfTheReversedSequences() throws Exception {
        int steps = 6, batch = 2, input = 3, hidden = 4;
        SplittableRandom r = new SplittableRandom(6);
        Tensor x = random(r, steps, batch, input), dy = random(r, steps, batch, 2 * hidden);
        try (CpuBackend backend = new CpuBackend(1);
             Rnn bi = new Rnn(RnnConfig.of(RnnMode.GRU, input, hidden).withBidirectional(true), backend);
             Rnn fwd = new Rnn(RnnConfig.of(RnnMode.GRU, input, hidden), backend);
             Rnn rev = new Rnn(RnnConfig.of(RnnMode.GRU, input, hidden), backend)) {
            bi.initialize(8);
            for (String n : fwd.parameterNames()) {
                fwd.setParameter(n, bi.parameter(n));
                rev.setParameter(n, bi.parameter(n + "_reverse"));
            }
            Tensor xr = Tensor.zeros(DType.F64, steps, batch, input), dyF = Tensor.zeros(DType.F64, steps, batch, hidden),
                    dyR = Tensor.zeros(DType.F64, steps, batch, hidden);
            for (int t = 0; t < steps; t++) {
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < input; i++) xr.setDouble(((steps - 1 - t) * batch + b) * input + i, x.getDouble((t * batch + b) * input + i));
                    for (int c = 0; c < hidden; c++) {
                        dyF.setDouble((t * batch + b) * hidden + c, dy.getDouble((t * batch + b) * 2 * hidden + c));
                        dyR.setDouble(((steps - 1 - t) * batch + b) * hidden + c, dy.getDouble((t * batch + b) * 2 * hidden + hidden + c));
                    }
                }
            }
            GradientFlow.Report both = GradientFlow.measure(bi, x, null, dy);
            GradientFlow.Flow forward = GradientFlow.measure(fwd, x, null, dyF).top(), reversed = GradientFlow.measure(rev, xr, null, dyR).top();
            for (int t = 0; t < steps; t++) {
                for (int k = 0; k <= t; k++) {
                    double f = forward.norms()[t][k], b = reversed.norms()[t][k];
                    assertEquals(f, both.flow(0, 0).norms()[t][k], 1e-12 * f, "forward t " + t + " k " + k);
                    assertEquals(b, both.flow(0, 1).norms()[t][k], 1e-12 * b, "reverse t " + t + " k " + k);
                }
            }
            assertEquals(reversed.factorPerStep(), both.flow(0, 1).factorPerStep(), 1e-12);
            assertEquals(List.of("layer 0 forward: " + both.flow(0, 0).verdictLine(), "layer 0 reverse: " + both.flow(0, 1).verdictLine()),
                    both.layerSummaries());
            assertEquals("gradient flow: " + both.flow(0, 0).verdictLine(), both.summary());
        }
    }

    /**
     * A batch-first stack takes x, targets and dy as (B, T, ·), as its forward does: the flow equals
     * the time-major stack's with the same parameters fed the same sequences.
     */
    @Test
    void batchFirstStacksAreMeasuredInTheirOwnLayout() {
        int steps = 6, batch = 3, input = 2, hidden = 4, classes = 3;
        SplittableRandom r = new SplittableRandom(11);
        Tensor x = random(r, steps, batch, input);
        int[] y = new int[steps * batch];
        for (int i = 0; i < y.length; i++) y[i] = r.nextInt(classes);
        Tensor targets = Tensor.ofInts(y, steps, batch);
        RnnConfig config = RnnConfig.of(RnnMode.LSTM, input, hidden).withLayers(2);
        try (CpuBackend backend = new CpuBackend(1);
             Rnn timeMajor = new Rnn(config, backend);
             Rnn batchFirst = new Rnn(config.withBatchFirst(true), backend);
             SoftmaxHead head = new SoftmaxHead(backend, hidden, classes, DType.F64)) {
            timeMajor.initialize(3);
            head.initialize(4);
            for (String name : timeMajor.parameterNames()) batchFirst.setParameter(name, timeMajor.parameter(name));
            Tensor dy = GradientFlow.lossGradient(timeMajor, head, x, null, targets);
            Tensor dyBatchFirst = GradientFlow.lossGradient(batchFirst, head, x.swapLeadingDims(), null, targets.swapLeadingDims());
            assertEquals(0.0, dyBatchFirst.relativeError(dy.swapLeadingDims()), "dL/dy in the batch-first layout");
            GradientFlow.Report expected = GradientFlow.measure(timeMajor, x, null, dy);
            GradientFlow.Report actual = GradientFlow.measure(batchFirst, x.swapLeadingDims(), null, dyBatchFirst);
            for (GradientFlow.Flow f : expected.flows()) {
                double[][] a = actual.flow(f.layer(), f.direction()).norms();
                for (int t = 0; t < steps; t++) {
                    for (int k = 0; k <= t; k++) assertEquals(f.norms()[t][k], a[t][k], 1e-13 * f.norms()[t][k], f.name() + " [" + t + "][" + k + "]");
                }
            }
        }
    }

    /** Two layers, two directions: four matrices, lower triangles all measured, the CSV's rows and columns. */
    @Test
    void twoLayersTwoDirectionsCsv() throws Exception {
        int steps = 5, batch = 2, input = 3, hidden = 4;
        SplittableRandom r = new SplittableRandom(7);
        Tensor x = random(r, steps, batch, input), dy = random(r, steps, batch, 2 * hidden);
        try (CpuBackend backend = new CpuBackend(1);
             Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, input, hidden).withLayers(2).withBidirectional(true), backend)) {
            rnn.initialize(5);
            GradientFlow.Report report = GradientFlow.measure(rnn, x, null, dy);
            assertEquals(4, report.flows().size());
            for (GradientFlow.Flow f : report.flows()) {
                assertEquals(f, report.flow(f.layer(), f.direction()));
                for (int t = 0; t < steps; t++) {
                    for (int k = 0; k < steps; k++) {
                        double v = f.norms()[t][k];
                        assertTrue(k <= t ? v > 0 : Double.isNaN(v), f.name() + " [" + t + "][" + k + "] = " + v);
                    }
                }
            }
            assertEquals(4, report.layerSummaries().size());
            assertTrue(report.layerSummaries().get(3).startsWith("layer 1 reverse: "), report.layerSummaries().get(3));
            Path csv = Files.createTempFile("gradient-flow", ".csv");
            try {
                report.writeCsv(csv);
                List<String> lines = Files.readAllLines(csv);
                assertEquals("layer,direction,t,k,lag,norm", lines.get(0));
                assertEquals(1 + 4 * steps * (steps + 1) / 2, lines.size());
                String[] last = lines.get(lines.size() - 1).split(",");
                assertEquals(List.of("1", "1", "4", "4", "0"), List.of(last).subList(0, 5));
                assertEquals(report.flow(1, 1).norms()[4][4], Double.parseDouble(last[5]), 0.0);
                assertEquals("0,0,0,0,0," + report.flow(0, 0).norms()[0][0], lines.get(1));
            } finally {
                Files.delete(csv);
            }
        }
    }
}
