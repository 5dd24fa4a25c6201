package dev.bptt4j.model;

import dev.bptt4j.algo.NonFiniteException;

import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device-resident step (x, dy and dL/dx in device buffers, y read where it lies) against the
 * host-tensor step on the same backend, for the layouts that take different routes: full and
 * packed, one and two directions, two layers, every cell (float64, to 1e-12; the host step itself
 * is checked against PyTorch and finite differences elsewhere). Then the checks that come before
 * any native call.
 */
class ResidentTensorsTest {
    private static final int T = 5, B = 4;

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.bptt4j.BackendsUnderTest#names")
    void residentStepsEqualHostSteps(String device) {
        {
            RandomCases r = new RandomCases(21);
            compare(device, RnnConfig.of(RnnMode.RNN_TANH, 3, 6).withDType(DType.F64), null, r);
            compare(device, RnnConfig.of(RnnMode.RNN_RELU, 3, 6).withResidual(true).withDType(DType.F64), r.lengths(B, T), r);
            compare(device, RnnConfig.of(RnnMode.LSTM, 3, 6).withDType(DType.F64), r.lengths(B, T), r);
            compare(device, RnnConfig.of(RnnMode.LSTM, 3, 6).withDType(DType.F64), null, r);
            compare(device, RnnConfig.of(RnnMode.GRU, 3, 6).withLayers(2).withBidirectional(true).withDType(DType.F64), null, r);
            compare(device, RnnConfig.of(RnnMode.GRU, 3, 6).withLayers(2).withBidirectional(true).withDType(DType.F64), r.lengths(B, T), r);
            compare(device, RnnConfig.of(RnnMode.RNN_TANH, 3, 6).withLayers(2).withDType(DType.F64), r.lengths(B, T), r);
        }
    }

    private static void compare(String device, RnnConfig config, int[] lengths, RandomCases r) {
        String what = device + " " + config.mode() + " layers " + config.numLayers() + " dirs " + config.directions()
                + " lengths " + Arrays.toString(lengths);
        int states = config.numLayers() * config.directions(), out = config.directions() * config.hiddenSize();
        boolean lstm = config.mode() == RnnMode.LSTM;
        Tensor x = r.uniform(DType.F64, 1, T, B, config.inputSize()), dy = r.uniform(DType.F64, 1, T, B, out);
        RandomCases.maskPadding(dy, lengths);
        Tensor h0 = r.uniform(DType.F64, 0.5, states, B, config.hiddenSize()), dhn = r.uniform(DType.F64, 1, states, B, config.hiddenSize());
        Tensor c0 = lstm ? r.uniform(DType.F64, 0.5, states, B, config.hiddenSize()) : null;
        Tensor dcn = lstm ? r.uniform(DType.F64, 1, states, B, config.hiddenSize()) : null;
        try (Backend backend = Backends.create(device); Rnn host = new Rnn(config, backend); Rnn resident = new Rnn(config, backend);
             DeviceBuffer xs = backend.allocate(DType.F64, x.size() + 3); DeviceBuffer dys = backend.allocate(DType.F64, dy.size() + 2);
             DeviceBuffer dxs = backend.allocate(DType.F64, x.size() + 1)) {
            host.initialize(4);
            resident.loadStateDict(host.stateDict(), true);
            backend.upload(x, new DeviceSlice(xs, 3));
            backend.upload(dy, new DeviceSlice(dys, 2));
            Packing.fill(backend, DeviceSlice.of(dxs), dxs.elements(), 7.0); // dL/dx must overwrite every element, padding included
            for (int step = 0; step < 2; step++) { // the second step runs on reused workspace
                Tensor y, hn, cn, dx;
                Rnn.InputGradients g;
                try (Rnn.Pass pass = host.forward(x, States.of("h", h0, "c", c0), lengths)) {
                    y = pass.output();
                    hn = pass.finalStates().hidden();
                    cn = pass.finalStates().cell();
                    g = pass.backward(dy, States.of("h", dhn, "c", dcn), true);
                }
                Rnn.InputGradients rg;
                try (Rnn.Pass pass = resident.forwardOnDevice(new DeviceSlice(xs, 3), T, B, States.of("h", h0, "c", c0), lengths)) {
                    DeviceSlice ys = pass.outputOnDevice();
                    near(what + " y", y, backend.download(new DeviceSlice(ys.buffer(), ys.offset()), T, B, out));
                    near(what + " hn", hn, pass.finalStates().hidden());
                    if (lstm) near(what + " cn", cn, pass.finalStates().cell());
                    rg = pass.backwardOnDevice(new DeviceSlice(dys, 2), States.of("h", dhn, "c", dcn), new DeviceSlice(dxs, 1));
                }
                assertNull(rg.input(), what + ": dL/dx went to the device");
                near(what + " dL/dx", g.input(), backend.download(new DeviceSlice(dxs, 1), T, B, config.inputSize()));
                assertEquals(7.0, backend.download(DeviceSlice.of(dxs), 1).getDouble(0), what + ": the element before dL/dx");
                near(what + " dL/dh0", g.initialHidden(), rg.initialHidden());
                if (lstm) near(what + " dL/dc0", g.initialStates().cell(), rg.initialStates().cell());
                Map<String, Tensor> hostGrads = host.gradients(), residentGrads = resident.gradients();
                for (String n : host.parameterNames()) near(what + " grad " + n, hostGrads.get(n), residentGrads.get(n));
            }
        }
    }

    private static void near(String what, Tensor expected, Tensor actual) {
        assertTrue(Arrays.equals(expected.shape(), actual.shape()), what + ": shape " + Arrays.toString(actual.shape()));
        double err = actual.relativeError(expected);
        assertTrue(err <= 1e-12, what + ": relative error " + err);
    }

