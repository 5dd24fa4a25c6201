package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.backend.Backend;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance, on every backend under test: structural identities that hold for any weights: a packed batch equals each sequence run alone
 * (Elman, LSTM with c0/dcn, GRU),
 * and a bidirectional layer's halves equal two unidirectional runs, one on reversed sequences.
 */
class InvariantsTest {
    private static final double TOLERANCE = 1e-12;
    private static final BackendsUnderTest backends = new BackendsUnderTest();
    /** The backend of the running test (JUnit runs this class's tests one at a time). */
    private static Backend backend;

    @AfterAll
    static void shut() {
        backends.close();
    }

    static Stream<Arguments> backendsAndModes() {
        return BackendsUnderTest.names().flatMap(b -> Stream.of(RnnMode.RNN_TANH, RnnMode.LSTM, RnnMode.GRU).map(m -> Arguments.of(b, m)));
    }

    /** Rows [b] of a (T, B, W) tensor, first {@code steps} steps, as (steps, 1, W). */
    static Tensor sequence(Tensor t, int b, int steps) {
        int batch = t.dim(1), width = t.dim(2);
        Tensor out = Tensor.zeros(t.dtype(), steps, 1, width);
        for (int s = 0; s < steps; s++) {
            for (int c = 0; c < width; c++) out.setDouble(s * width + c, t.getDouble((s * batch + b) * width + c));
        }
        return out;
    }

    /** Slice [.., b, ..] of a (S, B, H) state tensor as (S, 1, H). */
    static Tensor state(Tensor t, int b) {
        int states = t.dim(0), batch = t.dim(1), h = t.dim(2);
        Tensor out = Tensor.zeros(t.dtype(), states, 1, h);
        for (int s = 0; s < states; s++) for (int c = 0; c < h; c++) out.setDouble(s * h + c, t.getDouble((s * batch + b) * h + c));
        return out;
    }

