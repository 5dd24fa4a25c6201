package dev.bptt4j.train;

import dev.bptt4j.backend.Activation;
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
    /** The CPU backend with only Backend's required methods delegated: the training kernels are the defaults. */
    static final class DefaultsOnly implements Backend {
        final CpuBackend cpu;

        DefaultsOnly(CpuBackend cpu) {
            this.cpu = cpu;
        }

        public String name() { return "defaults-only"; }
        public String description() { return "CPU memory and GEMM, Backend's default training kernels"; }
        public DeviceBuffer allocate(DType d, long n) { return cpu.allocate(d, n); }
        public void upload(Tensor s, DeviceBuffer t, long o) { cpu.upload(s, t, o); }
        public void downloadInto(DeviceBuffer s, long o, Tensor t) { cpu.downloadInto(s, o, t); }
        public void gemm(boolean ta, boolean tb, int m, int n, int k, double alpha, DeviceBuffer a, long ao, int lda,
                         DeviceBuffer b, long bo, int ldb, double beta, DeviceBuffer c, long co, int ldc) {
            cpu.gemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc);
        }
        public void rnnForward(DeviceBuffer h, long ho, DeviceBuffer p, long po, DeviceBuffer bi, DeviceBuffer bh,
                               DeviceBuffer hp, long hpo, int rows, int hidden, Activation a, boolean r) {
            cpu.rnnForward(h, ho, p, po, bi, bh, hp, hpo, rows, hidden, a, r);
        }
        public void rnnBackward(DeviceBuffer d, long dof, DeviceBuffer c, long co, DeviceBuffer h, long ho, DeviceBuffer g,
                                long go, DeviceBuffer bi, DeviceBuffer bh, int alive, int slot, int hidden, Activation a, boolean r) {
            cpu.rnnBackward(d, dof, c, co, h, ho, g, go, bi, bh, alive, slot, hidden, a, r);
        }
        public void gatherRows(DeviceBuffer d, long dof, int ds, int dc, DeviceBuffer s, long so, int ss, int sc,
                               DeviceBuffer i, long io, int rows, int width, boolean acc) {
            cpu.gatherRows(d, dof, ds, dc, s, so, ss, sc, i, io, rows, width, acc);
        }
        public void lstmForward(DeviceBuffer h, long ho, DeviceBuffer c, long co, DeviceBuffer g, long go, DeviceBuffer bi,
                                DeviceBuffer bh, DeviceBuffer cp, long cpo, int rows, int hidden) {
            cpu.lstmForward(h, ho, c, co, g, go, bi, bh, cp, cpo, rows, hidden);
        }
        public void lstmBackward(DeviceBuffer g, long go, DeviceBuffer hc, long hco, DeviceBuffer cc, long cco, DeviceBuffer cp,
                                 long cpo, DeviceBuffer c, long co, DeviceBuffer dy, long dyo, int alive, int slot, int hidden) {
            cpu.lstmBackward(g, go, hc, hco, cc, cco, cp, cpo, c, co, dy, dyo, alive, slot, hidden);
        }
        public void gruForward(DeviceBuffer h, long ho, DeviceBuffer g, long go, DeviceBuffer hg, long hgo, DeviceBuffer bi,
                               DeviceBuffer bh, DeviceBuffer hp, long hpo, int rows, int hidden) {
            cpu.gruForward(h, ho, g, go, hg, hgo, bi, bh, hp, hpo, rows, hidden);
        }
        public void gruBackward(DeviceBuffer g, long go, DeviceBuffer hg, long hgo, DeviceBuffer hc, long hco, DeviceBuffer hp,
                                long hpo, DeviceBuffer dy, long dyo, DeviceBuffer bh, int alive, int slot, int hidden) {
            cpu.gruBackward(g, go, hg, hgo, hc, hco, hp, hpo, dy, dyo, bh, alive, slot, hidden);
        }
        public void fill(DeviceBuffer d, long o, long n, double v) { cpu.fill(d, o, n, v); }
        public long liveBuffers() { return cpu.liveBuffers(); }
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
                    b.upload(p, pv, 0);
                    b.upload(g, gv, 0);
                    b.upload(z, zv, 0);
                    b.upload(Tensor.ofInts(new int[]{0, 4, -1, 2, 3, 1}, 6), tv, 0);
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
                        b.softmaxCrossEntropy(zv, 0, tv, 0, lv, 0, 6, 5, 0.25);
                        b.sumOfSquares(zv, 3, 20, acc, 0);
                    }
                    Tensor all = Tensor.zeros(DType.F64, 2 * n + 30 + 6 + 1);
                    double[] out = all.f64();
                    int k = 0;
                    for (Tensor t : new Tensor[]{b.download(pv, 0, n), b.download(gv, 0, n), b.download(zv, 0, 30),
                            b.download(lv, 0, 6), b.download(acc, 0, 1)}) {
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
