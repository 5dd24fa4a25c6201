package dev.bptt4j.train;

import dev.bptt4j.backend.DeviceSlice;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Optimisers and clipping against PyTorch's formulas worked by hand in plain double math here
 * (a few steps on small vectors, with a changing gradient), float64, to 1e-15 relative.
 */
class OptimizerTest {
    private static CpuBackend backend;

    @BeforeAll
    static void open() {
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void shut() {
        backend.close();
    }

    private static final double[] P0 = {0.5, -1.25, 2.0, 0.0};

    private static double[] grad(int step, double[] p) {
        // A gradient that depends on the step and the parameters, as a real one would.
        double[] g = new double[p.length];
        for (int i = 0; i < p.length; i++) g[i] = 0.3 * p[i] - 0.1 * (i + 1) + 0.05 * step * (i % 2 == 0 ? 1 : -1);
        return g;
    }

    private static Parameter parameter(Backend b) {
        DeviceBuffer v = b.allocate(DType.F64, P0.length), g = b.allocate(DType.F64, P0.length);
        b.upload(Tensor.of(P0.clone(), P0.length), DeviceSlice.of(v));
        return new Parameter("p", v, g);
    }

    private static double[] run(Parameter p, Optimizer opt, int steps) {
        for (int s = 1; s <= steps; s++) {
            double[] now = backend.download(p.value(), P0.length).f64();
            backend.upload(Tensor.of(grad(s, now), P0.length), p.gradient());
            opt.step();
        }
        return backend.download(p.value(), P0.length).f64();
    }

    private static void assertVector(String what, double[] expected, double[] actual) {
        double worst = 0;
        for (int i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - actual[i]) / Math.max(1, Math.abs(expected[i])));
        System.out.printf("%-40s max rel. difference %.2e (tolerance 1e-15)%n", what, worst);
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-15 * Math.max(1, Math.abs(expected[i])), what + "[" + i + "]");
    }

    /** torch.optim.SGD's update, by hand. */
    private static double[] sgdByHand(int steps, double lr, double mu, double damp, double wd, double l1, boolean nesterov) {
        double[] p = P0.clone(), buf = new double[p.length];
        for (int s = 1; s <= steps; s++) {
            double[] g = grad(s, p);
            for (int i = 0; i < p.length; i++) {
                double d = g[i] + wd * p[i] + l1 * Math.signum(p[i]);
                if (mu != 0) {
                    buf[i] = s == 1 ? d : mu * buf[i] + (1 - damp) * d;
                    d = nesterov ? d + mu * buf[i] : buf[i];
                }
                p[i] -= lr * d;
            }
        }
        return p;
    }

    /** torch.optim.Adam's update, by hand. */
    private static double[] adamByHand(int steps, double lr, double b1, double b2, double eps, double wd, double l1) {
        double[] p = P0.clone(), m = new double[p.length], v = new double[p.length];
        for (int s = 1; s <= steps; s++) {
            double[] g = grad(s, p);
            for (int i = 0; i < p.length; i++) {
                double d = g[i] + wd * p[i] + l1 * Math.signum(p[i]);
                m[i] = b1 * m[i] + (1 - b1) * d;
                v[i] = b2 * v[i] + (1 - b2) * d * d;
                double mHat = m[i] / (1 - Math.pow(b1, s));
                double denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(b2, s)) + eps;
                p[i] -= lr * mHat / denom;
            }
        }
        return p;
    }

    @Test
    void sgdVariants() {
        double[][] settings = {
                {0.1, 0, 0, 0, 0, 0}, {0.1, 0.9, 0, 0, 0, 0}, {0.1, 0.9, 0.3, 0.01, 0, 0},
                {0.05, 0.8, 0, 0.02, 0, 1}, {0.1, 0.9, 0, 0, 0.01, 0}};
        for (double[] s : settings) {
            Parameter p = parameter(backend);
            try (Sgd sgd = new Sgd(backend, List.of(p), s[0], s[1], s[2], s[3], s[4], s[5] == 1)) {
                assertVector(String.format("SGD lr=%s mu=%s damp=%s wd=%s l1=%s nesterov=%s", s[0], s[1], s[2], s[3], s[4], s[5] == 1),
                        sgdByHand(4, s[0], s[1], s[2], s[3], s[4], s[5] == 1), run(p, sgd, 4));
            } finally {
                p.value().buffer().close();
                p.gradient().buffer().close();
            }
        }
    }

    @Test
    void adamVariants() {
        double[][] settings = {{1e-2, 0.9, 0.999, 1e-8, 0, 0}, {0.1, 0.5, 0.9, 1e-3, 0.1, 0}, {0.05, 0.9, 0.99, 1e-8, 0, 0.02}};
        for (double[] s : settings) {
            Parameter p = parameter(backend);
            try (Adam adam = new Adam(backend, List.of(p), s[0], s[1], s[2], s[3], s[4], s[5])) {
                assertVector(String.format("Adam lr=%s betas=(%s,%s) eps=%s wd=%s l1=%s", s[0], s[1], s[2], s[3], s[4], s[5]),
                        adamByHand(5, s[0], s[1], s[2], s[3], s[4], s[5]), run(p, adam, 5));
            } finally {
                p.value().buffer().close();
                p.gradient().buffer().close();
            }
        }
    }

    @Test
    void float32FollowsTheFloat64Update() {
        DeviceBuffer v = backend.allocate(DType.F32, 4), g = backend.allocate(DType.F32, 4);
        try (Adam adam = Adam.withDefaults(backend, List.of(new Parameter("p", v, g)), 0.01)) {
            backend.upload(Tensor.of(new float[]{0.5f, -1.25f, 2f, 0f}, 4), DeviceSlice.of(v));
            backend.upload(Tensor.of(new float[]{0.1f, -0.2f, 0.3f, 0f}, 4), DeviceSlice.of(g));
            adam.step();
            float[] after = backend.download(DeviceSlice.of(v), 4).f32();
            // Step 1 of Adam moves every element with a nonzero gradient by lr·sign(g) (up to eps).
            assertEquals(0.49f, after[0], 1e-6f);
            assertEquals(-1.24f, after[1], 1e-6f);
            assertEquals(1.99f, after[2], 1e-6f);
            assertEquals(0f, after[3], 0f);
        } finally {
            v.close();
            g.close();
        }
    }

    @Test
    void clipGradNormAndValue() {
        DeviceBuffer v1 = backend.allocate(DType.F64, 2), g1 = backend.allocate(DType.F64, 2);
        DeviceBuffer v2 = backend.allocate(DType.F32, 1), g2 = backend.allocate(DType.F32, 1);
        List<Parameter> ps = List.of(new Parameter("a", v1, g1), new Parameter("b", v2, g2));
        try (GradientClipper clip = new GradientClipper(backend, ps)) {
            backend.upload(Tensor.of(new double[]{3, 4}, 2), DeviceSlice.of(g1));
            backend.upload(Tensor.of(new float[]{12}, 1), DeviceSlice.of(g2));
            double norm = clip.clipNorm(6.5);
            double coefficient = 6.5 / (13 + 1e-6);
            System.out.printf("clip_grad_norm_: norm %.17g (expected 13), coefficient %.17g%n", norm, coefficient);
            assertEquals(13.0, norm, 0);
            assertEquals(3 * coefficient, backend.download(DeviceSlice.of(g1), 2).f64()[0], 1e-15);
            assertEquals(4 * coefficient, backend.download(DeviceSlice.of(g1), 2).f64()[1], 1e-15);
            assertEquals((float) (12 * coefficient), backend.download(DeviceSlice.of(g2), 1).f32()[0], 0f);
            // Below the limit nothing changes (coefficient ≥ 1 is not applied).
            double before = backend.download(DeviceSlice.of(g1), 2).f64()[0];
            assertEquals(6.5, clip.clipNorm(100), 1e-5);
            assertEquals(before, backend.download(DeviceSlice.of(g1), 2).f64()[0], 0);

            backend.upload(Tensor.of(new double[]{-3, 0.25}, 2), DeviceSlice.of(g1));
            clip.clipValue(0.5);
            assertEquals(-0.5, backend.download(DeviceSlice.of(g1), 2).f64()[0], 0);
            assertEquals(0.25, backend.download(DeviceSlice.of(g1), 2).f64()[1], 0);

            backend.upload(Tensor.of(new double[]{Double.NaN, 1}, 2), DeviceSlice.of(g1));
            backend.upload(Tensor.of(new double[]{7, 7}, 2), DeviceSlice.of(v1));
            NonFiniteGradientException e = assertThrows(NonFiniteGradientException.class, () -> clip.clipNorm(1));
            System.out.println("non-finite norm: " + e.getMessage());
            backend.upload(Tensor.of(new double[]{Double.POSITIVE_INFINITY, 1}, 2), DeviceSlice.of(g1));
            assertThrows(NonFiniteGradientException.class, () -> clip.clipNorm(1));
            assertEquals(7.0, backend.download(DeviceSlice.of(v1), 2).f64()[0], 0, "weights untouched");
        } finally {
            for (DeviceBuffer b : new DeviceBuffer[]{v1, g1, v2, g2}) b.close();
        }
    }
}