    static void assertClose(String what, Tensor expected, Tensor actual) {
        double err = actual.relativeError(expected);
        System.out.printf("%-40s rel.error %.2e (tolerance %.0e)%n", what, err, TOLERANCE);
        assertTrue(err <= TOLERANCE, what + ": relative error " + err);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndModes")
    void packedBatchEqualsEachSequenceAlone(String device, RnnMode mode) {
        backend = backends.get(device);
        RandomCases rc = new RandomCases(99);
        RnnConfig cfg = RnnConfig.of(mode, 3, 5).withLayers(2).withBidirectional(true);
        boolean lstm = mode == RnnMode.LSTM;
        int steps = 6, batch = 5;
        int[] lengths = {3, 6, 1, 6, 4};
        Tensor x = rc.uniform(DType.F64, 1, steps, batch, 3);
        Tensor h0 = rc.uniform(DType.F64, 0.5, 4, batch, 5);
        Tensor dy = rc.uniform(DType.F64, 1, steps, batch, 10);
        RandomCases.maskPadding(dy, lengths);
        Tensor dhn = rc.uniform(DType.F64, 1, 4, batch, 5);
        Tensor c0 = lstm ? rc.uniform(DType.F64, 0.5, 4, batch, 5) : null;
        Tensor dcn = lstm ? rc.uniform(DType.F64, 1, 4, batch, 5) : null;
        try (Rnn rnn = new Rnn(cfg, backend)) {
            rnn.initialize(5);
            Tensor y, hn, cn, dx, dh0, dc0;
            try (Rnn.Pass p = rnn.forward(x, States.of("h", h0, "c", c0), lengths)) {
                y = p.output();
                hn = p.finalStates().hidden();
                cn = p.finalStates().cell();
                Rnn.InputGradients g = p.backward(dy, States.of("h", dhn, "c", dcn), true);
                dx = g.input();
                dh0 = g.initialHidden();
                dc0 = g.initialStates().cell();
            }
            Map<String, Tensor> batchGrads = rnn.gradients();
            rnn.zeroGrad();
            for (int b = 0; b < batch; b++) {
                int len = lengths[b];
                try (Rnn.Pass p = rnn.forward(sequence(x, b, len), States.of("h", state(h0, b), "c", lstm ? state(c0, b) : null), null)) {
                    assertClose(mode + " y of sequence " + b, sequence(y, b, len), p.output());
                    assertClose(mode + " hn of sequence " + b, state(hn, b), p.finalStates().hidden());
                    if (lstm) assertClose(mode + " cn of sequence " + b, state(cn, b), p.finalStates().cell());
                    Rnn.InputGradients g = p.backward(sequence(dy, b, len), States.of("h", state(dhn, b), "c", lstm ? state(dcn, b) : null), true);
                    assertClose(mode + " dx of sequence " + b, sequence(dx, b, len), g.input());
                    assertClose(mode + " dh0 of sequence " + b, state(dh0, b), g.initialHidden());
                    if (lstm) assertClose(mode + " dc0 of sequence " + b, state(dc0, b), g.initialStates().cell());
                }
                // Padding positions of y and dx are exactly zero.
                for (int t = len; t < steps; t++) {
                    for (int c = 0; c < 10; c++) assertEquals(0.0, y.getDouble((t * batch + b) * 10 + c));
                    for (int c = 0; c < 3; c++) assertEquals(0.0, dx.getDouble((t * batch + b) * 3 + c));
                }
            }
            // Parameter gradients accumulated over the one-by-one runs equal the batch's.
            for (String n : rnn.parameterNames()) assertClose(mode + " accumulated grad." + n, batchGrads.get(n), rnn.gradient(n));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void bidirectionalHalvesEqualTwoUnidirectionalRuns(String device) {
        backend = backends.get(device);
        RandomCases rc = new RandomCases(7);
        int steps = 5, batch = 3, in = 4, hidden = 3;
        int[] lengths = {5, 2, 4};
        RnnConfig bi = RnnConfig.of(RnnMode.RNN_RELU, in, hidden).withBidirectional(true);
        RnnConfig uni = RnnConfig.of(RnnMode.RNN_RELU, in, hidden);
        Tensor x = rc.uniform(DType.F64, 1, steps, batch, in);
        Tensor h0 = rc.uniform(DType.F64, 0.5, 2, batch, hidden);
        try (Rnn both = new Rnn(bi, backend); Rnn forward = new Rnn(uni, backend); Rnn backward = new Rnn(uni, backend)) {
            both.initialize(3);
            for (String p : new String[]{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
                forward.setParameter(p + "_l0", both.parameter(p + "_l0"));
                backward.setParameter(p + "_l0", both.parameter(p + "_l0_reverse"));
            }
            Tensor y;
            try (Rnn.Pass p = both.forward(x, States.hidden(h0), lengths)) {
                y = p.output();
            }
            Tensor yForward, yBackward;
            try (Rnn.Pass p = forward.forward(x, States.hidden(slice(h0, 0)), lengths)) {
                yForward = p.output();
            }
            try (Rnn.Pass p = backward.forward(reverseEach(x, lengths), States.hidden(slice(h0, 1)), lengths)) {
                yBackward = reverseEach(p.output(), lengths);
            }
            assertClose("forward half", yForward, half(y, 0, hidden));
            assertClose("reverse half", yBackward, half(y, 1, hidden));
        }
    }

    static Tensor slice(Tensor states, int s) {
        int batch = states.dim(1), h = states.dim(2);
        Tensor out = Tensor.zeros(states.dtype(), 1, batch, h);
        for (int i = 0; i < batch * h; i++) out.setDouble(i, states.getDouble(s * batch * h + i));
        return out;
    }

    static Tensor half(Tensor y, int d, int hidden) {
        int steps = y.dim(0), batch = y.dim(1);
        Tensor out = Tensor.zeros(y.dtype(), steps, batch, hidden);
        for (int r = 0; r < steps * batch; r++) for (int c = 0; c < hidden; c++) out.setDouble(r * hidden + c, y.getDouble(r * 2 * hidden + d * hidden + c));
        return out;
    }

    /** Reverses each sequence within its own length; padding stays in place. */
    static Tensor reverseEach(Tensor t, int[] lengths) {
        int steps = t.dim(0), batch = t.dim(1), w = t.dim(2);
        Tensor out = t.copy();
        for (int b = 0; b < batch; b++) {
            for (int s = 0; s < lengths[b]; s++) {
                int from = lengths[b] - 1 - s;
                for (int c = 0; c < w; c++) out.setDouble((s * batch + b) * w + c, t.getDouble((from * batch + b) * w + c));
            }
        }
        return out;
    }
}
