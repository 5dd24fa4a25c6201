package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every kind of bad input is rejected before any native call, with a message naming the argument. */
class ValidationTest {
    private static CpuBackend backend;
    private static Rnn rnn;
    private static final RnnConfig CFG = RnnConfig.of(RnnMode.RNN_TANH, 3, 4).withLayers(2);

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
        rnn = new Rnn(CFG, backend);
        rnn.initialize(1);
    }

    @AfterAll
    static void shut() {
        rnn.close();
        backend.close();
    }

    static void rejects(Executable e, String... fragments) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        System.out.println("rejected: " + ex.getMessage());
        for (String f : fragments) assertTrue(ex.getMessage().contains(f), "message '" + ex.getMessage() + "' lacks '" + f + "'");
    }

    static Tensor x(int t, int b, int i) {
        return Tensor.zeros(DType.F64, t, b, i);
    }

    @Test
    void inputShapeAndDtype() {
        rejects(() -> rnn.forward(Tensor.zeros(DType.F64, 2, 3), States.ZEROS, null), "x", "3-D");
        rejects(() -> rnn.forward(x(2, 3, 5), States.ZEROS, null), "x", "(*, *, 3)", "[2, 3, 5]");
        rejects(() -> rnn.forward(Tensor.zeros(DType.F32, 2, 3, 3), States.ZEROS, null), "x", "dtype F64", "F32");
        rejects(() -> rnn.forward(x(0, 3, 3), States.ZEROS, null), "x", "T");
        rejects(() -> rnn.forward(x(2, 0, 3), States.ZEROS, null), "x", "B");
        rejects(() -> rnn.forward(null, States.ZEROS, null), "x", "null");
    }

    @Test
    void initialStateShape() {
        rejects(() -> rnn.forward(x(2, 3, 3), States.hidden(Tensor.zeros(DType.F64, 1, 3, 4)), null), "h0", "(2, 3, 4)", "dim 0");
        rejects(() -> rnn.forward(x(2, 3, 3), States.hidden(Tensor.zeros(DType.F64, 2, 2, 4)), null), "h0", "dim 1");
    }

    @Test
    void lengthsOutOfRange() {
        rejects(() -> rnn.forward(x(4, 3, 3), States.ZEROS, new int[]{4, 0, 1}), "lengths[1]", "1..4", "got 0");
        rejects(() -> rnn.forward(x(4, 3, 3), States.ZEROS, new int[]{4, 5, 1}), "lengths[1]", "got 5");
        rejects(() -> rnn.forward(x(4, 3, 3), States.ZEROS, new int[]{4, 2}), "lengths", "3 entries", "got 2");
        rejects(() -> Rnn.lengthsFrom(Tensor.of(new double[]{1.5}, 1)), "lengths[0]", "integer");
    }

    @Test
    void upstreamGradientShapes() {
        try (Rnn.Pass p = rnn.forward(x(4, 3, 3), States.ZEROS, null)) {
            rejects(() -> p.backward(Tensor.zeros(DType.F64, 4, 3, 5), States.ZEROS), "dy", "(4, 3, 4)");
            rejects(() -> p.backward(Tensor.zeros(DType.F64, 4, 3, 4), States.hidden(Tensor.zeros(DType.F64, 1, 3, 4))), "dhn", "(2, 3, 4)");
        }
    }

    @Test
    void staleOrRepeatedBackward() {
        Rnn.Pass first = rnn.forward(x(2, 1, 3), States.ZEROS, null);
        try (Rnn.Pass second = rnn.forward(x(2, 1, 3), States.ZEROS, null)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> first.backward(Tensor.zeros(DType.F64, 2, 1, 4), States.ZEROS));
            assertTrue(e.getMessage().contains("newer forward"), e.getMessage());
            second.backward(Tensor.zeros(DType.F64, 2, 1, 4), States.ZEROS);
            IllegalStateException again = assertThrows(IllegalStateException.class, () -> second.backward(Tensor.zeros(DType.F64, 2, 1, 4), States.ZEROS));
            assertTrue(again.getMessage().contains("already"), again.getMessage());
        }
    }

    /** A closed pass's backward once said "already differentiated"; it must say that the pass is closed, whether or not it was used. */
    @Test
    void backwardAfterCloseSaysThePassIsClosed() {
        Tensor dy = Tensor.zeros(DType.F64, 2, 1, 4);
        Rnn.Pass unused = rnn.forward(x(2, 1, 3), States.ZEROS, null);
        unused.close();
        for (Executable call : new Executable[]{() -> unused.backward(dy, States.ZEROS), () -> unused.backward(dy, States.ZEROS, false),
                () -> unused.outputOnDevice()}) {
            IllegalStateException e = assertThrows(IllegalStateException.class, call);
            System.out.println("refused: " + e.getMessage());
            assertTrue(e.getMessage().endsWith("this pass has been closed"), e.getMessage());
        }
        Rnn.Pass used = rnn.forward(x(2, 1, 3), States.ZEROS, null);
        used.backward(dy, States.ZEROS);
        used.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> used.backward(dy, States.ZEROS));
        assertEquals("backward: this pass has been closed", e.getMessage());
    }

    @Test
    void parameters() {
        rejects(() -> rnn.setParameter("weight_hh_l0", Tensor.zeros(DType.F64, 4, 3)), "weight_hh_l0", "[4, 4]", "[4, 3]");
        rejects(() -> rnn.setParameter("weight_hh_l7", Tensor.zeros(DType.F64, 4, 4)), "weight_hh_l7", "no such parameter");
        rejects(() -> rnn.loadStateDict(Map.of("weight_ih_l0", Tensor.zeros(DType.F64, 4, 3)), true), "missing parameter");
        Map<String, Tensor> extra = new java.util.HashMap<>(rnn.stateDict());
        extra.put("bogus", Tensor.zeros(DType.F64, 1));
        rejects(() -> rnn.loadStateDict(extra, true), "unexpected entry 'bogus'");
    }

    @Test
    void configuration() {
        rejects(() -> RnnConfig.of(RnnMode.RNN_TANH, 0, 4), "inputSize", "got 0");
        rejects(() -> RnnConfig.of(RnnMode.RNN_TANH, 3, -1), "hiddenSize");
        rejects(() -> RnnConfig.of(RnnMode.RNN_TANH, 3, 4).withLayers(0), "numLayers");
        rejects(() -> RnnConfig.of(RnnMode.RNN_TANH, 3, 4).withDType(DType.I64), "dtype");
        rejects(() -> RnnMode.parse("RNN_SIGMOID"), "mode", "RNN_SIGMOID");
    }

    @Test
    void hugeShapesAreRejectedWithAMessage() {
        rejects(() -> Tensor.zeros(DType.F32, 70000, 70000), "elements", "Java array");
        rejects(() -> backend.allocate(DType.F32, 3L << 30), "exceeds", "limit");
    }

    @Test
    void nothingLeaksAcrossManyCalls() {
        long before = backend.liveBuffers();
        try (Rnn r = new Rnn(CFG, backend)) {
            r.initialize(2);
            for (int i = 0; i < 20; i++) {
                try (Rnn.Pass p = r.forward(x(2 + i % 3, 1 + i % 4, 3), States.ZEROS, null)) {
                    p.backward(Tensor.zeros(DType.F64, 2 + i % 3, 1 + i % 4, 4), States.ZEROS);
                }
            }
        }
        assertEquals(before, backend.liveBuffers(), "live CPU buffers after closing the model");
    }

    @Test
    void cellStateArguments() {
        Tensor states = Tensor.zeros(DType.F64, 2, 3, 4);
        rejects(() -> rnn.forward(x(2, 3, 3), States.of("h", null, "c", states), null), "c0", "RNN_TANH", "no cell state");
        try (Rnn lstm = new Rnn(RnnConfig.of(RnnMode.LSTM, 3, 4).withLayers(2), backend)) {
            lstm.initialize(3);
            rejects(() -> lstm.forward(x(2, 3, 3), States.of("h", null, "c", Tensor.zeros(DType.F64, 2, 2, 4)), null), "c0", "(2, 3, 4)", "dim 1");
            try (Rnn.Pass p = lstm.forward(x(2, 3, 3), States.of("h", null, "c", states), null)) {
                assertArrayEquals(new int[]{2, 3, 4}, p.finalStates().cell().shape());
                rejects(() -> p.backward(Tensor.zeros(DType.F64, 2, 3, 4), States.of("h", null, "c", Tensor.zeros(DType.F64, 1, 3, 4)), true), "dcn", "(2, 3, 4)");
                Rnn.InputGradients g = p.backward(Tensor.zeros(DType.F64, 2, 3, 4), States.ZEROS, false);
                assertArrayEquals(new int[]{2, 3, 4}, g.initialStates().cell().shape());
            }
        }
        try (Rnn.Pass p = rnn.forward(x(2, 3, 3), States.ZEROS, null)) {
            assertEquals(null, p.finalStates().cell());
            rejects(() -> p.backward(Tensor.zeros(DType.F64, 2, 3, 4), States.of("h", null, "c", states), true), "dcn", "no cell state");
        }
    }
}
