package dev.bptt4j.backend.cpu;

/**
 * Element math of the CPU kernels over arrays, in place. NaN propagates through every function
 * (a NaN pre-activation gives a NaN output and a NaN derivative), so a numerical blow-up is never
 * silently turned into zeros.
 */
final class CpuMath {
    private CpuMath() {
    }

    static void tanh(float[] z, int n) {
        for (int i = 0; i < n; i++) z[i] = (float) Math.tanh(z[i]);
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
            float t = (float) Math.tanh(z[i]);
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
