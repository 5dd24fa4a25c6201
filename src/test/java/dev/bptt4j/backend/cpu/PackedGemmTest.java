package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.DeviceSlice;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.PackedOperand;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Packed right operands (MKL) give plain gemm's product, for both transposes and dtypes, at
 * offsets and with beta; their memory is reused and released; misuse is refused. With OpenBLAS
 * the backend declines to pack.
 */
class PackedGemmTest {
    @Test
    void packedProductEqualsGemm() {
        try (CpuBackend backend = new CpuBackend()) {
            for (DType dtype : new DType[]{DType.F32, DType.F64}) {
                for (boolean transpose : new boolean[]{true, false}) {
                    int m = 13, n = 37, k = 29;
                    SplittableRandom r = new SplittableRandom(dtype.ordinal() * 2 + (transpose ? 1 : 0));
                    try (DeviceBuffer a = random(backend, dtype, 5 + m * k, r); DeviceBuffer b = random(backend, dtype, 3 + n * k, r);
                         DeviceBuffer c1 = random(backend, dtype, 7 + m * n, r); DeviceBuffer c2 = backend.allocate(dtype, 7 + m * n)) {
                        backend.upload(backend.download(DeviceSlice.of(c1), 7 + m * n), DeviceSlice.of(c2));
                        int ldb = transpose ? k : n;
                        backend.gemm(false, transpose, m, n, k, 1.0, new DeviceSlice(a, 5), k, new DeviceSlice(b, 3), ldb, 0.5, new DeviceSlice(c1, 7), n);
                        try (PackedOperand p = backend.packRightOperand(transpose, m, n, k, new DeviceSlice(b, 3), ldb)) {
                            if (backend.blas().equals("openblas")) {
                                assertNull(p, "OpenBLAS has no packed GEMM");
                                continue;
                            }
                            assertEquals(m, p.rows());
                            backend.gemmPacked(new DeviceSlice(a, 5), k, p, 0.5, new DeviceSlice(c2, 7), n);
                        }
                        double[] want = backend.download(DeviceSlice.of(c1), 7 + m * n).toDoubleArray(), got = backend.download(DeviceSlice.of(c2), 7 + m * n).toDoubleArray();
                        double tol = dtype == DType.F32 ? 1e-5 : 1e-13;
                        for (int i = 0; i < want.length; i++) {
                            assertEquals(want[i], got[i], tol * (1 + Math.abs(want[i])), dtype + " transpose=" + transpose + " element " + i);
                        }
                    }
                }
            }
            if (backend.blas().equals("mkl")) assertTrue(backend.packedBlocks() > 0, "packing memory is kept for reuse");
        }
    }

    @Test
    void memoryIsReusedAndReleasedAndMisuseRefused() {
        CpuBackend backend = new CpuBackend();
        try (DeviceBuffer w = backend.allocate(DType.F32, 64 * 64); DeviceBuffer a = backend.allocate(DType.F32, 8 * 64);
             DeviceBuffer c = backend.allocate(DType.F32, 8 * 64); DeviceBuffer d = backend.allocate(DType.F64, 8 * 64)) {
            PackedOperand first = backend.packRightOperand(true, 8, 64, 64, DeviceSlice.of(w), 64);
            if (first == null) return; // OpenBLAS: nothing to pack (checked above)
            first.close();
            for (int i = 0; i < 5; i++) backend.packRightOperand(true, 8, 64, 64, DeviceSlice.of(w), 64).close();
            assertEquals(1, backend.packedBlocks(), "one block serves repeated passes");
            PackedOperand p = backend.packRightOperand(true, 8, 64, 64, DeviceSlice.of(w), 64);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.gemmPacked(DeviceSlice.of(a), 64, p, 0.0, DeviceSlice.of(d), 64));
            assertTrue(e.getMessage().contains("dtypes"), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> backend.gemmPacked(new DeviceSlice(a, 8 * 64 - 10), 64, p, 0.0, DeviceSlice.of(c), 64), "A out of range");
            assertThrows(IndexOutOfBoundsException.class, () -> backend.packRightOperand(true, 8, 64, 65, DeviceSlice.of(w), 65), "B out of range");
            p.close();
            assertThrows(IllegalStateException.class, () -> backend.gemmPacked(DeviceSlice.of(a), 64, p, 0.0, DeviceSlice.of(c), 64), "use after close");
        }
        backend.close();
        assertEquals(0, backend.packedBlocks(), "packing memory freed with the backend");
    }

    private static DeviceBuffer random(CpuBackend backend, DType dtype, int n, SplittableRandom r) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextDouble() * 2 - 1;
        DeviceBuffer b = backend.allocate(dtype, n);
        backend.upload(Tensor.of(v, n).to(dtype), DeviceSlice.of(b));
        return b;
    }
}
