package dev.bptt4j.train;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance, for every cell and every backend under test: all of a cell's states (h; h and c;
 * h of width P and c of width H with projections)
 * are carried wherever a sequence is cut. A forward in chunks, each from the last chunk's final
 * states, equals the forward over the whole sequence; truncated BPTT with k ≥ T equals full BPTT;
 * and with k < T it equals a reference that runs each chunk through the plain host API from the
 * previous chunk's detached states (all of them), with the loss gradient formed on the host.
 * Float64, 1e-12 relative.
 */
class StatesCarriedTest {
    private static final double TOLERANCE = 1e-12;
    private static final int T = 8, B = 3, I = 3, H = 5, CLASSES = 4, LAYERS = 2;
    private static final BackendsUnderTest backends = new BackendsUnderTest();

    @AfterAll
    static void shut() {
        backends.close();
    }

    /** Every cell: Elman tanh and relu, the residual Elman cell, LSTM, GRU. */
    static Stream<Arguments> backendsAndCells() {
        return BackendsUnderTest.names().flatMap(b -> Stream.of(
                Arguments.of(b, "RNN_TANH", RnnConfig.of(RnnMode.RNN_TANH, I, H)),
                Arguments.of(b, "RNN_RELU", RnnConfig.of(RnnMode.RNN_RELU, I, H)),
                Arguments.of(b, "residual RNN_TANH", RnnConfig.of(RnnMode.RNN_TANH, I, H).withResidual(true)),
                Arguments.of(b, "LSTM", RnnConfig.of(RnnMode.LSTM, I, H)),
                Arguments.of(b, "LSTM with projection", RnnConfig.of(RnnMode.LSTM, I, H).withProjection(3)),
                Arguments.of(b, "GRU", RnnConfig.of(RnnMode.GRU, I, H))));
    }

