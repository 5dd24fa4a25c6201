package dev.bptt4j.model;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance: inference without saved activations. {@code Rnn.infer} equals the training forward
 * (float64 within 1e-12: only the input projection's summation order may differ; bit for bit on the
 * emulated device, whose GEMM is the same for any M), for every cell,
 * with lengths and batch-first; a {@code Stream} fed the same sequence in any pieces gives
 * {@code infer}'s bits; and infer's workspace does not grow with T.
 */
class InferenceTest {
    private static final int T = 9, B = 4, I = 3, H = 5;
    private static final BackendsUnderTest backends = new BackendsUnderTest();

    @AfterAll
    static void shut() {
        backends.close();
    }

    static Stream<Arguments> backendsAndConfigs() {
        RnnConfig[] configs = {
                RnnConfig.of(RnnMode.RNN_TANH, I, H).withLayers(2),
                RnnConfig.of(RnnMode.RNN_RELU, I, H).withResidual(true),
                RnnConfig.of(RnnMode.LSTM, I, H).withLayers(2),
                RnnConfig.of(RnnMode.LSTM, I, H).withLayers(2).withProjection(2).withBatchFirst(true),
                RnnConfig.of(RnnMode.GRU, I, H).withLayers(3).withBias(false),
                RnnConfig.of(RnnMode.GRU, I, H).withLayers(2).withDropout(0.5)};
        return BackendsUnderTest.names().flatMap(b -> Arrays.stream(configs).map(c -> Arguments.of(b, c)));
    }

