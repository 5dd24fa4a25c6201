package dev.bptt4j.model;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Host tensors that fit a Java array but whose device workspace would not fit one CPU buffer
 * (2^31 − 9 elements) are rejected by {@code forward} with an {@link IllegalArgumentException}
 * naming the buffer, before anything is allocated. Each case sits just past the limit for one
 * buffer while the others still fit.
 */
class WorkspaceLimitsTest {
    private static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    private static String rejected(RnnConfig cfg, int steps, int batch) {
        try (Rnn rnn = new Rnn(cfg, backend)) {
            Tensor x = Tensor.zeros(DType.F32, steps, batch, cfg.inputSize());
            long live = backend.liveBuffers(), held = rnn.workspaceBytes();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rnn.forward(x, States.ZEROS, null));
            System.out.println(cfg.mode() + " T=" + steps + " B=" + batch + ": " + e.getMessage());
            assertEquals(live, backend.liveBuffers(), "buffers allocated before the rejection");
            assertEquals(held, rnn.workspaceBytes(), "workspace grown before the rejection");
            return e.getMessage();
        }
    }

    @Test
    void lstmGatesOverPackedRowsTooLarge() {
        // 1.1M packed rows × 4·512 gates = 2.25e9 elements; hidden states 1.1M × 512 still fit.
        String m = rejected(RnnConfig.of(RnnMode.LSTM, 1, 512).withDType(DType.F32), 1100, 1000);
        assertTrue(m.startsWith("gate pre-activations (packed rows × 2048): needs 2252800000 elements"), m);
        assertTrue(m.contains("limit of 2147483639 elements per buffer"), m);
    }

    @Test
    void hiddenStatesOneSlotLongerThanTheGates() {
        // The gates, T·B·H = 2 146 435 072, fit; the hidden states, (T·B + B)·H = 2^31, do not.
        String m = rejected(RnnConfig.of(RnnMode.RNN_TANH, 1, 1024).withBias(false).withDType(DType.F32), 2047, 1024);
        assertTrue(m.startsWith("hidden states ((B + packed rows) × H): needs 2147483648 elements"), m);
    }

    @Test
    void bidirectionalOutputTwiceTheWidth() {
        String m = rejected(RnnConfig.of(RnnMode.RNN_TANH, 1, 1024).withBidirectional(true).withDType(DType.F32), 1100, 1000);
        assertTrue(m.startsWith("output y (T·B·D·H): needs 2252800000 elements"), m);
    }
}
