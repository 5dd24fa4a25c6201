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

import java.util.Arrays;
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
            Reference full = reference(rnn, head, x, targets, initial, T, Reduction.MEAN, null);
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
                truncatedMatches(reference(rnn, head, x, targets, initial, k, Reduction.SUM, null), rnn, head, x, targets, initial, k, Reduction.SUM);
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
        truncatedMatches(expected, rnn, head, x, targets, initial, k, reduction, null);
    }

    private static void truncatedMatches(Reference expected, Rnn rnn, SoftmaxHead head, Tensor x, Tensor targets, States initial, int k,
                                         Reduction reduction, int[] lengths) {
        rnn.zeroGrad();
        head.zeroGrad();
        TruncatedBptt.Result result = new TruncatedBptt(rnn, head, k, reduction).run(x, targets, initial, lengths, null);
        assertEquals(expected.loss, result.loss(), TOLERANCE * Math.abs(expected.loss), "loss with k = " + k);
        closeStates("k = " + k + ": final", expected.finalStates, result.finalStates(), rnn);
        for (String n : rnn.parameterNames()) close("k = " + k + ": grad." + n, expected.gradients.get(n), rnn.gradient(n));
        close("k = " + k + ": grad.head.weight", expected.headWeightGradient, head.gradient("weight"));
    }

    /**
     * Variable lengths: each sequence is cut at its own length. Truncated BPTT equals chunks of the
     * running sequences through the host API (k = 1, 3 and k ≥ T), its forward loss does not depend
     * on k, and its final states are each sequence's state after its own last step, as the whole
     * forward with lengths gives them.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndCells")
    void truncatedBpttCutsEachSequenceAtItsLength(String backendName, String cell, RnnConfig config) {
        Backend backend = backends.get(backendName);
        SplittableRandom r = new SplittableRandom(14);
        Tensor x = uniform(r, 1, T, B, I), targets = LossGradientCheckTest.targets(r, T, B, CLASSES);
        int[] lengths = {T, 3, 6};
        try (Rnn rnn = new Rnn(config.withLayers(LAYERS), backend);
             SoftmaxHead head = new SoftmaxHead(backend, config.cell().outputSize(), CLASSES, DType.F64)) {
            rnn.initialize(7);
            head.initialize(8);
            States initial = randomStates(r, rnn);
            States whole;
            try (Rnn.Pass pass = rnn.forward(x, initial, lengths)) {
                whole = pass.finalStates();
            }
            double fullLoss = new TruncatedBptt(rnn, head, T, Reduction.SUM).evaluate(x, targets, initial, lengths).loss();
            for (int k : new int[]{1, 3, T + 5}) {
                System.out.println(backendName + " " + cell + ": lengths " + Arrays.toString(lengths) + ", k = " + k);
                truncatedMatches(reference(rnn, head, x, targets, initial, Math.min(k, T), Reduction.SUM, lengths), rnn, head, x, targets,
                        initial, k, Reduction.SUM, lengths);
                TruncatedBptt.Result forward = new TruncatedBptt(rnn, head, k, Reduction.SUM).evaluate(x, targets, initial, lengths);
                assertEquals(fullLoss, forward.loss(), TOLERANCE * Math.abs(fullLoss), "forward loss with k = " + k);
                closeStates("k = " + k + ": against the whole forward's", whole, forward.finalStates(), rnn);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void bidirectionalModelsNeedTheWholeSequence(String backendName) {
        Backend backend = backends.get(backendName);
        SplittableRandom r = new SplittableRandom(15);
        Tensor x = uniform(r, 1, T, B, I), targets = LossGradientCheckTest.targets(r, T, B, CLASSES);
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.GRU, I, H).withBidirectional(true), backend);
             SoftmaxHead head = new SoftmaxHead(backend, 2 * H, CLASSES, DType.F64)) {
            rnn.initialize(1);
            head.initialize(2);
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new TruncatedBptt(rnn, head, T - 1, Reduction.SUM).run(x, targets, States.ZEROS, null));
            System.out.println(e.getMessage());
            assertTrue(e.getMessage().contains("bidirectional model needs k >= T"), e.getMessage());
            new TruncatedBptt(rnn, head, T, Reduction.SUM).run(x, targets, States.ZEROS, null); // k = T is full BPTT
        }
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
     * head's parameters, the chunk's backward with zero gradients into its final states. With
     * lengths, a chunk runs the sequences still going (a sub-batch, each to its own length), and a
     * finished sequence keeps the states after its last step.
     */
    private static Reference reference(Rnn rnn, SoftmaxHead head, Tensor x, Tensor targets, States initial, int k, Reduction reduction,
                                       int[] lengths) {
        rnn.zeroGrad();
        final int H = rnn.cell().outputSize(); // the width of y: the head's input
        double[] v = head.parameter("weight").f64(), c = head.parameter("bias").f64();
        double[] dV = new double[CLASSES * H];
        double loss = 0;
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (StateSpec s : rnn.states()) {
            Tensor t = initial.get(s.name());
            state.put(s.name(), t == null ? Tensor.zeros(DType.F64, LAYERS, B, s.width()) : t.copy());
        }
        for (int from = 0; from < T; from += k) {
            int to = Math.min(T, from + k), steps = to - from;
            final int start = from;
            int[] run = java.util.stream.IntStream.range(0, B).filter(b -> lengths == null || lengths[b] > start).toArray();
            int n = run.length;
            Tensor xs = Tensor.zeros(DType.F64, steps, n, I);
            int[] t = new int[steps * n], chunkLengths = new int[n];
            for (int i = 0; i < n; i++) {
                chunkLengths[i] = Math.min(lengths == null ? T : lengths[run[i]], to) - from;
                for (int s = 0; s < steps; s++) {
                    for (int e = 0; e < I; e++) xs.setDouble((s * n + i) * I + e, x.getDouble(((from + s) * B + run[i]) * I + e));
                    t[s * n + i] = s < chunkLengths[i] ? targets.i32()[(from + s) * B + run[i]] : -1;
                }
            }
            Map<String, Tensor> sub = new LinkedHashMap<>();
            for (StateSpec sp : rnn.states()) {
                Tensor all = state.get(sp.name()), part = Tensor.zeros(DType.F64, LAYERS, n, sp.width());
                for (int r = 0; r < LAYERS; r++) {
                    for (int i = 0; i < n; i++) {
                        for (int e = 0; e < sp.width(); e++) part.setDouble((r * n + i) * sp.width() + e, all.getDouble((r * B + run[i]) * sp.width() + e));
                    }
                }
                sub.put(sp.name(), part);
            }
            try (Rnn.Pass pass = rnn.forward(xs, States.of(sub), lengths == null ? null : chunkLengths)) {
                double[] y = pass.output().f64();
                Tensor dy = Tensor.zeros(DType.F64, steps, n, H);
                for (int row = 0; row < steps * n; row++) {
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
                States last = pass.finalStates();
                for (StateSpec sp : rnn.states()) {
                    Tensor all = state.get(sp.name()), part = last.get(sp.name());
                    for (int r = 0; r < LAYERS; r++) {
                        for (int i = 0; i < n; i++) {
                            for (int e = 0; e < sp.width(); e++) all.setDouble((r * B + run[i]) * sp.width() + e, part.getDouble((r * n + i) * sp.width() + e));
                        }
                    }
                }
                pass.backward(dy, States.ZEROS, false);
            }
        }
        return new Reference(loss, States.of(state), rnn.gradients(), Tensor.of(dV, CLASSES, H));
    }
}
