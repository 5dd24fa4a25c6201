package dev.bptt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * OpenBLAS's thread count is process-global: the first CPU backend sets it and later backends,
 * whatever they ask for, neither change it nor report anything else.
 */
class CpuThreadsTest {
    @Test
    void firstBackendSetsTheProcessThreadCountAndLaterOnesKeepIt() {
        try (CpuBackend first = new CpuBackend(1)) {
            int inEffect = first.threads();
            int openBlas = CpuBlas.process().threads();
            for (int asked : new int[]{1, 2, 3, 7}) {
                try (CpuBackend later = new CpuBackend(asked)) {
                    System.out.printf("asked for %d thread(s): backend reports %d, BLAS runs %d (process count %d)%n",
                            asked, later.threads(), CpuBlas.process().threads(), inEffect);
                    assertEquals(inEffect, later.threads(), "threads() of a later backend");
                    assertEquals(openBlas, CpuBlas.process().threads(), "BLAS thread count after a later backend");
                }
            }
        }
    }
}
