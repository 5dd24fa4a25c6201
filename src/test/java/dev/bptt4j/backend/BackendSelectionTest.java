package dev.bptt4j.backend;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.backend.cuda.CudaBackend;
import dev.bptt4j.backend.cuda.CudaProbe;
import dev.bptt4j.backend.cuda.EmulatedCudaApi;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * Backend selection on a machine without a usable GPU (this one, and CI): auto falls back to the
 * CPU with one line saying why, gpu fails with that reason, the native load is tried once, and
 * the JVM carries on. On a machine with a GPU these tests are skipped.
 */
class BackendSelectionTest {

    private static String stderrOf(Runnable r) {
        PrintStream saved = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setErr(saved);
        }
        return buffer.toString(StandardCharsets.UTF_8);
    }

    @Test
    void autoFallsBackToTheCpuWithAOneLineReason() {
        assumeFalse(CudaProbe.verdict().usable(), "a GPU is usable here");
        Backend[] chosen = new Backend[1];
        String err = stderrOf(() -> chosen[0] = Backends.create("auto"));
        try (Backend b = chosen[0]) {
            System.out.println("auto: " + b.name() + "; stderr: " + err.strip());
            assertInstanceOf(CpuBackend.class, b);
            assertEquals(1, err.strip().lines().count(), "one line: " + err);
            assertTrue(err.startsWith("bptt4j: using the CPU backend: no usable GPU: "), err);
            assertTrue(err.contains(CudaProbe.verdict().detail()), err);
        }
    }

    @Test
    void gpuFailsWithTheReason() {
        assumeFalse(CudaProbe.verdict().usable(), "a GPU is usable here");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("gpu"));
        System.out.println("gpu: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("device gpu: no usable GPU: "), e.getMessage());
        assertTrue(e.getMessage().contains(CudaProbe.verdict().detail()));
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertThrows(IllegalStateException.class, () -> Backends.create("cuda"));
    }

    @Test
    void theNativeLoadIsTriedOnceAndTheJvmSurvives() {
        for (int i = 0; i < 3; i++) {
            stderrOf(() -> Backends.create("auto").close());
            assertThrows(RuntimeException.class, () -> Backends.create("gpu").close(), "gpu") ;
        }
        CudaProbe.verdict();
        assertEquals(1, CudaProbe.attempts(), "native load attempts");
        assumeFalse(CudaProbe.verdict().usable(), "a GPU is usable here");
        // Why the verdict is kept: JCuda's driver class, once failed, now fails differently and says less.
        Throwable again = assertThrows(Throwable.class, () -> jcuda.driver.JCudaDriver.cuInit(0));
        System.out.println("touching JCudaDriver again: " + again);
        assertInstanceOf(NoClassDefFoundError.class, again);
        assertTrue(CudaProbe.verdict().detail().contains("libcuda.so.1"), CudaProbe.verdict().detail());
    }

    @Test
    void cudaEmulatedNeedsNoGpu() {
        try (Backend b = Backends.create("cuda-emulated")) {
            assertInstanceOf(CudaBackend.class, b);
            assertInstanceOf(EmulatedCudaApi.class, ((CudaBackend) b).api());
            assertEquals("cuda-emulated", b.name());
        }
    }

    @Test
    void unknownDevicesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu"));
        assertTrue(e.getMessage().contains("cuda-emulated"), e.getMessage());
    }
}