    @Test
    void badDeviceArgumentsAreRejectedBeforeAnyNativeCall() {
        RnnConfig config = RnnConfig.of(RnnMode.RNN_TANH, 3, 4).withDType(DType.F32);
        try (Backend backend = Backends.create("cpu"); Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(1);
            DeviceBuffer x = backend.allocate(DType.F32, (long) T * B * 3);
            DeviceBuffer dy = backend.allocate(DType.F32, (long) T * B * 4);
            DeviceBuffer dx = backend.allocate(DType.F32, (long) T * B * 3);
            try (DeviceBuffer wrongType = backend.allocate(DType.F64, (long) T * B * 3)) {
                assertMessage(IllegalArgumentException.class, "x: expected a F32 buffer",
                        () -> rnn.forwardOnDevice(new DeviceSlice(wrongType, 0), T, B, States.ZEROS, null));
            }
            assertMessage(IllegalArgumentException.class, "x: (5, 4, 3) needs 60 elements from offset 1",
                    () -> rnn.forwardOnDevice(new DeviceSlice(x, 1), T, B, States.ZEROS, null));
            assertMessage(IllegalArgumentException.class, "x: batch size B must be >= 1",
                    () -> rnn.forwardOnDevice(new DeviceSlice(x, 0), T, 0, States.ZEROS, null));
            assertMessage(IllegalArgumentException.class, "lengths",
                    () -> rnn.forwardOnDevice(new DeviceSlice(x, 0), T, B, States.ZEROS, new int[]{1, 2, 6, 1}));
            assertMessage(IllegalArgumentException.class, "c0: RNN_TANH has no cell state",
                    () -> rnn.forwardOnDevice(new DeviceSlice(x, 0), T, B, States.of("h", null, "c", Tensor.zeros(DType.F32, 1, B, 4)), null));

            try (Rnn.Pass pass = rnn.forwardOnDevice(new DeviceSlice(x, 0), T, B, States.ZEROS, null)) {
                assertMessage(IllegalArgumentException.class, "dy: (5, 4, 4) needs 80 elements from offset 4",
                        () -> pass.backwardOnDevice(new DeviceSlice(dy, 4), States.ZEROS, new DeviceSlice(dx, 0)));
                assertMessage(IllegalArgumentException.class, "dL/dx: elements [0, 60) overlap x",
                        () -> pass.backwardOnDevice(new DeviceSlice(dy, 0), States.ZEROS, new DeviceSlice(x, 0)));
                assertMessage(IllegalArgumentException.class, "dL/dx: (5, 4, 3) needs 60 elements from offset 30",
                        () -> pass.backwardOnDevice(new DeviceSlice(dy, 0), States.ZEROS, new DeviceSlice(dy, 30)));
                x.close();
                assertMessage(IllegalStateException.class, "x: the device buffer given to forwardOnDevice was closed before backward",
                        () -> pass.backwardOnDevice(new DeviceSlice(dy, 0), States.ZEROS, new DeviceSlice(dx, 0)));
            }
            assertMessage(IllegalStateException.class, "x: the device buffer is closed",
                    () -> rnn.forwardOnDevice(new DeviceSlice(x, 0), T, B, States.ZEROS, null));
            try (Backend other = Backends.create("cuda-emulated"); DeviceBuffer foreign = other.allocate(DType.F32, (long) T * B * 3)) {
                assertMessage(IllegalArgumentException.class, "does not belong to the CPU backend",
                        () -> rnn.forwardOnDevice(new DeviceSlice(foreign, 0), T, B, States.ZEROS, null));
            }
            dy.close();
            dx.close();
        }
    }

    @Test
    void theFiniteCheckCoversDeviceInputs() {
        RnnConfig config = RnnConfig.of(RnnMode.RNN_TANH, 3, 4).withDType(DType.F64);
        for (int[] lengths : new int[][]{null, {5, 2, 3, 1}}) {
            try (Backend backend = Backends.create("cpu"); Rnn rnn = new Rnn(config, backend);
                 DeviceBuffer x = backend.allocate(DType.F64, (long) T * B * 3); DeviceBuffer dy = backend.allocate(DType.F64, (long) T * B * 4)) {
                rnn.initialize(1);
                rnn.setCheckFinite(true);
                Packing.fill(backend, DeviceSlice.of(x), x.elements(), 0.5);
                Packing.fill(backend, new DeviceSlice(x, 7), 1, Double.NaN);
                assertMessage(NonFiniteException.class, "non-finite value in input x",
                        () -> rnn.forwardOnDevice(new DeviceSlice(x, 0), T, B, States.ZEROS, lengths));
                Packing.fill(backend, new DeviceSlice(x, 7), 1, 0.5);
                Packing.fill(backend, DeviceSlice.of(dy), dy.elements(), 0.25);
                Packing.fill(backend, new DeviceSlice(dy, 4), 1, Double.POSITIVE_INFINITY); // step 0, sequence 1: alive in both layouts
                try (Rnn.Pass pass = rnn.forwardOnDevice(new DeviceSlice(x, 0), T, B, States.ZEROS, lengths)) {
                    assertMessage(NonFiniteException.class, "non-finite value in output gradient dy",
                            () -> pass.backwardOnDevice(new DeviceSlice(dy, 0), States.ZEROS, null));
                }
            }
        }
    }

    private static void assertMessage(Class<? extends Throwable> type, String part, org.junit.jupiter.api.function.Executable call) {
        Throwable t = assertThrows(type, call);
        assertTrue(t.getMessage().contains(part), "message \"" + t.getMessage() + "\" lacks \"" + part + "\"");
    }
}
