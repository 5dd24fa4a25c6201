package dev.bptt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The BLAS choice: the library the backend reports is the one asked for (auto: the one
 * {@link BlasRule} picks for this CPU, see BlasRuleTest), and a misspelt choice is refused by name.
 */
class CpuBlasTest {
    @Test
    void backendRunsTheRequestedBlas() {
        String requested = CpuBlas.requested();
        String expected = requested.equals("auto") ? BlasRule.choose(CpuInfo.host()).library() : requested;
        try (CpuBackend backend = new CpuBackend()) {
            System.out.println("requested " + requested + ": " + backend.description());
            assertEquals(expected, backend.blas());
            assertTrue(backend.description().contains(expected.equals("mkl") ? "Math Kernel Library" : "OpenBLAS"), backend.description());
            assertTrue(backend.description().contains(requested.equals("auto") ? "(auto" : "(set by "), backend.description());
            if (expected.equals("openblas")) {
                assertTrue(backend.description().matches(".*OpenBLAS \\d+\\.\\d+\\.\\d+.*, core [a-z0-9]+ .*"), "version and core: " + backend.description());
            }
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
