package dev.bptt4j.train;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The output layer and cross-entropy loss against float64 central differences: loss value against
 * a plain host computation, and the gradients of V, c and every RNN parameter (through BPTT).
 */
class LossGradientCheckTest {
    private static final double STEP = 1e-6, TOLERANCE = 1e-6;
    private static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    static Tensor uniform(SplittableRandom r, DType d, int... shape) {
        Tensor t = Tensor.zeros(d, shape);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble() * 2 - 1);
        return t;
    }

    /** Targets (T, B) with about a fifth masked (−1). */
    static Tensor targets(SplittableRandom r, int steps, int batch, int classes) {
        int[] v = new int[steps * batch];
        for (int i = 0; i < v.length; i++) v[i] = r.nextInt(5) == 0 ? -1 : r.nextInt(classes);
        return Tensor.ofInts(v, steps, batch);
    }

    @ParameterizedTest
    @EnumSource(Reduction.class)
    void lossAndGradientsMatchFiniteDifferences(Reduction reduction) {
        SplittableRandom r = new SplittableRandom(reduction.ordinal() + 11);
        int steps = 5, batch = 3, input = 3, hidden = 4, classes = 5;
        RnnConfig cfg = RnnConfig.of(RnnMode.RNN_TANH, input, hidden).withLayers(2);
        Tensor x = uniform(r, DType.F64, steps, batch, input), h0 = uniform(r, DType.F64, 2, batch, hidden);
        Tensor y = targets(r, steps, batch, classes);
        try (Rnn rnn = new Rnn(cfg, backend); SoftmaxHead head = new SoftmaxHead(backend, hidden, classes, DType.F64)) {
            rnn.initialize(3);
            head.initialize(4);
            TruncatedBptt full = new TruncatedBptt(rnn, head, steps, reduction);
            double loss = full.run(x, y, States.hidden(h0), null).loss();
            assertEquals(hostLoss(rnn, head, x, h0, y, reduction), loss, 1e-12, "loss against a host log-softmax");
            System.out.printf("%s: loss %.6f%n", reduction, loss);
            for (String name : new String[]{"weight", "bias"}) {
                Tensor p = head.parameter(name), numeric = Tensor.zeros(DType.F64, p.shape());
                for (int i = 0; i < p.size(); i++) {
                    double orig = p.getDouble(i);
                    p.setDouble(i, orig + STEP);
                    head.setParameter(name, p);
                    double plus = full.evaluate(x, y, States.hidden(h0)).loss();
                    p.setDouble(i, orig - STEP);
                    head.setParameter(name, p);
                    double minus = full.evaluate(x, y, States.hidden(h0)).loss();
                    p.setDouble(i, orig);
                    head.setParameter(name, p);
                    numeric.setDouble(i, (plus - minus) / (2 * STEP));
                }
                assertClose("head." + name, head.gradient(name), numeric);
            }
            for (String name : rnn.parameterNames()) {
                Tensor p = rnn.parameter(name), numeric = Tensor.zeros(DType.F64, p.shape());
                for (int i = 0; i < p.size(); i++) {
                    double orig = p.getDouble(i);
                    p.setDouble(i, orig + STEP);
                    rnn.setParameter(name, p);
                    double plus = full.evaluate(x, y, States.hidden(h0)).loss();
                    p.setDouble(i, orig - STEP);
                    rnn.setParameter(name, p);
                    double minus = full.evaluate(x, y, States.hidden(h0)).loss();
                    p.setDouble(i, orig);
                    rnn.setParameter(name, p);
                    numeric.setDouble(i, (plus - minus) / (2 * STEP));
                }
                assertClose("rnn." + name, rnn.gradient(name), numeric);
            }
        }
    }

    /** Σ_t Σ_b −log softmax(V h + c)[y], divided by B for MEAN, from the host API's y. */
    static double hostLoss(Rnn rnn, SoftmaxHead head, Tensor x, Tensor h0, Tensor targets, Reduction reduction) {
        int batch = x.dim(1), hidden = head.hiddenSize();
        double total = 0;
        try (Rnn.Pass pass = rnn.forward(x, States.hidden(h0), null)) {
            double[] ys = pass.output().toDoubleArray();
            for (int row = 0; row < targets.size(); row++) {
                int t = targets.i32()[row];
                if (t < 0) continue;
                double[] z = head.logitsOf(java.util.Arrays.copyOfRange(ys, row * hidden, (row + 1) * hidden));
                double max = Double.NEGATIVE_INFINITY, s = 0;
                for (double v : z) max = Math.max(max, v);
                for (double v : z) s += Math.exp(v - max);
                total += max + Math.log(s) - z[t];
            }
        }
        return reduction == Reduction.MEAN ? total / batch : total;
    }

    @Test
    void softmaxCrossEntropyIsStableForHugeLogits() {
        double[] z = {1000, -1000, 0, 2000};
        double[] loss = new double[2];
        dev.bptt4j.backend.TrainingKernels.softmaxCrossEntropy(z, 0, new int[]{1, 0}, 0, loss, 0, 2, 2, 1.0);
        System.out.printf("huge logits: loss %s, grad %s%n", java.util.Arrays.toString(loss), java.util.Arrays.toString(z));
        assertEquals(2000, loss[0], 1e-9, "row 0 loss");
        assertEquals(2000, loss[1], 1e-9, "row 1 loss");
        assertEquals(1.0, z[0], 0);
        assertEquals(-1.0, z[1], 0);
    }

    static void assertClose(String name, Tensor analytic, Tensor numeric) {
        double scale = Math.max(numeric.norm(), 1e-12), diff = 0;
        for (int i = 0; i < numeric.size(); i++) diff = Math.max(diff, Math.abs(analytic.getDouble(i) - numeric.getDouble(i)));
        System.out.printf("  %-22s max |analytic - numeric| / ||numeric|| = %.2e (tolerance %.0e)%n", name, diff / scale, TOLERANCE);
        assertTrue(diff / scale <= TOLERANCE, name + ": relative difference " + diff / scale + " exceeds " + TOLERANCE);
    }
}
