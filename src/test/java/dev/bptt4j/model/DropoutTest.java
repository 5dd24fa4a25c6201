package dev.bptt4j.model;

import dev.bptt4j.BackendsUnderTest;
import dev.bptt4j.algo.Dropout;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Conformance: dropout between layers ({@code RnnConfig.withDropout}). The mask kernel keeps 1 − p
 * of the values (within 4σ) scaled by 1/(1 − p) and draws the same mask on every backend; evaluation
 * mode is p = 0 bit for bit; a run with dropout repeats bit for bit and the CPU agrees with the
 * emulated GPU; float64 central differences hold with the masks fixed (a forward replayed from its
 * stream).
 */
class DropoutTest {
    private static final BackendsUnderTest backends = new BackendsUnderTest();

    @AfterAll
    static void shut() {
        backends.close();
    }

    /** The kernel alone over a two-direction layer input: keep rate, kept values, and the same mask everywhere. */
    @Test
    void theMaskKeepsOneMinusPScaledAndIsTheSameOnEveryBackend() {
        int rows = 400, hidden = 37, width = 2 * hidden;
        double p = 0.3;
        int[] timeRow = new int[rows];
        for (int r = 0; r < rows; r++) timeRow[r] = r == 5 ? -1 : 3 * r + 1;
        double[] reference = null;
        for (String name : BackendsUnderTest.list()) {
            for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                Backend b = backends.get(name);
                try (DeviceBuffer x = b.allocate(dtype, (long) rows * width); DeviceBuffer mask = b.allocate(dtype, (long) rows * width);
                     DeviceBuffer index = b.allocate(DType.I32, rows)) {
                    Tensor ones = Tensor.zeros(dtype, rows * width);
                    for (int i = 0; i < ones.size(); i++) ones.setDouble(i, 1.0);
                    b.upload(ones, DeviceSlice.of(x));
                    b.upload(Tensor.ofInts(timeRow, rows), DeviceSlice.of(index));
                    Dropout.FORWARD.args(dtype).on(b).pointer(DeviceSlice.of(x)).pointer(DeviceSlice.of(mask)).pointer(DeviceSlice.of(index))
                            .int32(rows).int32(width).int32(hidden).int32(1).int64(0xC0FFEE_1234L).int64(7).float64(p).real(1 / (1 - p)).launch();
                    double[] m = b.download(DeviceSlice.of(mask), rows * width).toDoubleArray();
                    double[] y = b.download(DeviceSlice.of(x), rows * width).toDoubleArray();
                    double scale = dtype == DType.F32 ? (float) (1 / (1 - p)) : 1 / (1 - p);
                    long kept = 0, live = (long) (rows - 1) * width;
                    for (int i = 0; i < m.length; i++) {
                        if (i / width == 5) {
                            assertEquals(0.0, m[i], "dead row");
                            continue;
                        }
                        assertTrue(m[i] == 0.0 || m[i] == scale, "mask value " + m[i]);
                        assertEquals(m[i], y[i], "x·mask of ones");
                        if (m[i] != 0) kept++;
                    }
                    double rate = (double) kept / live, sigma = Math.sqrt(p * (1 - p) / live);
                    System.out.printf("%s %s: kept %d of %d = %.4f (expected %.2f, %.1f sigma)%n", name, dtype, kept, live, rate, 1 - p,
                            (rate - (1 - p)) / sigma);
                    assertTrue(Math.abs(rate - (1 - p)) <= 4 * sigma, "keep rate " + rate);
                    double[] pattern = Arrays.stream(m).map(v -> v == 0 ? 0 : 1).toArray();
                    if (reference == null) reference = pattern;
                    assertArrayEquals(reference, pattern, name + " " + dtype + ": the same mask as the first backend");
                }
            }
        }
    }

    private static RnnConfig config(double p) {
        return RnnConfig.of(RnnMode.LSTM, 3, 5).withLayers(3).withBidirectional(true).withDropout(p);
    }

    /** Forward and backward of Σ y·dy + Σ hn·dhn on fixed inputs: y, hn and every gradient. */
    private static Map<String, Tensor> step(Rnn rnn, long stream) {
        RandomCases r = new RandomCases(3);
        int steps = 6, batch = 4, states = rnn.config().numLayers() * rnn.config().directions();
        Tensor x = r.uniform(DType.F64, 1, steps, batch, 3), dy = r.uniform(DType.F64, 1, steps, batch, rnn.config().outputSize());
        Tensor dhn = r.uniform(DType.F64, 1, states, batch, 5);
        int[] lengths = {6, 2, 5, 6};
        RandomCases.maskPadding(dy, lengths);
        rnn.zeroGrad();
        rnn.setDropoutStream(stream);
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
            out.put("y", pass.output());
            out.put("hn", pass.finalStates().hidden());
            out.put("grad.x", pass.backward(dy, States.hidden(dhn)).input());
        }
        out.putAll(rnn.gradients());
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void evaluationModeIsPZeroBitForBit(String name) {
        Backend b = backends.get(name);
        try (Rnn dropped = new Rnn(config(0.5), b); Rnn plain = new Rnn(config(0), b)) {
            dropped.initialize(11);
            plain.initialize(11);
            Map<String, Tensor> evaluated = step(dropped.eval(), 0), none = step(plain, 0), trained = step(dropped.train(), 0);
            assertEquals(List.of(), TrainingRuns.bitwiseDifferences(none, evaluated), "eval with p = 0.5 against p = 0");
            assertFalse(TrainingRuns.bitwiseDifferences(none, trained).isEmpty(), "training mode drops something");
            assertEquals(1, dropped.dropoutStream(), "one training forward drew stream 0");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void aRunWithDropoutRepeatsAndTheStreamChangesTheMasks(String name) {
        Backend b = backends.get(name);
        try (Rnn rnn = new Rnn(config(0.4), b)) {
            rnn.initialize(12);
            Map<String, Tensor> first = step(rnn, 5), again = step(rnn, 5), next = step(rnn, 6);
            assertEquals(List.of(), TrainingRuns.bitwiseDifferences(first, again), "the same stream replays the same masks");
            assertFalse(TrainingRuns.bitwiseDifferences(first, next).isEmpty(), "another stream, other masks");
        }
    }

    /** The CPU and the emulated GPU draw the same masks: outputs and gradients agree to float64 rounding. */
    @Test
    void theCpuAgreesWithTheEmulatedGpu() {
        Map<String, Tensor> cpu, gpu;
        try (Backend b = Backends.create("cpu"); Rnn rnn = new Rnn(config(0.4), b)) {
            rnn.initialize(13);
            cpu = step(rnn, 9);
        }
        try (Backend b = Backends.create("cuda-emulated"); Rnn rnn = new Rnn(config(0.4), b)) {
            rnn.initialize(13);
            gpu = step(rnn, 9);
        }
        for (String k : cpu.keySet()) {
            double err = gpu.get(k).relativeError(cpu.get(k));
            System.out.printf("dropout 0.4, cpu vs cuda-emulated %-24s rel.difference %.2e (tolerance 1e-12)%n", k, err);
            assertTrue(err <= 1e-12, k + ": " + err);
        }
    }

    /** Float64 central differences of every parameter with the masks fixed (each forward replays stream 4). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void gradientsMatchCentralDifferencesWithTheMasksFixed(String name) {
        Backend b = backends.get(name);
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.GRU, 2, 3).withLayers(3).withBidirectional(true).withDropout(0.4), b)) {
            rnn.initialize(14);
            RandomCases r = new RandomCases(5);
            Tensor x = r.uniform(DType.F64, 1, 4, 3, 2), dy = r.uniform(DType.F64, 1, 4, 3, 6);
            int[] lengths = {4, 1, 3};
            RandomCases.maskPadding(dy, lengths);
            rnn.zeroGrad();
            rnn.setDropoutStream(4);
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
                pass.backward(dy, States.ZEROS, false);
            }
            double step = 1e-6;
            for (String n : rnn.parameterNames()) {
                Tensor analytic = rnn.gradient(n), value = rnn.parameter(n), numeric = Tensor.zeros(DType.F64, value.shape());
                for (int i = 0; i < value.size(); i++) {
                    double orig = value.getDouble(i);
                    value.setDouble(i, orig + step);
                    rnn.setParameter(n, value);
                    double plus = loss(rnn, x, dy, lengths);
                    value.setDouble(i, orig - step);
                    rnn.setParameter(n, value);
                    double minus = loss(rnn, x, dy, lengths);
                    value.setDouble(i, orig);
                    rnn.setParameter(n, value);
                    numeric.setDouble(i, (plus - minus) / (2 * step));
                }
                double err = analytic.relativeError(numeric);
                System.out.printf("%s dropout 0.4 %-22s rel.error %.2e (tolerance 1e-6)%n", name, n, err);
                assertTrue(err <= 1e-6, n + ": " + err);
            }
        }
    }

    private static double loss(Rnn rnn, Tensor x, Tensor dy, int[] lengths) {
        rnn.setDropoutStream(4);
        try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
            double[] y = pass.output().f64(), g = dy.f64();
            double s = 0;
            for (int i = 0; i < y.length; i++) s += y[i] * g[i];
            return s;
        }
    }

    @Test
    void oneLayerWithDropoutWarnsOnce() {
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        boolean before = Rnn.oneLayerDropoutWarned();
        System.setErr(new PrintStream(captured, true));
        try (Backend b = Backends.create("cpu"); Rnn first = new Rnn(RnnConfig.of(RnnMode.GRU, 2, 3).withDropout(0.2), b);
             Rnn second = new Rnn(RnnConfig.of(RnnMode.GRU, 2, 3).withDropout(0.3), b)) {
            assertTrue(first.isTraining() && second.isTraining());
        } finally {
            System.setErr(saved);
        }
        String err = captured.toString();
        long warnings = err.lines().filter(l -> l.contains("non-zero dropout expects num_layers greater than 1")).count();
        System.out.println("stderr: " + err.trim());
        assertEquals(before ? 0 : 1, warnings, "PyTorch's warning, once per process");
        assertTrue(Rnn.oneLayerDropoutWarned());
    }
}
