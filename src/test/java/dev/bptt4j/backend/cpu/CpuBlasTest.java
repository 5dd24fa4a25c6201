package dev.bptt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The BLAS choice: the library the backend reports is the one asked for (auto means MKL on
 * x86-64 Linux, where its natives ship), and a misspelt choice is refused by name.
 */
class CpuBlasTest {
    @Test
    void backendRunsTheRequestedBlas() {
        String requested = CpuBlas.requested();
        String expected = requested.equals("auto")
                ? (System.getProperty("os.arch").equals("amd64") && System.getProperty("os.name").startsWith("Linux") ? "mkl" : "openblas")
                : requested;
        try (CpuBackend backend = new CpuBackend()) {
            System.out.println("requested " + requested + ": " + backend.description());
            assertEquals(expected, backend.blas());
            assertTrue(backend.description().contains(expected.equals("mkl") ? "Math Kernel Library" : "OpenBLAS"), backend.description());
        }
    }

    @Test
    void unknownChoiceIsRefusedByName() {
        String old = System.getProperty("bptt4j.blas");
        System.setProperty("bptt4j.blas", "atlas");
        try {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CpuBlas::requested);
            assertTrue(e.getMessage().contains("bptt4j.blas") && e.getMessage().contains("atlas"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty("bptt4j.blas");
            else System.setProperty("bptt4j.blas", old);
        }
    }
}
