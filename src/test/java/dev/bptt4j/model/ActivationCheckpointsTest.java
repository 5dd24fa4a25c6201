package dev.bptt4j.model;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance: activation checkpointing ({@code RnnConfig.withActivationCheckpoints}). A
 * checkpointed pass gives the plain pass's y, final states, dL/dx, initial-state gradients and
 * parameter gradients <b>bit for bit</b>, for every cell, layers, both directions, lengths,
 * batch-first, projections, dropout and float32, through the host and the device API, for several
 * intervals k; its workspace grows as about √T where the plain pass's grows as T. The whole-sequence
 * GEMMs run over blocks of a few rows here ({@code bptt4j.blockRows}), so that a short sequence has
 * many segments.
 */
class ActivationCheckpointsTest {
    private static final int T = 13, B = 3, I = 4, H = 5;
    private static final BackendsUnderTest backends = new BackendsUnderTest();

    @AfterAll
    static void shut() {
        backends.close();
    }

    @BeforeEach
    void smallBlocks() {
        System.setProperty("bptt4j.blockRows", "4");
    }

    @AfterEach
    void defaultBlocks() {
        System.clearProperty("bptt4j.blockRows");
    }

    static Stream<Arguments> backendsAndConfigs() {
        RnnConfig[] configs = {
                RnnConfig.of(RnnMode.RNN_TANH, I, H),
                RnnConfig.of(RnnMode.RNN_RELU, I, H).withLayers(2).withResidual(true),
                RnnConfig.of(RnnMode.LSTM, I, H).withLayers(2),
                RnnConfig.of(RnnMode.LSTM, I, H).withLayers(2).withBidirectional(true).withProjection(3),
                RnnConfig.of(RnnMode.GRU, I, H).withLayers(3).withBias(false).withBatchFirst(true),
                RnnConfig.of(RnnMode.GRU, I, H).withBidirectional(true),
                RnnConfig.of(RnnMode.LSTM, I, H).withLayers(2).withDropout(0.4),
                RnnConfig.of(RnnMode.RNN_TANH, I, H).withLayers(2).withBidirectional(true).withDType(DType.F32)};
        return BackendsUnderTest.names().flatMap(b -> Arrays.stream(configs).map(c -> Arguments.of(b, c)));
    }

    /** Everything a pass gives, as float64 arrays by name. */
    private static Map<String, double[]> hostPass(Rnn rnn, Tensor x, Tensor dy, States initial, States finalGrads, int[] lengths) {
        Map<String, double[]> out = new LinkedHashMap<>();
        rnn.zeroGrad();
        rnn.setDropoutStream(7);
        try (Rnn.Pass pass = rnn.forward(x, initial, lengths)) {
            out.put("y", pass.output().toDoubleArray());
            for (StateSpec s : rnn.states()) out.put(s.finalName(), pass.finalStates().get(s.name()).toDoubleArray());
            Rnn.InputGradients g = pass.backward(dy, finalGrads, true);
            out.put("dx", g.input().toDoubleArray());
            for (StateSpec s : rnn.states()) out.put("d" + s.initialName(), g.initialStates().get(s.name()).toDoubleArray());
        }
        for (String name : rnn.parameterNames()) out.put("grad." + name, rnn.gradient(name).toDoubleArray());
        return out;
    }

    /** The same through the device API: x and dy in device buffers, y read on the device, dL/dx written into a device buffer. */
    private static Map<String, double[]> devicePass(Rnn rnn, Tensor x, Tensor dy, States initial, States finalGrads, int[] lengths) {
        Backend backend = rnn.backend();
        Map<String, double[]> out = new LinkedHashMap<>();
        rnn.zeroGrad();
        rnn.setDropoutStream(7);
        try (DeviceBuffer xs = backend.allocate(x.dtype(), x.size()); DeviceBuffer dys = backend.allocate(dy.dtype(), dy.size());
             DeviceBuffer dxs = backend.allocate(x.dtype(), x.size())) {
            backend.upload(x, DeviceSlice.of(xs));
            backend.upload(dy, DeviceSlice.of(dys));
            try (Rnn.Pass pass = rnn.forwardOnDevice(DeviceSlice.of(xs), T, B, initial, lengths)) {
                out.put("y", backend.download(pass.outputOnDevice(), dy.shape()).toDoubleArray());
                Rnn.InputGradients g = pass.backwardOnDevice(DeviceSlice.of(dys), finalGrads, DeviceSlice.of(dxs));
                for (StateSpec s : rnn.states()) out.put("d" + s.initialName(), g.initialStates().get(s.name()).toDoubleArray());
            }
            out.put("dx", backend.download(DeviceSlice.of(dxs), x.shape()).toDoubleArray());
        }
        for (String name : rnn.parameterNames()) out.put("grad." + name, rnn.gradient(name).toDoubleArray());
        return out;
    }

