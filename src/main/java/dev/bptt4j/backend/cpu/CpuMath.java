package dev.bptt4j.backend.cpu;

/**
 * Element math of the CPU kernels over arrays, in place. NaN propagates through every function
 * (a NaN pre-activation gives a NaN output and a NaN derivative), so a numerical blow-up is never
 * silently turned into zeros.
 */
final class CpuMath {
    private CpuMath() {
    }

    // float32 tanh as a clamped odd rational p(z)/q(z) of degrees 13/6 (Eigen's ptanh_float
    // coefficients). Math.tanh costs ~21 ns/element and does not vectorise; this is a plain counted loop of
    // multiplies, one divide and a min/max clamp that C2 turns into AVX code (~0.46 ns/element over
    // 64×256, JDK 17, 2-core Sapphire Rapids). Max |error| against
    // double tanh, measured over every finite float: 4.1e-7 (at z ≈ ±5.83); see CpuMathTest. Past
    // the clamp tanh is within 3e-7 of ±1. Math.min/max return NaN for NaN, so NaN propagates.
    private static final float TANH_CLAMP = 7.90531110763549805f;
    private static final float A1 = 4.89352455891786e-03f, A3 = 6.37261928875436e-04f, A5 = 1.48572235717979e-05f,
            A7 = 5.12229709037114e-08f, A9 = -8.60467152213735e-11f, A11 = 2.00018790482477e-13f,
            A13 = -2.76076847742355e-16f;
    private static final float B0 = 4.89352518554385e-03f, B2 = 2.26843463243900e-03f, B4 = 1.18534705686654e-04f,
            B6 = 1.19825839466702e-06f;

    /** The float32 tanh of the CPU kernels; see {@link #tanh(float[], int)}. */
    static float tanh(float x) {
        float z = Math.max(-TANH_CLAMP, Math.min(TANH_CLAMP, x));
        float z2 = z * z;
        float p = ((((((A13 * z2 + A11) * z2 + A9) * z2 + A7) * z2 + A5) * z2 + A3) * z2 + A1) * z;
        float q = ((B6 * z2 + B4) * z2 + B2) * z2 + B0;
        return p / q;
    }

    static void tanh(float[] z, int n) {
        for (int i = 0; i < n; i++) z[i] = tanh(z[i]);
    }

    /** tanh over z[from, to), in place. */
    static void tanh(float[] z, int from, int to) {
        for (int i = from; i < to; i++) z[i] = tanh(z[i]);
    }

    /**
     * σ over z[from, to), in place, as σ(x) = ½·tanh(x/2) + ½ with the float32 tanh above: one
     * vectorisable rational function, max |error| ≈ 2.1e-7 (half of tanh's).
     */
    static void sigmoid(float[] z, int from, int to) {
        for (int i = from; i < to; i++) z[i] = 0.5f * tanh(0.5f * z[i]) + 0.5f;
    }

    /**
     * z = f((z + biasIh[column]) + biasHh[column]) over rows × width, adding in the CUDA kernel's
     * order. Two passes on purpose: JDK 17's C2 does not vectorise the fused loop (a row offset on
     * z beside a column index on the biases; measured 5.7 ns/element against 0.83 for the two
     * passes at 64×256), and both passes stay in L1/L2.
     */
    static void tanhWithBias(float[] z, float[] bih, float[] bhh, int rows, int width) {
        addBiases(z, bih, bhh, rows, width);
        tanh(z, rows * width);
    }

    /**
     * z = tanh((z + biasIh) + biasHh) over n elements with the biases already repeated per row
     * ({@link BiasRows}): one flat loop that C2 vectorises, ~2× faster than bias pass + tanh pass.
     */
    static void tanhWithBias(float[] z, float[] bihRows, float[] bhhRows, int n) {
        for (int i = 0; i < n; i++) z[i] = tanh((z[i] + bihRows[i]) + bhhRows[i]);
    }

    static void tanhWithBias(double[] z, double[] bih, double[] bhh, int rows, int width) {
        addBiases(z, bih, bhh, rows, width);
        tanh(z, rows * width);
    }

    static void reluWithBias(float[] z, float[] bih, float[] bhh, int rows, int width) {
        addBiases(z, bih, bhh, rows, width);
        relu(z, rows * width);
    }

    static void reluWithBias(double[] z, double[] bih, double[] bhh, int rows, int width) {
        addBiases(z, bih, bhh, rows, width);
        relu(z, rows * width);
    }

    static void addBiases(float[] z, float[] bih, float[] bhh, int rows, int width) {
        for (int r = 0; r < rows; r++) {
            int base = r * width;
            for (int c = 0; c < width; c++) z[base + c] = z[base + c] + bih[c] + bhh[c];
        }
    }

    static void addBiases(double[] z, double[] bih, double[] bhh, int rows, int width) {
        for (int r = 0; r < rows; r++) {
            int base = r * width;
            for (int c = 0; c < width; c++) z[base + c] = z[base + c] + bih[c] + bhh[c];
        }
    }

    static void tanh(double[] z, int n) {
        for (int i = 0; i < n; i++) z[i] = Math.tanh(z[i]);
    }

    static void relu(float[] z, int n) {
        for (int i = 0; i < n; i++) z[i] = z[i] < 0f ? 0f : z[i];
    }

    static void relu(double[] z, int n) {
        for (int i = 0; i < n; i++) z[i] = z[i] < 0.0 ? 0.0 : z[i];
    }

    /** tanh'(z) = 1 − h² from the stored output h. */
    static void tanhDerivativeFromOutput(float[] h, int n) {
        for (int i = 0; i < n; i++) h[i] = 1f - h[i] * h[i];
    }

    static void tanhDerivativeFromOutput(double[] h, int n) {
        for (int i = 0; i < n; i++) h[i] = 1.0 - h[i] * h[i];
    }

    /** relu'(z) from the output: 1 where h > 0, NaN stays NaN. */
    static void reluDerivativeFromOutput(float[] h, int n) {
        for (int i = 0; i < n; i++) h[i] = h[i] > 0f ? 1f : (h[i] == h[i] ? 0f : h[i]);
    }

    static void reluDerivativeFromOutput(double[] h, int n) {
        for (int i = 0; i < n; i++) h[i] = h[i] > 0.0 ? 1.0 : (h[i] == h[i] ? 0.0 : h[i]);
    }

    static void tanhDerivativeFromInput(float[] z, int n) {
        for (int i = 0; i < n; i++) {
            float t = tanh(z[i]);
            z[i] = 1f - t * t;
        }
    }

    static void tanhDerivativeFromInput(double[] z, int n) {
        for (int i = 0; i < n; i++) {
            double t = Math.tanh(z[i]);
            z[i] = 1.0 - t * t;
        }
    }

    static void reluDerivativeFromInput(float[] z, int n) {
        reluDerivativeFromOutput(z, n);
    }

    static void reluDerivativeFromInput(double[] z, int n) {
        reluDerivativeFromOutput(z, n);
    }
}