    private static States randomStates(RandomCases r, Rnn rnn) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (StateSpec s : rnn.states()) m.put(s.name(), r.uniform(DType.F64, 0.5, rnn.config().numLayers(), B, s.width()));
        return States.of(m);
    }

    private static Tensor input(RandomCases r, RnnConfig c) {
        return c.batchFirst() ? r.uniform(DType.F64, 1, B, T, I) : r.uniform(DType.F64, 1, T, B, I);
    }

    private static void close(String what, Tensor expected, Tensor actual) {
        double err = actual.relativeError(expected);
        System.out.printf("  %-40s rel.difference %.2e (tolerance 1e-12)%n", what, err);
        assertTrue(err <= 1e-12, what + ": " + err);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndConfigs")
    void inferEqualsTheForward(String name, RnnConfig config) {
        Backend backend = backends.get(name);
        RandomCases r = new RandomCases(31);
        try (Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(4);
            rnn.eval();
            Tensor x = input(r, config);
            States initial = randomStates(r, rnn);
            for (int[] lengths : new int[][]{null, {T, 2, 7, 1}}) {
                System.out.println(name + " " + rnn.cell() + " lengths " + Arrays.toString(lengths));
                Rnn.Inference inferred = rnn.infer(x, initial, lengths);
                try (Rnn.Pass pass = rnn.forward(x, initial, lengths)) {
                    close("y", pass.output(), inferred.output());
                    for (StateSpec s : rnn.states()) close(s.finalName(), pass.finalStates().get(s.name()), inferred.finalStates().get(s.name()));
                    if (name.equals("cuda-emulated")) {
                        // The emulator's GEMM adds each element's products in one order whatever M is: bit for bit.
                        assertArrayEquals(pass.output().f64(), inferred.output().f64(), "y bit for bit on the emulated device");
                        for (StateSpec s : rnn.states()) {
                            assertArrayEquals(pass.finalStates().get(s.name()).f64(), inferred.finalStates().get(s.name()).f64(), s.finalName());
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndConfigs")
    void aStreamFedInPiecesGivesInfersBits(String name, RnnConfig config) {
        Backend backend = backends.get(name);
        RandomCases r = new RandomCases(32);
        try (Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(5);
            Tensor x = input(r, config);
            States initial = randomStates(r, rnn);
            Rnn.Inference whole = rnn.infer(x, initial, null);
            boolean bf = config.batchFirst();
            try (Rnn.Stream stream = rnn.stream(B, initial)) {
                int from = 0;
                for (int piece : new int[]{1, 3, 1, 4}) {
                    Tensor y;
                    if (piece == 1) {
                        Tensor xt = Tensor.zeros(DType.F64, B, I), expected = Tensor.zeros(DType.F64, B, config.outputSize());
                        for (int b = 0; b < B; b++) {
                            Tensor.copy(x, bf ? ((long) b * T + from) * I : ((long) from * B + b) * I, xt, (long) b * I, I);
                            Tensor.copy(whole.output(), bf ? ((long) b * T + from) * config.outputSize() : ((long) from * B + b) * config.outputSize(),
                                    expected, (long) b * config.outputSize(), config.outputSize());
                        }
                        y = stream.step(xt);
                        assertArrayEquals(expected.f64(), y.f64(), name + " step " + from);
                    } else {
                        y = stream.next(slice(x, from, from + piece, bf));
                        assertArrayEquals(slice(whole.output(), from, from + piece, bf).f64(), y.f64(), name + " steps " + from + ".." + (from + piece - 1));
                    }
                    from += piece;
                }
                assertEquals(T, stream.steps());
                States last = stream.states();
                for (StateSpec s : rnn.states()) {
                    assertArrayEquals(whole.finalStates().get(s.name()).f64(), last.get(s.name()).f64(), name + " " + s.finalName());
                }
                System.out.println(name + " " + rnn.cell() + ": a stream of 1, 3, 1, 4 steps gives infer's bits");
                assertThrows(IllegalStateException.class, () -> rnn.stream(B, null), "one stream at a time");
            }
        }
    }

    private static Tensor slice(Tensor t, int from, int to, boolean batchFirst) {
        if (!batchFirst) return t.slice(from, to);
        int batch = t.dim(0), steps = t.dim(1), width = t.dim(2), n = to - from;
        Tensor out = Tensor.zeros(t.dtype(), batch, n, width);
        for (int b = 0; b < batch; b++) Tensor.copy(t, ((long) b * steps + from) * width, out, (long) b * n * width, (long) n * width);
        return out;
    }

    /** The workspace of infer does not grow with T; the forward's does. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void infersWorkspaceDoesNotGrowWithT(String name) {
        Backend backend = backends.get(name);
        RnnConfig config = RnnConfig.of(RnnMode.LSTM, I, H).withLayers(2);
        long[] inferBytes = new long[2], forwardBytes = new long[2];
        int[] steps = {300, 1200};
        for (int i = 0; i < 2; i++) {
            RandomCases r = new RandomCases(33);
            Tensor x = r.uniform(DType.F64, 1, steps[i], B, I);
            try (Rnn rnn = new Rnn(config, backend)) {
                rnn.initialize(6);
                rnn.infer(x, States.ZEROS, null);
                inferBytes[i] = rnn.workspaceBytes();
            }
            try (Rnn rnn = new Rnn(config, backend)) {
                rnn.initialize(6);
                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                    forwardBytes[i] = rnn.workspaceBytes();
                }
            }
            System.out.printf("%s T=%d: workspace infer %,d bytes, forward %,d bytes%n", name, steps[i], inferBytes[i], forwardBytes[i]);
        }
        assertEquals(inferBytes[0], inferBytes[1], "infer's workspace is the same for T = 300 and 1200");
        assertTrue(forwardBytes[1] > 3 * forwardBytes[0], "the forward's grows with T");
        assertTrue(inferBytes[1] * 10 < forwardBytes[1], "infer keeps a small fraction of the forward's");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void bidirectionalStacksInferThroughTheForwardAndRefuseToStream(String name) {
        Backend backend = backends.get(name);
        RandomCases r = new RandomCases(34);
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.GRU, I, H).withBidirectional(true).withLayers(2).withDropout(0.3), backend)) {
            rnn.initialize(7);
            Tensor x = r.uniform(DType.F64, 1, T, B, I);
            Rnn.Inference inferred = rnn.infer(x, States.ZEROS, new int[]{T, 4, 1, 8});
            assertTrue(rnn.isTraining(), "infer leaves the mode as it was");
            rnn.eval();
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, new int[]{T, 4, 1, 8})) {
                assertArrayEquals(pass.output().f64(), inferred.output().f64(), "bidirectional infer is the evaluation-mode forward");
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rnn.stream(B, null));
            assertTrue(e.getMessage().contains("bidirectional"), e.getMessage());
        }
    }
}
