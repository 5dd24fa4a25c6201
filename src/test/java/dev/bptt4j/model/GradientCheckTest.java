package dev.bptt4j.model;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Float64 central differences of L = Σ y·dy + Σ hn·dhn against the analytic BPTT gradients, on
 * random small configurations. Each gradient tensor must agree within 1e-6 relative to its norm.
 */
class GradientCheckTest {
    private static final double TOLERANCE = 1e-6;
    private static final double STEP = 1e-6;
    private static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
    void analyticGradientsMatchCentralDifferences(long seed) {
        RandomCases rc = new RandomCases(seed);
        RnnMode mode = seed % 2 == 0 ? RnnMode.RNN_RELU : RnnMode.RNN_TANH;
        int layers = 1 + (int) (seed % 3);
        boolean bidirectional = (seed / 2) % 2 == 1;
        boolean bias = seed % 5 != 0;
        boolean withLengths = (seed / 3) % 2 == 0;
        boolean residual = seed == 7 || seed == 12;
        int steps = 2 + rc.nextInt(4), batch = 1 + rc.nextInt(4), input = 1 + rc.nextInt(4), hidden = 1 + rc.nextInt(4);
        RnnConfig cfg = new RnnConfig(mode, input, hidden, layers, bidirectional, bias, DType.F64, residual);
        int[] lengths = withLengths ? rc.lengths(batch, steps) : null;
        int states = layers * cfg.directions();
        Tensor x = rc.uniform(DType.F64, 1, steps, batch, input);
        Tensor h0 = rc.uniform(DType.F64, 0.5, states, batch, hidden);
        Tensor dy = rc.uniform(DType.F64, 1, steps, batch, cfg.directions() * hidden);
        RandomCases.maskPadding(dy, lengths);
        Tensor dhn = rc.uniform(DType.F64, 1, states, batch, hidden);
        System.out.printf("seed %d: %s T=%d B=%d I=%d H=%d L=%d bi=%b bias=%b residual=%b lengths=%s%n", seed, mode, steps,
                batch, input, hidden, layers, bidirectional, bias, residual, java.util.Arrays.toString(lengths));

        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.initialize(seed);
            Rnn.InputGradients g;
            try (Rnn.Pass pass = rnn.forward(x, h0, lengths)) {
                g = pass.backward(dy, dhn);
            }
            Map<String, Tensor> grads = rnn.gradients();
            Map<String, Tensor> params = rnn.stateDict();
            for (String name : rnn.parameterNames()) {
                Tensor p = params.get(name);
                Tensor numeric = Tensor.zeros(DType.F64, p.shape());
                for (int i = 0; i < p.size(); i++) {
                    double orig = p.getDouble(i);
                    p.setDouble(i, orig + STEP);
                    rnn.setParameter(name, p);
                    double plus = loss(rnn, x, h0, lengths, dy, dhn);
                    p.setDouble(i, orig - STEP);
                    rnn.setParameter(name, p);
                    double minus = loss(rnn, x, h0, lengths, dy, dhn);
                    p.setDouble(i, orig);
                    rnn.setParameter(name, p);
                    numeric.setDouble(i, (plus - minus) / (2 * STEP));
                }
                assertClose(name, grads.get(name), numeric);
            }
            assertClose("x", g.input(), numericInput(rnn, x, x, h0, lengths, dy, dhn, true));
            assertClose("h0", g.initialHidden(), numericInput(rnn, h0, x, h0, lengths, dy, dhn, false));
        }
    }

    private static Tensor numericInput(Rnn rnn, Tensor target, Tensor x, Tensor h0, int[] lengths, Tensor dy, Tensor dhn, boolean isX) {
        Tensor numeric = Tensor.zeros(DType.F64, target.shape());
        Tensor work = target.copy();
        for (int i = 0; i < work.size(); i++) {
            double orig = work.getDouble(i);
            work.setDouble(i, orig + STEP);
            double plus = isX ? loss(rnn, work, h0, lengths, dy, dhn) : loss(rnn, x, work, lengths, dy, dhn);
            work.setDouble(i, orig - STEP);
            double minus = isX ? loss(rnn, work, h0, lengths, dy, dhn) : loss(rnn, x, work, lengths, dy, dhn);
            work.setDouble(i, orig);
            numeric.setDouble(i, (plus - minus) / (2 * STEP));
        }
        return numeric;
    }

    static double loss(Rnn rnn, Tensor x, Tensor h0, int[] lengths, Tensor dy, Tensor dhn) {
        try (Rnn.Pass pass = rnn.forward(x, h0, lengths)) {
            double s = 0;
            Tensor y = pass.output(), hn = pass.finalHidden();
            for (int i = 0; i < y.size(); i++) s += y.getDouble(i) * dy.getDouble(i);
            for (int i = 0; i < hn.size(); i++) s += hn.getDouble(i) * dhn.getDouble(i);
            return s;
        }
    }

    private static void assertClose(String name, Tensor analytic, Tensor numeric) {
        double scale = Math.max(numeric.norm(), 1e-12);
        double diff = 0;
        for (int i = 0; i < numeric.size(); i++) diff = Math.max(diff, Math.abs(analytic.getDouble(i) - numeric.getDouble(i)));
        double rel = diff / scale;
        System.out.printf("  %-22s max |analytic - numeric| / ||numeric|| = %.2e (tolerance %.0e)%n", name, rel, TOLERANCE);
        assertTrue(rel <= TOLERANCE, name + ": relative difference " + rel + " exceeds " + TOLERANCE);
    }
}