    private static void assertSameBits(String what, Map<String, double[]> expected, Map<String, double[]> actual) {
        assertEquals(expected.keySet(), actual.keySet(), what);
        double norm = 0;
        for (Map.Entry<String, double[]> e : expected.entrySet()) {
            assertArrayEquals(e.getValue(), actual.get(e.getKey()), what + ": " + e.getKey());
            for (double v : e.getValue()) norm += v * v;
        }
        System.out.printf("  %-58s %2d tensors bit for bit (‖all‖ = %.4g)%n", what, expected.size(), Math.sqrt(norm));
        assertTrue(norm > 0, what + ": something nonzero was compared");
    }

    private static States randomStates(RandomCases r, Rnn rnn, DType dtype) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        int rows = rnn.config().numLayers() * rnn.config().directions();
        for (StateSpec s : rnn.states()) m.put(s.name(), r.uniform(dtype, 0.5, rows, B, s.width()));
        return States.of(m);
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("backendsAndConfigs")
    void checkpointedPassesGiveThePlainPassesBits(String name, RnnConfig config) {
        Backend backend = backends.get(name);
        RandomCases r = new RandomCases(41);
        DType dtype = config.dtype();
        Tensor x = config.batchFirst() ? r.uniform(dtype, 1, B, T, I) : r.uniform(dtype, 1, T, B, I);
        int[] outShape = config.batchFirst() ? new int[]{B, T, config.outputSize()} : new int[]{T, B, config.outputSize()};
        Tensor dy = r.uniform(dtype, 1, outShape);
        try (Rnn plain = new Rnn(config, backend)) {
            plain.initialize(3);
            States initial = randomStates(r, plain, dtype), finalGrads = randomStates(r, plain, dtype);
            for (int[] lengths : new int[][]{null, {T, 4, 9}, {2, T, 1}}) {
                Map<String, double[]> host = hostPass(plain, x, dy, initial, finalGrads, lengths);
                Map<String, double[]> device = devicePass(plain, x, dy, initial, finalGrads, lengths);
                for (int k : new int[]{1, 3, 5, RnnConfig.AUTO_CHECKPOINTS}) {
                    try (Rnn checkpointed = new Rnn(config.withActivationCheckpoints(k), backend)) {
                        for (String p : plain.parameterNames()) checkpointed.setParameter(p, plain.parameter(p));
                        checkpointed.setDropoutSeed(plain.dropoutSeed());
                        String what = name + " k=" + (k < 0 ? "√T" : k) + " lengths " + Arrays.toString(lengths);
                        assertSameBits(what + " host", host, hostPass(checkpointed, x, dy, initial, finalGrads, lengths));
                        assertSameBits(what + " device", device, devicePass(checkpointed, x, dy, initial, finalGrads, lengths));
                    }
                }
            }
        }
    }

    /** The workspace of a checkpointed pass grows as about √T (T ×16: ×4 and some), the plain pass's as T. */
    @Test
    void theWorkspaceGrowsAsTheSquareRootOfT() {
        System.clearProperty("bptt4j.blockRows");
        Backend backend = backends.get("cpu");
        RnnConfig config = RnnConfig.of(RnnMode.LSTM, 8, 16).withDType(DType.F32);
        int batch = 4;
        long[] plainBytes = new long[2], checkpointedBytes = new long[2];
        int[] lengths = {400, 6400};
        for (int i = 0; i < 2; i++) {
            int steps = lengths[i];
            RandomCases r = new RandomCases(5);
            Tensor x = r.uniform(DType.F32, 1, steps, batch, 8), dy = r.uniform(DType.F32, 1, steps, batch, 16);
            List<Long> bytes = new ArrayList<>();
            for (RnnConfig c : new RnnConfig[]{config, config.withActivationCheckpoints()}) {
                try (Rnn rnn = new Rnn(c, backend)) {
                    rnn.initialize(1);
                    try (Rnn.Pass pass = rnn.forward(x, null, null)) {
                        pass.backward(dy, null, true);
                    }
                    bytes.add(rnn.workspaceBytes());
                }
            }
            plainBytes[i] = bytes.get(0);
            checkpointedBytes[i] = bytes.get(1);
            System.out.printf("  T = %5d: plain %,d B, checkpointed %,d B%n", steps, plainBytes[i], checkpointedBytes[i]);
        }
        assertTrue(plainBytes[1] > 12 * plainBytes[0], "the plain pass grows as T");
        assertTrue(checkpointedBytes[1] < 6 * checkpointedBytes[0], "the checkpointed pass grows as about √T");
        assertTrue(checkpointedBytes[1] * 10 < plainBytes[1], "at T = 6400 it holds a tenth of the plain pass's");
    }
}
