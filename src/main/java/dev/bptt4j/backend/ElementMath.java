package dev.bptt4j.backend;

/**
 * The Java twin of {@code cuda/bptt4j_math.cuh}, function for function: the element math of every
 * kernel, in double and in float. The CPU path and the GPU emulator compute through it, so what
 * holds for the header holds here:
 * <ul>
 *   <li>NaN in, NaN out: relu(NaN) and every derivative of NaN are NaN. relu is written
 *       {@code z <= 0 ? 0 : z}, one comparison that is false for NaN.
 *   <li>relu(-0) is +0 and relu'(0) is 0 (PyTorch's convention at the kink).
 *   <li>Products are rounded on their own: the kernels use {@code __fmul_rn}/{@code __dmul_rn} so
 *       that nvcc cannot fuse {@code 1 - h*h} into an FMA, and Java never fuses. relu and every
 *       derivative from an output are therefore bitwise equal to the GPU's.
 *   <li>tanh and exp come from each platform's library, so tanh and sigmoid are not bitwise
 *       portable. Here they are {@link StrictMath} (fdlibm: the same bits on every JVM; its tanh
 *       is off by up to about 2 ulp, e.g. 2.08 ulp at z = -0.2511). The float versions round the
 *       double result once, which is almost always the correctly rounded float, then go on in
 *       float arithmetic step for step as the CUDA float code does. CUDA documents tanh and exp
 *       at 1 ulp and tanhf and expf at 2 ulp, so expect the GPU within about 3 ulp of this class
 *       for tanh in either precision, and a little more for f32 sigmoid (expf's error passes
 *       through 1 + e and the division). ElementMathHostTest holds glibc's results to 3 ulp.
 * </ul>
 * Activation codes are the kernels' ints: {@link #ACTIVATION_TANH} = 0, {@link #ACTIVATION_RELU} =
 * 1. The kernels read every code other than 1 as tanh; this class rejects unknown codes, and so
 * must any launcher.
 *
 * <p>Float and double versions are overloads, as in the header: pass a float to get float math
 * (an int argument picks the float overload).
 */
public final class ElementMath {
    public static final int ACTIVATION_TANH = 0;
    public static final int ACTIVATION_RELU = 1;

    private ElementMath() {}

    /** Returns {@code activation} if it is a known code, else throws. */
    public static int checkActivation(int activation) {
        if (activation != ACTIVATION_TANH && activation != ACTIVATION_RELU) {
            throw new IllegalArgumentException("activation code " + activation + ": expected 0 (tanh) or 1 (relu)");
        }
        return activation;
    }

    // tanh_of
    public static double tanh(double z) {
        return StrictMath.tanh(z);
    }

    public static float tanh(float z) {
        return (float) StrictMath.tanh(z);
    }

    // relu_of
    public static double relu(double z) {
        return z <= 0.0 ? 0.0 : z;
    }

    public static float relu(float z) {
        return z <= 0.0f ? 0.0f : z;
    }

    // sigmoid_of: 1 / (1 + e^-z)
    public static double sigmoid(double z) {
        return 1.0 / (1.0 + StrictMath.exp(-z));
    }

    public static float sigmoid(float z) {
        float e = (float) StrictMath.exp(-z); // expf(-z)
        return 1.0f / (1.0f + e);
    }

    // tanh_grad_from_output: 1 - h², h = tanh(z)
    public static double tanhGradFromOutput(double h) {
        return 1.0 - h * h;
    }

    public static float tanhGradFromOutput(float h) {
        return 1.0f - h * h;
    }

    // sigmoid_grad_from_output: s·(1 − s), s = σ(z)
    public static double sigmoidGradFromOutput(double s) {
        return s * (1.0 - s);
    }

    public static float sigmoidGradFromOutput(float s) {
        return s * (1.0f - s);
    }

    // relu_grad: of the output or of the pre-activation, which share a sign
    public static double reluGrad(double x) {
        return x <= 0.0 ? 0.0 : (x > 0.0 ? 1.0 : x);
    }

    public static float reluGrad(float x) {
        return x <= 0.0f ? 0.0f : (x > 0.0f ? 1.0f : x);
    }

    // activate
    public static double activate(double z, int activation) {
        return checkActivation(activation) == ACTIVATION_RELU ? relu(z) : tanh(z);
    }

    public static float activate(float z, int activation) {
        return checkActivation(activation) == ACTIVATION_RELU ? relu(z) : tanh(z);
    }

    // activation_grad_from_output: f'(z) from h = f(z), for a plain cell
    public static double activationGradFromOutput(double h, int activation) {
        return checkActivation(activation) == ACTIVATION_RELU ? reluGrad(h) : tanhGradFromOutput(h);
    }

    public static float activationGradFromOutput(float h, int activation) {
        return checkActivation(activation) == ACTIVATION_RELU ? reluGrad(h) : tanhGradFromOutput(h);
    }

    // activation_grad_from_preactivation: f'(z) from z, for a residual cell (h_prev + f(z) does not give f(z))
    public static double activationGradFromPreactivation(double z, int activation) {
        return checkActivation(activation) == ACTIVATION_RELU ? reluGrad(z) : tanhGradFromOutput(tanh(z));
    }

    public static float activationGradFromPreactivation(float z, int activation) {
        return checkActivation(activation) == ACTIVATION_RELU ? reluGrad(z) : tanhGradFromOutput(tanh(z));
    }
}
