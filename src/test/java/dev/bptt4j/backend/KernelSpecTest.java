package dev.bptt4j.backend;

import dev.bptt4j.cell.Elman;
import dev.bptt4j.cell.Gru;
import dev.bptt4j.cell.Lstm;
import dev.bptt4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernel contracts are written once, in each {@link KernelSpec}, and every backend runs them
 * before it touches memory: both backends refuse the same bad arguments with the same message.
 */
class KernelSpecTest {
    private static String rejects(Class<? extends RuntimeException> type, Executable e, String... fragments) {
        RuntimeException ex = assertThrows(type, e);
        for (String f : fragments) assertTrue(ex.getMessage().contains(f), "'" + ex.getMessage() + "' lacks '" + f + "'");
        return ex.getMessage();
    }

    @Test
    void everyBackendChecksTheCellKernelsAlike() {
        List<List<String>> messages = new ArrayList<>();
        for (String device : List.of("cpu", "cuda-emulated")) {
            try (Backend b = Backends.create(device)) {
                DeviceSlice small = DeviceSlice.of(b.allocate(DType.F64, 8)), big = DeviceSlice.of(b.allocate(DType.F64, 64));
                DeviceSlice bias = DeviceSlice.of(b.allocate(DType.F64, 3)), ints = DeviceSlice.of(b.allocate(DType.I32, 64));
                List<String> m = new ArrayList<>();
                m.add(rejects(IndexOutOfBoundsException.class,
                        () -> Elman.FORWARD.args(DType.F64).on(b).pointer(small).pointer(big).pointer(null).pointer(null).pointer(null)
                                .int32(3).int32(4).int32(0).int32(0).launch(),
                        "rnn_forward hiddenOut", "[0, 12)", "buffer of 8"));
                m.add(rejects(IndexOutOfBoundsException.class,
                        () -> Elman.FORWARD.args(DType.F64).on(b).pointer(big).pointer(big).pointer(bias).pointer(null).pointer(null)
                                .int32(2).int32(4).int32(0).int32(0).launch(),
                        "rnn_forward biasIh"));
                m.add(rejects(IllegalArgumentException.class,
                        () -> Elman.FORWARD.args(DType.F64).on(b).pointer(big).pointer(big).pointer(null).pointer(null).pointer(null)
                                .int32(2).int32(4).int32(0).int32(1).launch(),
                        "hiddenPrev when residual"));
                m.add(rejects(IllegalArgumentException.class,
                        () -> Elman.BACKWARD.args(DType.F64).on(b).pointer(big).pointer(big).pointer(big).pointer(big).pointer(null)
                                .pointer(null).int32(3).int32(2).int32(4).int32(0).int32(0).launch(),
                        "aliveRows <= slotRows", "aliveRows = 3", "slotRows = 2"));
                m.add(rejects(IndexOutOfBoundsException.class,
                        () -> Lstm.FORWARD.args(DType.F64).on(b).pointer(big).pointer(big).pointer(small).pointer(null).pointer(null)
                                .pointer(big).int32(2).int32(4).launch(),
                        "lstm_forward gates"));
                m.add(rejects(IndexOutOfBoundsException.class,
                        () -> Gru.BACKWARD.args(DType.F64).on(b).pointer(big).pointer(big).pointer(big).pointer(big.plus(60)).pointer(big)
                                .pointer(null).int32(2).int32(2).int32(4).launch(),
                        "gru_backward hiddenPrev"));
                m.add(rejects(IllegalArgumentException.class,
                        () -> Lstm.BACKWARD.args(DType.F64).on(b).pointer(big).pointer(big).pointer(null).pointer(big).pointer(big)
                                .pointer(big).int32(1).int32(1).int32(4).launch(),
                        "lstm_backward cellGradCarry", "null"));
                m.add(rejects(IllegalArgumentException.class,
                        () -> Elman.FORWARD.args(DType.F64).on(b).pointer(ints).pointer(big).pointer(null).pointer(null).pointer(null)
                                .int32(2).int32(4).int32(0).int32(0).launch(),
                        "rnn_forward hiddenOut", "expected an F64 buffer, got I32"));
                m.add(rejects(IllegalArgumentException.class,
                        () -> Elman.FORWARD.args(DType.F64).on(b).pointer(big).pointer(big).int32(2), "argument 2", "POINTER"));
                m.add(rejects(IllegalArgumentException.class,
                        () -> Elman.FORWARD.args(DType.F64).on(b).pointer(big).pointer(big).launch(), "rnn_forward takes 9 arguments"));
                big.buffer().close();
                m.add(rejects(IllegalStateException.class,
                        () -> Packing.fill(b, big, 4, 0.0), "fill dst", "used after close"));
                System.out.println(device + ":");
                m.forEach(s -> System.out.println("  rejected: " + s));
                messages.add(m);
            }
        }
        assertEquals(messages.get(0), messages.get(1), "the same contract, the same messages, on every backend");
    }

    @Test
    void closedBackendsRefuseEveryUse() {
        for (String device : List.of("cpu", "cuda-emulated")) {
            Backend b = Backends.create(device);
            DeviceSlice s = DeviceSlice.of(b.allocate(DType.F64, 4));
            b.close();
            assertTrue(b.isClosed());
            String m = rejects(IllegalStateException.class, () -> b.allocate(DType.F64, 4), device);
            System.out.println(device + " after close: " + m);
            rejects(IllegalStateException.class, () -> Packing.fill(b, s, 4, 1.0));
            rejects(IllegalStateException.class, () -> b.gemm(false, false, 1, 1, 1, 1.0, s, 1, s, 1, 0.0, s, 1));
        }
    }
}
