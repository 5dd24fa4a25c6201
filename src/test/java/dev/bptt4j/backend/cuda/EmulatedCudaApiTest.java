package dev.bptt4j.backend.cuda;

import dev.bptt4j.cell.Elman;
import dev.bptt4j.cell.Lstm;
import dev.bptt4j.cell.Gru;
import dev.bptt4j.backend.Packing;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The emulated device itself: its GEMM against a naive loop, and each misuse it must catch. */
class EmulatedCudaApiTest {

    private static double[] random(Random r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian();
        return v;
    }

    private static long upload(EmulatedCudaApi d, double[] v) {
        long p = d.allocate(DType.F64, v.length);
        d.copyHostToDevice(p, Tensor.of(v, v.length));
        return p;
    }

    private static double[] download(EmulatedCudaApi d, long p, int n) {
        Tensor t = Tensor.zeros(DType.F64, n);
        d.copyDeviceToHost(p, t);
        return t.f64();
    }

    /** Column-major reference: C = alpha·op(A)·op(B) + beta·C straight from the cuBLAS documentation's definition. */
    private static void naive(boolean ta, boolean tb, int m, int n, int k, double alpha, double[] a, int aOff, int lda,
                              double[] b, int bOff, int ldb, double beta, double[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int l = 0; l < k; l++) {
                    double av = ta ? a[aOff + l + i * lda] : a[aOff + i + l * lda];
                    double bv = tb ? b[bOff + j + l * ldb] : b[bOff + l + j * ldb];
                    s += av * bv;
                }
                int ci = cOff + i + j * ldc;
                c[ci] = alpha * s + (beta == 0 ? 0 : beta * c[ci]);
            }
        }
    }

    @Test
    void gemmMatchesANaiveLoopForEveryTransposeWithPaddedLeadingDimensions() {
        Random r = new Random(11);
        int m = 5, n = 4, k = 3;
        double[][] alphaBeta = {{1.0, 0.0}, {2.0, 1.0}, {-0.5, 0.75}};
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                for (double[] ab : alphaBeta) {
                    int lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 3, ldc = m + 1;
                    int aOff = 2, bOff = 1, cOff = 3;
                    double[] a = random(r, aOff + lda * (ta ? m : k)), b = random(r, bOff + ldb * (tb ? k : n));
                    double[] c = random(r, cOff + ldc * n);
                    try (EmulatedCudaApi d = new EmulatedCudaApi()) {
                        long pa = upload(d, a), pb = upload(d, b), pc = upload(d, c);
                        d.gemm(DType.F64, ta, tb, m, n, k, ab[0], pa + 8L * aOff, lda, pb + 8L * bOff, ldb, ab[1], pc + 8L * cOff, ldc);
                        double[] got = download(d, pc, c.length);
                        double[] want = c.clone();
                        naive(ta, tb, m, n, k, ab[0], a, aOff, lda, b, bOff, ldb, ab[1], want, cOff, ldc);
                        double worst = 0;
                        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
                        System.out.printf("gemm transa=%b transb=%b alpha=%.2f beta=%.2f lda=%d ldb=%d ldc=%d: largest difference %.1e (tolerance 1e-14)%n",
                                ta, tb, ab[0], ab[1], lda, ldb, ldc, worst);
                        assertTrue(worst <= 1e-14, "largest difference " + worst);
                        // Padding between columns and before the offset is untouched.
                        for (int j = 0; j < n; j++) assertEquals(c[cOff + j * ldc + m], got[cOff + j * ldc + m], "padding of column " + j);
                        for (int i = 0; i < cOff; i++) assertEquals(c[i], got[i], "element before C");
                    }
                }
            }
        }
    }

    @Test
    void betaZeroIgnoresNaNInC() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            long a = upload(d, new double[]{1, 2}), b = upload(d, new double[]{3, 4}), c = upload(d, new double[]{Double.NaN});
            d.gemm(DType.F64, false, false, 1, 1, 2, 1.0, a, 1, b, 2, 0.0, c, 1);
            assertEquals(11.0, download(d, c, 1)[0]);
        }
    }

    @Test
    void gemmRejectsLeadingDimensionsAsCublasDoes() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            long p = d.allocate(DType.F64, 100);
            EmulatedCudaException e = assertThrows(EmulatedCudaException.class,
                    () -> d.gemm(DType.F64, false, false, 4, 3, 2, 1, p, 3, p, 2, 0, p, 4));
            System.out.println(e.getMessage());
            assertTrue(e.getMessage().contains("CUBLAS_STATUS_INVALID_VALUE") && e.getMessage().contains("lda = 3"), e.getMessage());
            e = assertThrows(EmulatedCudaException.class, () -> d.gemm(DType.F64, true, false, 4, 3, 2, 1, p, 1, p, 2, 0, p, 4));
            assertTrue(e.getMessage().contains("lda = 1 < max(1, k = 2)"), e.getMessage());
            e = assertThrows(EmulatedCudaException.class, () -> d.gemm(DType.F64, false, true, 4, 3, 2, 1, p, 4, p, 2, 0, p, 4));
            assertTrue(e.getMessage().contains("ldb = 2 < max(1, n = 3)"), e.getMessage());
            e = assertThrows(EmulatedCudaException.class, () -> d.gemm(DType.F64, false, false, 4, 3, 2, 1, p, 4, p, 2, 0, p, 3));
            assertTrue(e.getMessage().contains("ldc = 3"), e.getMessage());
            d.free(p);
        }
    }

    @Test
    void outOfBoundsAccessIsCaught() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            long p = d.allocate(DType.F64, 10);
            EmulatedCudaException e = assertThrows(EmulatedCudaException.class, () -> d.copyHostToDevice(p + 8 * 8, Tensor.of(new double[3], 3)));
            System.out.println(e.getMessage());
            assertTrue(e.getMessage().contains("out of bounds"), e.getMessage());
            // A GEMM whose C runs past the allocation.
            e = assertThrows(EmulatedCudaException.class, () -> d.gemm(DType.F64, false, false, 3, 4, 1, 1, p, 3, p, 1, 0, p, 3));
            assertTrue(e.getMessage().contains("out of bounds"), e.getMessage());
            // A kernel writing past the end: fill 11 elements of 10.
            e = assertThrows(EmulatedCudaException.class, () -> d.launch(CudaKernel.of(Packing.FILL, DType.F64), 1, 256, new DevicePointer(p), 1.0, 11L));
            System.out.println(e.getMessage());
            assertTrue(e.getMessage().contains("fill_f64 dst: out of bounds"), e.getMessage());
            // A gather whose row index points outside the source.
            long idx = d.allocate(DType.I32, 1);
            d.copyHostToDevice(idx, Tensor.ofInts(new int[]{5}, 1));
            long dst = d.allocate(DType.F64, 2);
            e = assertThrows(EmulatedCudaException.class, () -> d.launch(CudaKernel.of(Packing.GATHER_ROWS, DType.F64), 1, 256,
                    new DevicePointer(dst), new DevicePointer(p), new DevicePointer(idx), 1, 2, 2, 0, 2, 0, 0));
            assertTrue(e.getMessage().contains("gather_rows_f64 src: out of bounds"), e.getMessage());
        }
    }

    @Test
    void useAfterFreeIsCaught() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            long p = d.allocate(DType.F32, 4);
            d.free(p);
            EmulatedCudaException e = assertThrows(EmulatedCudaException.class, () -> d.copyDeviceToHost(p, Tensor.zeros(DType.F32, 4)));
            System.out.println(e.getMessage());
            assertTrue(e.getMessage().contains("use after free"), e.getMessage());
            e = assertThrows(EmulatedCudaException.class, () -> d.launch(CudaKernel.of(Packing.FILL, DType.F32), 1, 256, new DevicePointer(p), 0f, 4L));
            assertTrue(e.getMessage().contains("use after free"), e.getMessage());
        }
    }

    @Test
    void doubleFreeIsCaught() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            long p = d.allocate(DType.F64, 4);
            d.free(p);
            EmulatedCudaException e = assertThrows(EmulatedCudaException.class, () -> d.free(p));
            System.out.println(e.getMessage());
            assertTrue(e.getMessage().contains("double free"), e.getMessage());
        }
    }

    @Test
    void leaksAreReported() {
        EmulatedCudaApi d = new EmulatedCudaApi();
        long kept = d.allocate(DType.F64, 6);
        d.free(d.allocate(DType.F32, 2));
        d.close();
        EmulatedCudaException e = assertThrows(EmulatedCudaException.class, d::checkNoLeaks);
        System.out.println(e.getMessage());
        assertTrue(e.getMessage().contains("leak: 1 device allocation(s)") && e.getMessage().contains("6 F64"), e.getMessage());
        assertEquals(48, d.liveDeviceBytes());
        assertTrue(kept != 0);
    }

    @Test
    void launchesAreHeldToTheRegistry() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            long p = d.allocate(DType.F64, 4);
            assertThrows(IllegalArgumentException.class, () -> d.launch(CudaKernel.of(Packing.FILL, DType.F64), 1, 256, new DevicePointer(p), 1.0f, 4L),
                    "a float value for fill_f64");
            EmulatedCudaException e = assertThrows(EmulatedCudaException.class,
                    () -> d.launch(CudaKernel.of(Packing.FILL, DType.F64), 2, 256, new DevicePointer(p), 1.0, 4L));
            assertTrue(e.getMessage().contains("geometry"), e.getMessage());
            e = assertThrows(EmulatedCudaException.class, () -> d.launch(CudaKernel.of(Packing.FILL, DType.F32), 1, 256, new DevicePointer(p), 1.0f, 4L));
            assertTrue(e.getMessage().contains("expected F32 memory"), e.getMessage());
            // A NULL pointer the kernel reads: residual forward without hiddenPrev.
            long q = d.allocate(DType.F64, 4);
            e = assertThrows(EmulatedCudaException.class, () -> d.launch(CudaKernel.of(Elman.FORWARD, DType.F64), 1, 256,
                    new DevicePointer(p), new DevicePointer(q), null, null, null, 2, 2, 0, 1));
            assertTrue(e.getMessage().contains("hiddenPrev") && e.getMessage().contains("NULL"), e.getMessage());
            assertEquals(0, d.launchCount(CudaKernel.of(Elman.BACKWARD, DType.F64)));
        }
    }

    /** The gated backward kernels: alive rows by the .cu formula, dead rows zeroed, carries above aliveRows left alone, NULL biasHh. */
    @Test
    void gatedBackwardKernelsZeroDeadRowsAndLeaveCarriesAbove() {
        try (EmulatedCudaApi d = new EmulatedCudaApi()) {
            // LSTM, H = 1, slotRows = 2, aliveRows = 1.
            double i = 0.6, f = 0.3, g = -0.4, o = 0.8, cPrev = 0.25, c = -0.5, dy = 0.7, dhCarry = -0.2, dcCarry = 0.1;
            long gates = upload(d, new double[]{i, f, g, o, 9, 9, 9, 9});
            long hc = upload(d, new double[]{dhCarry, 5}), cc = upload(d, new double[]{dcCarry, 7});
            long cp = upload(d, new double[]{cPrev, 3}), cl = upload(d, new double[]{c, 3}), og = upload(d, new double[]{dy, 3});
            d.launch(CudaKernel.of(Lstm.BACKWARD, DType.F64), 1, 256, new DevicePointer(gates), new DevicePointer(hc), new DevicePointer(cc),
                    new DevicePointer(cp), new DevicePointer(cl), new DevicePointer(og), 1, 2, 1);
            double dh = dy + dhCarry, tc = Math.tanh(c), dc = dcCarry + dh * o * (1.0 - tc * tc);
            double[] delta = download(d, gates, 8);
            assertEquals(dc * g * (i * (1.0 - i)), delta[0], 1e-15);
            assertEquals(dc * cPrev * (f * (1.0 - f)), delta[1], 1e-15);
            assertEquals(dc * i * (1.0 - g * g), delta[2], 1e-15);
            assertEquals(dh * tc * (o * (1.0 - o)), delta[3], 1e-15);
            for (int k = 4; k < 8; k++) assertEquals(0.0, delta[k], "dead LSTM row zeroed");
            double[] cellCarry = download(d, cc, 2);
            assertEquals(dc * f, cellCarry[0], 1e-15);
            assertEquals(7.0, cellCarry[1], "cell carry above aliveRows left alone");
            assertEquals(5.0, download(d, hc, 2)[1], "hidden carry only read");

            // GRU, H = 1, slotRows = 2, aliveRows = 1, no biasHh.
            double r = 0.4, z = 0.7, n = -0.3, ghn = 0.9, hPrev = 0.2;
            long gi = upload(d, new double[]{r, z, n, 9, 9, 9}), gh = upload(d, new double[]{1, 2, ghn, 9, 9, 9});
            long carry = upload(d, new double[]{dhCarry, 5}), hp = upload(d, new double[]{hPrev, 3}), dyg = upload(d, new double[]{dy, 3});
            d.launch(CudaKernel.of(Gru.BACKWARD, DType.F64), 1, 256, new DevicePointer(gi), new DevicePointer(gh), new DevicePointer(carry),
                    new DevicePointer(hp), new DevicePointer(dyg), null, 1, 2, 1);
            double grad = dy + dhCarry, dan = grad * (1.0 - z) * (1.0 - n * n), daz = grad * (hPrev - n) * (z * (1.0 - z));
            double dar = dan * ghn * (r * (1.0 - r));
            double[] dIh = download(d, gi, 6), dHh = download(d, gh, 6), carried = download(d, carry, 2);
            assertEquals(dar, dIh[0], 1e-15);
            assertEquals(daz, dIh[1], 1e-15);
            assertEquals(dan, dIh[2], 1e-15);
            assertEquals(dar, dHh[0], 1e-15);
            assertEquals(daz, dHh[1], 1e-15);
            assertEquals(dan * r, dHh[2], 1e-15);
            for (int k = 3; k < 6; k++) {
                assertEquals(0.0, dIh[k], "dead GRU row zeroed (gates)");
                assertEquals(0.0, dHh[k], "dead GRU row zeroed (hidden gates)");
            }
            assertEquals(grad * z, carried[0], 1e-15);
            assertEquals(5.0, carried[1], "GRU carry above aliveRows left alone");
            for (long p : new long[]{gates, hc, cc, cp, cl, og, gi, gh, carry, hp, dyg}) d.free(p);
        }
    }
}
