package dev.bptt4j.train;

import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.Packing;

import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Backend's default training kernels (download, host math, upload: what a backend without its own
 * kernels runs) agree bit for bit with the CPU backend's in-place versions, in float32 and float64.
 */
class HostFallbackTest {
    /** The CPU backend with only Backend's required methods delegated: the training ops are the host defaults. */
    static final class DefaultsOnly implements Backend {
        final CpuBackend cpu;

        DefaultsOnly(CpuBackend cpu) {
            this.cpu = cpu;
        }

        public String name() { return "defaults-only"; }
        public String description() { return "CPU memory, GEMM and kernels; Backend's default (host) training ops"; }
        public DeviceBuffer allocate(DType d, long n) { return cpu.allocate(d, n); }
        public void upload(Tensor s, DeviceSlice t) { cpu.upload(s, t); }
        public void downloadInto(DeviceSlice s, Tensor t) { cpu.downloadInto(s, t); }
        public void gemm(boolean ta, boolean tb, int m, int n, int k, double alpha, DeviceSlice a, int lda, DeviceSlice b, int ldb,
                         double beta, DeviceSlice c, int ldc) {
            cpu.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
        public void launch(KernelArgs args) {
            // Only the packing kernels: the training ops must not reach the CPU's own kernels here.
            if (!args.spec().module().equals("packing")) throw new AssertionError("defaults-only backend launched " + args.spec());
            cpu.launch(args);
        }
        public long liveBuffers() { return cpu.liveBuffers(); }
        public boolean isClosed() { return cpu.isClosed(); }
        public void close() { }
    }

    private static void assertSameBits(String what, Tensor a, Tensor b) {
        double worst = 0;
        for (int i = 0; i < a.size(); i++) worst = Math.max(worst, Math.abs(a.getDouble(i) - b.getDouble(i)));
        System.out.printf("  %-34s max |default - cpu| = %.1e (tolerance 0)%n", what, worst);
        for (int i = 0; i < a.size(); i++) assertEquals(Double.doubleToLongBits(b.getDouble(i)), Double.doubleToLongBits(a.getDouble(i)), what + "[" + i + "]");
    }

    @Test
    void defaultsMatchTheCpuKernels() {
        for (DType dtype : new DType[]{DType.F32, DType.F64}) {
            try (CpuBackend cpu = new CpuBackend(1)) {
                Backend fallback = new DefaultsOnly(cpu);
                SplittableRandom r = new SplittableRandom(3);
                int n = 37;
                Tensor p = Tensor.zeros(dtype, n), g = Tensor.zeros(dtype, n), z = Tensor.zeros(dtype, 6, 5);
                for (int i = 0; i < n; i++) {
                    p.setDouble(i, r.nextDouble() * 2 - 1);
                    g.setDouble(i, r.nextDouble() * 2 - 1);
                }
                for (int i = 0; i < z.size(); i++) z.setDouble(i, r.nextDouble() * 8 - 4);
                Tensor[] results = new Tensor[2];
                Backend[] backends = {fallback, cpu};
                for (int which = 0; which < 2; which++) {
                    Backend b = backends[which];
                    DeviceBuffer pv = b.allocate(dtype, n), gv = b.allocate(dtype, n), zv = b.allocate(dtype, 30),
                            tv = b.allocate(DType.I32, 6), lv = b.allocate(dtype, 6), acc = b.allocate(DType.F64, 1);
                    b.upload(p, DeviceSlice.of(pv));
                    b.upload(g, DeviceSlice.of(gv));
                    b.upload(z, DeviceSlice.of(zv));
                    b.upload(Tensor.ofInts(new int[]{0, 4, -1, 2, 3, 1}, 6), DeviceSlice.of(tv));
                    Parameter param = new Parameter("p", pv, gv);
                    try (Adam adam = new Adam(b, List.of(param), 0.01, 0.9, 0.99, 1e-8, 0.01, 0.001);
                         Sgd sgd = new Sgd(b, List.of(param), 0.1, 0.9, 0.1, 0.01, 0.001, false);
                         GradientClipper clip = new GradientClipper(b, List.of(param))) {
                        adam.step();
                        adam.step();
                        sgd.step();
                        sgd.step();
                        clip.clipValue(0.7);
                        clip.clipNorm(0.5);
                        b.training().softmaxCrossEntropy(DeviceSlice.of(zv), DeviceSlice.of(tv), DeviceSlice.of(lv), 6, 5, 0.25);
                        b.training().sumOfSquares(new DeviceSlice(zv, 3), 20, DeviceSlice.of(acc));
                    }
                    Tensor all = Tensor.zeros(DType.F64, 2 * n + 30 + 6 + 1);
                    double[] out = all.f64();
                    int k = 0;
                    for (Tensor t : new Tensor[]{b.download(DeviceSlice.of(pv), n), b.download(DeviceSlice.of(gv), n), b.download(DeviceSlice.of(zv), 30),
                            b.download(DeviceSlice.of(lv), 6), b.download(DeviceSlice.of(acc), 1)}) {
                        for (int i = 0; i < t.size(); i++) out[k++] = t.getDouble(i);
                    }
                    results[which] = all;
                    for (DeviceBuffer d : new DeviceBuffer[]{pv, gv, zv, tv, lv, acc}) d.close();
                }
                assertSameBits(dtype + " adam, sgd, clipping, loss, norm", results[0], results[1]);
            }
        }
    }
}
