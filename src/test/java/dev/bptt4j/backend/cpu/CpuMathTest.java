package dev.bptt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The float32 tanh approximation against double-precision {@link Math#tanh}. The bound is the
 * project's: 5e-7 absolute. An exhaustive run over all 2^32 floats (too slow for every build)
 * measured 4.10e-7 at z = ±5.8279; here every 16th float of [0, 10] (≈ 1/16 of the positive
 * range that is not simply ±1) and a uniform grid over [−12, 12] are checked.
 */
class CpuMathTest {
    private static final double BOUND = 5e-7;

    @Test
    void float32TanhIsWithinBoundOverADenseSweep() {
        double worst = 0;
        float worstAt = 0;
        int top = Float.floatToIntBits(10f);
        for (int bits = 0; bits <= top; bits += 16) {
            float x = Float.intBitsToFloat(bits);
            double e = Math.max(Math.abs(CpuMath.tanh(x) - Math.tanh(x)), Math.abs(CpuMath.tanh(-x) + Math.tanh(x)));
            if (e > worst) { worst = e; worstAt = x; }
        }
        for (int i = -1_200_000; i <= 1_200_000; i++) {
            float x = i * 1e-5f;
            double e = Math.abs(CpuMath.tanh(x) - Math.tanh(x));
            if (e > worst) { worst = e; worstAt = x; }
        }
        System.out.printf("float32 tanh: max |error| %.3e at z = %s (bound %.1e)%n", worst, worstAt, BOUND);
        assertTrue(worst <= BOUND, "float32 tanh: max |error| " + worst + " at z = " + worstAt + " exceeds " + BOUND);
    }

    @Test
    void float32TanhSpecialValues() {
        assertTrue(Float.isNaN(CpuMath.tanh(Float.NaN)), "tanh(NaN) must be NaN");
        assertEquals(1f, CpuMath.tanh(Float.POSITIVE_INFINITY), 3e-7f);
        assertEquals(-1f, CpuMath.tanh(Float.NEGATIVE_INFINITY), 3e-7f);
        assertEquals(1f, CpuMath.tanh(Float.MAX_VALUE), 3e-7f);
        assertEquals(0f, CpuMath.tanh(0f));
        assertTrue(Math.abs(CpuMath.tanh(1e-30f) - 1e-30f) < 1e-36, "tanh is the identity near 0");
    }

    @Test
    void arrayKernelsMatchTheScalarAndPropagateNaN() {
        int rows = 3, width = 37;
        float[] z = new float[rows * width], bih = new float[width], bhh = new float[width];
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextDouble() * 20 - 10);
        for (int c = 0; c < width; c++) { bih[c] = (float) r.nextDouble(); bhh[c] = (float) r.nextDouble(); }
        z[5] = Float.NaN;
        float[] expect = new float[z.length];
        for (int i = 0; i < z.length; i++) expect[i] = CpuMath.tanh(z[i] + bih[i % width] + bhh[i % width]);
        CpuMath.tanhWithBias(z, bih, bhh, rows, width);
        for (int i = 0; i < z.length; i++) assertEquals(expect[i], z[i], 0f, "element " + i);
        assertTrue(Float.isNaN(z[5]));

        double[] zd = {Double.NaN, -1.0, 2.0};
        CpuMath.reluWithBias(zd, new double[3], new double[3], 1, 3);
        assertTrue(Double.isNaN(zd[0]), "relu(NaN) must be NaN");
        assertEquals(0.0, zd[1]);
        assertEquals(2.0, zd[2]);
    }
}
