package dev.bptt4j.model;

import dev.bptt4j.algo.NonFiniteException;

import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The opt-in NaN/Inf check: exploding float32 set-ups (huge recurrent weights with relu, huge
 * upstream gradients) throw naming the tensor, layer, direction and step where the first
 * non-finite value appears; with the check off the same runs finish and return Inf.
 */
class FiniteCheckTest {
    private static final int H = 4, I = 2, T = 20, B = 3;
    private static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    private static Tensor filled(double v, int... shape) {
        Tensor t = Tensor.zeros(DType.F32, shape);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, v);
        return t;
    }

    /** relu, every weight_hh entry {@code recurrent}, every weight_ih entry {@code input}, no bias. */
    private static Rnn relu(int layers, boolean bidirectional, double input, double recurrent) {
        RnnConfig cfg = RnnConfig.of(RnnMode.RNN_RELU, I, H).withLayers(layers).withBidirectional(bidirectional)
                .withBias(false).withDType(DType.F32);
        Rnn rnn = new Rnn(cfg, backend);
        for (String n : rnn.parameterNames()) {
            rnn.setParameter(n, filled(n.startsWith("weight_hh") ? recurrent : input, rnn.parameterShape(n)));
        }
        rnn.zeroGrad();
        return rnn;
    }

    private static String expectThrow(Rnn rnn, Tensor x, Tensor dy) {
        NonFiniteException e = assertThrows(NonFiniteException.class, () -> {
            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                pass.backward(dy, States.ZEROS);
            }
        });
        System.out.println("finite check: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void explodingHiddenStateIsNamedWithLayerDirectionAndStep() {
        // h_0 = relu(x·W_ih) = 2, h_1 = 4·1e20·2 = 8e20, h_2 = 4·1e20·8e20 > float32's 3.4e38.
        try (Rnn rnn = relu(1, false, 1, 1e20)) {
            rnn.setCheckFinite(true);
            String m = expectThrow(rnn, filled(1, T, B, I), filled(1, T, B, H));
            assertTrue(m.startsWith("non-finite value in hidden state h at layer 0, direction 0, step 2 "), m);
        }
    }

    @Test
    void explodingStateGradientIsNamedWithStep() {
        // The forward stays finite (h grows 8× a step); dy = 1e38 makes dL/dh_{T−2} = 1e38·4·10 overflow at the last step.
        try (Rnn rnn = relu(1, false, 0.01, 2)) {
            rnn.setCheckFinite(true);
            String m = expectThrow(rnn, filled(1, 5, B, I), filled(1e38, 5, B, H));
            assertTrue(m.startsWith("non-finite value in gradient of hidden state h at layer 0, direction 0, step 4 "), m);
        }
    }

    @Test
    void explodingWeightGradientIsNamedByParameter() {
        // T = 1: the state gradients stay finite (W_hh tiny) but dW_ih = δᵀx = 1e30·1e30 overflows.
        try (Rnn rnn = relu(2, true, 0.1, 1e-3)) {
            rnn.setCheckFinite(true);
            String m = expectThrow(rnn, filled(1e30, 1, B, I), filled(1e30, 1, B, 2 * H));
            assertTrue(m.startsWith("non-finite value in gradient of weight_ih_l"), m);
        }
    }

    @Test
    void inputsAreCheckedOnTheHostWithPosition() {
        try (Rnn rnn = relu(1, false, 0.1, 0.1)) {
            rnn.setCheckFinite(true);
            Tensor x = filled(1, T, B, I);
            x.setDouble((7 * B + 1) * I + 1, Double.NaN);
            NonFiniteException e = assertThrows(NonFiniteException.class, () -> rnn.forward(x, States.ZEROS, null));
            System.out.println("finite check: " + e.getMessage());
            assertEquals("non-finite value in input x at step 7, batch entry 1, element 1: NaN", e.getMessage());

            Tensor dy = filled(1, T, B, H);
            dy.setDouble((T - 1) * B * H, Double.POSITIVE_INFINITY); // step T−1 of entry 0: inside its length
            try (Rnn.Pass pass = rnn.forward(filled(1, T, B, I), States.ZEROS, null)) {
                e = assertThrows(NonFiniteException.class, () -> pass.backward(dy, States.ZEROS));
            }
            assertTrue(e.getMessage().startsWith("non-finite value in output gradient dy at step 19, batch entry 0"), e.getMessage());

            // Padding is ignored by the algorithm, so a NaN there is not an error.
            int[] lengths = {T, 5, 5};
            Tensor padded = filled(1, T, B, H);
            padded.setDouble((10 * B + 1) * H, Double.NaN);
            try (Rnn.Pass pass = rnn.forward(filled(1, T, B, I), States.ZEROS, lengths)) {
                pass.backward(padded, States.ZEROS);
            }
        }
    }

    @Test
    void offByDefaultAndThenNoException() {
        try (Rnn rnn = relu(1, false, 1, 1e20)) {
            assertFalse(rnn.checksFinite());
            try (Rnn.Pass pass = rnn.forward(filled(1, T, B, I), States.ZEROS, null)) {
                assertTrue(Float.isInfinite(pass.finalStates().hidden().f32()[0]) || Float.isNaN(pass.finalStates().hidden().f32()[0]));
                pass.backward(filled(1, T, B, H), States.ZEROS);
            }
        }
    }

    @Test
    void countNonFiniteCountsNanAndBothInfinities() {
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            try (var buffer = backend.allocate(dtype, 10)) {
                Tensor t = Tensor.zeros(dtype, 10);
                t.setDouble(2, Double.NaN);
                t.setDouble(5, Double.POSITIVE_INFINITY);
                t.setDouble(9, Double.NEGATIVE_INFINITY);
                backend.upload(t, DeviceSlice.of(buffer));
                assertEquals(3, backend.countNonFinite(DeviceSlice.of(buffer), 10));
                assertEquals(1, backend.countNonFinite(new DeviceSlice(buffer, 3), 5));
                assertEquals(0, backend.countNonFinite(new DeviceSlice(buffer, 6), 3));
            }
        }
    }
}