    private static Tensor uniform(SplittableRandom r, double scale, int... shape) {
        Tensor t = Tensor.zeros(DType.F64, shape);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, (r.nextDouble() * 2 - 1) * scale);
        return t;
    }

    /** Random initial values for every state of the stack's cell. */
    private static States randomStates(SplittableRandom r, Rnn rnn) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        int rows = rnn.config().numLayers() * rnn.config().directions();
        for (StateSpec s : rnn.states()) m.put(s.name(), uniform(r, 0.5, rows, B, s.width()));
        return States.of(m);
    }

    private static void close(String what, Tensor expected, Tensor actual) {
        double err = actual.relativeError(expected);
        System.out.printf("  %-44s rel.difference %.2e (tolerance %.0e)%n", what, err, TOLERANCE);
        assertTrue(err <= TOLERANCE, what + ": relative difference " + err);
    }

    private static void closeStates(String what, States expected, States actual, Rnn rnn) {
        for (StateSpec s : rnn.states()) close(what + " " + s.finalName(), expected.get(s.name()), actual.get(s.name()));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCells")
    void chunkedForwardEqualsTheWholeForward(String backendName, String cell, RnnConfig config) {
        Backend backend = backends.get(backendName);
        SplittableRandom r = new SplittableRandom(11);
        try (Rnn rnn = new Rnn(config.withLayers(LAYERS), backend)) {
            rnn.initialize(1);
            Tensor x = uniform(r, 1, T, B, I);
            States initial = randomStates(r, rnn);
            Tensor whole;
            States last;
            try (Rnn.Pass pass = rnn.forward(x, initial, null)) {
                whole = pass.output();
                last = pass.finalStates();
            }
            System.out.println(backendName + " " + cell + ": forward in chunks of 3, 2, 3 against one forward over T = " + T);
            States carried = initial;
            int from = 0;
            for (int k : new int[]{3, 2, 3}) {
                try (Rnn.Pass pass = rnn.forward(TruncatedBptt.timeSlice(x, from, from + k), carried, null)) {
                    close("y steps " + from + ".." + (from + k - 1), TruncatedBptt.timeSlice(whole, from, from + k), pass.output());
                    carried = pass.finalStates();
                }
                from += k;
            }
            closeStates("final", last, carried, rnn);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCells")
    void truncatedBpttOfTheWholeSequenceIsFullBptt(String backendName, String cell, RnnConfig config) {
        Backend backend = backends.get(backendName);
        SplittableRandom r = new SplittableRandom(12);
        Tensor x = uniform(r, 1, T, B, I), targets = LossGradientCheckTest.targets(r, T, B, CLASSES);
        try (Rnn rnn = new Rnn(config.withLayers(LAYERS), backend);
             SoftmaxHead head = new SoftmaxHead(backend, config.cell().outputSize(), CLASSES, DType.F64)) {
            rnn.initialize(3);
            head.initialize(4);
            States initial = randomStates(r, rnn);
            System.out.println(backendName + " " + cell + ": truncated BPTT with k = T and k = T + 5 against full BPTT on the host API");
            Reference full = reference(rnn, head, x, targets, initial, T, Reduction.MEAN);
            for (int k : new int[]{T, T + 5}) truncatedMatches(full, rnn, head, x, targets, initial, k, Reduction.MEAN);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCells")
    void truncatedBpttEqualsChunksFromDetachedStates(String backendName, String cell, RnnConfig config) {
        Backend backend = backends.get(backendName);
        SplittableRandom r = new SplittableRandom(13);
        Tensor x = uniform(r, 1, T, B, I), targets = LossGradientCheckTest.targets(r, T, B, CLASSES);
        try (Rnn rnn = new Rnn(config.withLayers(LAYERS), backend);
             SoftmaxHead head = new SoftmaxHead(backend, config.cell().outputSize(), CLASSES, DType.F64)) {
            rnn.initialize(5);
            head.initialize(6);
            States initial = randomStates(r, rnn);
            for (int k : new int[]{1, 3}) {
                System.out.println(backendName + " " + cell + ": truncated BPTT with k = " + k + " against chunks run from detached states");
                truncatedMatches(reference(rnn, head, x, targets, initial, k, Reduction.SUM), rnn, head, x, targets, initial, k, Reduction.SUM);
                // The forward alone does not depend on k: every state crosses every cut.
                TruncatedBptt.Result whole = new TruncatedBptt(rnn, head, T, Reduction.SUM).evaluate(x, targets, initial);
                assertEquals(whole.loss(), new TruncatedBptt(rnn, head, k, Reduction.SUM).evaluate(x, targets, initial).loss(),
                        TOLERANCE * Math.abs(whole.loss()), "forward loss with k = " + k + " against k = T");
            }
        }
    }

    /** Truncated BPTT with chunks of k, from zero gradients, against a reference: loss, final states, every gradient. */
    private static void truncatedMatches(Reference expected, Rnn rnn, SoftmaxHead head, Tensor x, Tensor targets, States initial, int k,
                                         Reduction reduction) {
        rnn.zeroGrad();
        head.zeroGrad();
        TruncatedBptt.Result result = new TruncatedBptt(rnn, head, k, reduction).run(x, targets, initial, null);
        assertEquals(expected.loss, result.loss(), TOLERANCE * Math.abs(expected.loss), "loss with k = " + k);
        closeStates("k = " + k + ": final", expected.finalStates, result.finalStates(), rnn);
        for (String n : rnn.parameterNames()) close("k = " + k + ": grad." + n, expected.gradients.get(n), rnn.gradient(n));
        close("k = " + k + ": grad.head.weight", expected.headWeightGradient, head.gradient("weight"));
    }

    /** The reported case: a 1-layer LSTM's forward loss must not depend on the chunk length. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void lstmLossDoesNotDependOnTheChunkLength(String backendName) {
        Backend backend = backends.get(backendName);
        SplittableRandom r = new SplittableRandom(3);
        Tensor x = uniform(r, 1, 8, 2, 3), targets = LossGradientCheckTest.targets(r, 8, 2, 4);
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.LSTM, 3, 5), backend); SoftmaxHead head = new SoftmaxHead(backend, 5, 4, DType.F64)) {
            rnn.initialize(1);
            head.initialize(2);
            double full = new TruncatedBptt(rnn, head, 8, Reduction.SUM).evaluate(x, targets, States.ZEROS).loss();
            for (int k = 1; k < 8; k++) {
                double chunked = new TruncatedBptt(rnn, head, k, Reduction.SUM).evaluate(x, targets, States.ZEROS).loss();
                System.out.printf("%s LSTM forward loss: k = 8 %.15f, k = %d %.15f%n", backendName, full, k, chunked);
                assertEquals(full, chunked, 1e-12 * full, "k = " + k);
            }
        }
    }

    private record Reference(double loss, States finalStates, Map<String, Tensor> gradients, Tensor headWeightGradient) {
    }

    /**
     * Chunks of k steps through the host API: each chunk's forward from the previous chunk's final
     * states (every one of them, as plain tensors), the loss and its gradient on the host from the
     * head's parameters, the chunk's backward with zero gradients into its final states.
     */
    private static Reference reference(Rnn rnn, SoftmaxHead head, Tensor x, Tensor targets, States initial, int k, Reduction reduction) {
        rnn.zeroGrad();
        final int H = rnn.cell().outputSize(); // the width of y: the head's input
        double[] v = head.parameter("weight").f64(), c = head.parameter("bias").f64();
        double[] dV = new double[CLASSES * H];
        double loss = 0;
        States state = initial;
        for (int from = 0; from < T; from += k) {
            int to = Math.min(T, from + k), rows = (to - from) * B;
            int[] t = TruncatedBptt.timeSlice(targets, from, to).i32();
            try (Rnn.Pass pass = rnn.forward(TruncatedBptt.timeSlice(x, from, to), state, null)) {
                double[] y = pass.output().f64();
                Tensor dy = Tensor.zeros(DType.F64, to - from, B, H);
                for (int row = 0; row < rows; row++) {
                    if (t[row] < 0) continue;
                    double[] z = new double[CLASSES];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int cl = 0; cl < CLASSES; cl++) {
                        z[cl] = c[cl];
                        for (int j = 0; j < H; j++) z[cl] += v[cl * H + j] * y[row * H + j];
                        max = Math.max(max, z[cl]);
                    }
                    for (double zc : z) sum += Math.exp(zc - max);
                    double scale = reduction == Reduction.MEAN ? 1.0 / B : 1.0;
                    loss += scale * (max + Math.log(sum) - z[t[row]]);
                    for (int cl = 0; cl < CLASSES; cl++) {
                        double g = scale * (Math.exp(z[cl] - max) / sum - (cl == t[row] ? 1 : 0));
                        for (int j = 0; j < H; j++) {
                            dy.f64()[row * H + j] += g * v[cl * H + j];
                            dV[cl * H + j] += g * y[row * H + j];
                        }
                    }
                }
                state = pass.finalStates();
                pass.backward(dy, States.ZEROS, false);
            }
        }
        return new Reference(loss, state, rnn.gradients(), Tensor.of(dV, CLASSES, H));
    }
}
