package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.Packing;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The float64 tanh of the CPU kernels when MKL is loaded: within 1 ulp of tanh computed to 60
 * digits (java.math, independent of both MKL and Math.tanh), over a spread of magnitudes, with
 * IEEE special values kept; only the requested range is written.
 */
class VectorMathTest {
    private static final MathContext MC = new MathContext(60, RoundingMode.HALF_EVEN);

    @Test
    void float64TanhIsWithinOneUlpOfA60DigitReference() {
        VectorMath vm = CpuBlas.process().vectorMath();
        assumeTrue(vm != null, "no native vector math with " + CpuBlas.process().name());
        SplittableRandom random = new SplittableRandom(5);
        int n = 6000;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            double magnitude = switch (i % 4) {
                case 0 -> random.nextDouble() * 2;
                case 1 -> random.nextDouble() * 20;
                case 2 -> Math.scalb(1.0 + random.nextDouble(), -random.nextInt(60));
                default -> Math.abs(random.nextGaussian()) * 3;
            };
            x[i] = random.nextBoolean() ? magnitude : -magnitude;
        }
        double[] y = run(vm, x);
        double worst = 0;
        double worstAt = 0;
        for (int i = 0; i < n; i++) {
            BigDecimal exact = tanh(x[i]);
            double ulp = Math.ulp(exact.doubleValue());
            double err = new BigDecimal(y[i]).subtract(exact, MC).abs().doubleValue() / ulp;
            if (err > worst) {
                worst = err;
                worstAt = x[i];
            }
        }
        System.out.printf("MKL float64 tanh: max error %.3f ulp over %d points (at x = %s)%n", worst, n, worstAt);
        assertTrue(worst <= 1.0, "max error " + worst + " ulp at x = " + worstAt);
    }

    @Test
    void specialValuesAndRangeBounds() {
        VectorMath vm = CpuBlas.process().vectorMath();
        assumeTrue(vm != null, "no native vector math with " + CpuBlas.process().name());
        double[] x = {0.0, -0.0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, 1e300, -1e300, Double.MIN_VALUE, -1e-300};
        double[] y = run(vm, x);
        double[] want = {0.0, -0.0, 1.0, -1.0, Double.NaN, 1.0, -1.0, Double.MIN_VALUE, -1e-300};
        for (int i = 0; i < x.length; i++) {
            assertEquals(Double.doubleToLongBits(want[i]), Double.doubleToLongBits(y[i]), "tanh(" + x[i] + ") = " + y[i]);
        }
    }

    /** tanh over x placed at offset 3 of a larger buffer; the elements around it must stay untouched. */
    private static double[] run(VectorMath vm, double[] x) {
        try (CpuBackend backend = new CpuBackend(); DeviceBuffer b = backend.allocate(DType.F64, x.length + 6)) {
            Packing.fill(backend, DeviceSlice.of(b), x.length + 6, 7.0);
            backend.upload(Tensor.of(x, x.length), new DeviceSlice(b, 3));
            vm.tanh(CpuBackend.cpu(b), 0, 3, x.length);
            double[] all = backend.download(DeviceSlice.of(b), x.length + 6).f64();
            for (int i : new int[]{0, 1, 2, x.length + 3, x.length + 4, x.length + 5}) assertEquals(7.0, all[i], "element " + i + " outside the range");
            return java.util.Arrays.copyOfRange(all, 3, 3 + x.length);
        }
    }

    /** tanh(x) = (e^{2x} − 1)/(e^{2x} + 1) to 60 digits; e^y as (Taylor series of e^{y/64})^64. */
    private static BigDecimal tanh(double v) {
        if (Math.abs(v) > 40) return BigDecimal.valueOf(Math.signum(v));
        BigDecimal y = new BigDecimal(2 * v).divide(BigDecimal.valueOf(64), MC);
        BigDecimal term = BigDecimal.ONE, sum = BigDecimal.ONE;
        for (int k = 1; k < 60; k++) {
            term = term.multiply(y, MC).divide(BigDecimal.valueOf(k), MC);
            sum = sum.add(term, MC);
        }
        for (int i = 0; i < 6; i++) sum = sum.multiply(sum, MC);
        return sum.subtract(BigDecimal.ONE, MC).divide(sum.add(BigDecimal.ONE, MC), MC);
    }
}
