package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Both backends refuse the same bad kernel arguments, with the same message, before touching
 * memory: the contract is written once (KernelContracts) and shared.
 */
class KernelContractsTest {
    private static void rejects(Class<? extends RuntimeException> type, Executable e, String... fragments) {
        RuntimeException ex = assertThrows(type, e);
        System.out.println("rejected: " + ex.getMessage());
        for (String f : fragments) assertTrue(ex.getMessage().contains(f), "'" + ex.getMessage() + "' lacks '" + f + "'");
    }

    @Test
    void everyBackendChecksTheCellKernelsAlike() {
        for (String device : List.of("cpu", "cuda-emulated")) {
            try (Backend b = Backends.create(device)) {
                DeviceBuffer small = b.allocate(DType.F64, 8), big = b.allocate(DType.F64, 64), bias = b.allocate(DType.F64, 3);
                rejects(IndexOutOfBoundsException.class,
                        () -> b.rnnForward(small, 0, big, 0, null, null, null, 0, 3, 4, Activation.TANH, false),
                        "rnnForward hiddenOut", "[0, 12)", "buffer of 8");
                rejects(IndexOutOfBoundsException.class,
                        () -> b.rnnForward(big, 0, big, 0, bias, null, null, 0, 2, 4, Activation.TANH, false),
                        "rnnForward biasIh");
                rejects(IllegalArgumentException.class,
                        () -> b.rnnBackward(big, 0, big, 0, big, 0, big, 0, null, null, 3, 2, 4, Activation.TANH, false),
                        "aliveRows 3", "slotRows");
                rejects(IndexOutOfBoundsException.class,
                        () -> b.lstmForward(big, 0, big, 0, small, 0, null, null, big, 0, 2, 4),
                        "lstmForward gates");
                rejects(IndexOutOfBoundsException.class,
                        () -> b.gruBackward(big, 0, big, 0, big, 0, big, 60, big, 0, null, 2, 2, 4),
                        "gruBackward hiddenPrev");
                rejects(IllegalArgumentException.class,
                        () -> b.lstmBackward(big, 0, null, 0, big, 0, big, 0, big, 0, big, 0, 1, 1, 4),
                        "lstmBackward hiddenGradCarry", "null");
                small.close();
                big.close();
                bias.close();
            }
        }
    }
}
