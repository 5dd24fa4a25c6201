// bptt4j_math.cuh: the element math every kernel shares, as __host__ __device__ functions so that
// nvcc, NVRTC and a plain host compiler (g++, for the element-math test) all see the same code.
// dev.bptt4j.backend.ElementMath is its Java twin, written function by function, and the CPU path
// and the GPU emulator compute through that twin.
//
// Rules that hold for every function here:
//  - NaN in, NaN out. relu(NaN) is NaN and every derivative of a NaN is NaN, so a NaN that reaches
//    an activation is not laundered into 0 on the way forward or back. The relu tests are written
//    "x <= 0 ? 0 : x" (one comparison; false for NaN) rather than "x > 0 ? x : 0".
//  - relu(-0) is +0; relu'(0) is 0 (PyTorch's convention: the gradient at the kink is zero).
//  - Products are rounded on their own (mul_rn): nvcc would otherwise contract 1 - h*h into an FMA,
//    and then an f64 result could not be bitwise equal to the CPU path's. tanh, exp and so sigmoid
//    come from the platform's libm (CUDA's or glibc's), which differ from Java's by a few ulps.
//  - Activation codes: 0 = tanh, 1 = relu (ACTIVATION_TANH, ACTIVATION_RELU). Kernels treat every
//    code other than 1 as tanh; the Java launcher rejects unknown codes before a launch.
#ifndef BPTT4J_MATH_CUH
#define BPTT4J_MATH_CUH

#ifndef __CUDACC__
// A host compiler (g++): no CUDA qualifiers, libm from the C library. nvcc and NVRTC define
// __CUDACC__ and have tanh/tanhf/exp/expf built in, so neither sees this block.
#include <math.h>
#define __host__
#define __device__
#endif

namespace bptt4j {

enum { ACTIVATION_TANH = 0, ACTIVATION_RELU = 1 };

// a*b rounded on its own, never fused with a following add or subtract.
__host__ __device__ inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
__host__ __device__ inline double mul_rn(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

__host__ __device__ inline float tanh_of(float z) { return tanhf(z); }
__host__ __device__ inline double tanh_of(double z) { return tanh(z); }

__host__ __device__ inline float relu_of(float z) { return z <= 0.0f ? 0.0f : z; }
__host__ __device__ inline double relu_of(double z) { return z <= 0.0 ? 0.0 : z; }

// 1 / (1 + e^-z): exp overflows to +inf for z < -88 (f32) or -709 (f64) and the quotient is then 0.
__host__ __device__ inline float sigmoid_of(float z) { return 1.0f / (1.0f + expf(-z)); }
__host__ __device__ inline double sigmoid_of(double z) { return 1.0 / (1.0 + exp(-z)); }

// tanh' expressed through the output h = tanh(z): 1 - h².
__host__ __device__ inline float tanh_grad_from_output(float h) { return 1.0f - mul_rn(h, h); }
__host__ __device__ inline double tanh_grad_from_output(double h) { return 1.0 - mul_rn(h, h); }

// σ' expressed through the output s = σ(z): s·(1 − s) (the LSTM and GRU gates).
__host__ __device__ inline float sigmoid_grad_from_output(float s) { return mul_rn(s, 1.0f - s); }
__host__ __device__ inline double sigmoid_grad_from_output(double s) { return mul_rn(s, 1.0 - s); }

// relu' of x, where x is either the output or the pre-activation: both have the same sign.
__host__ __device__ inline float relu_grad(float x) { return x <= 0.0f ? 0.0f : (x > 0.0f ? 1.0f : x); }
__host__ __device__ inline double relu_grad(double x) { return x <= 0.0 ? 0.0 : (x > 0.0 ? 1.0 : x); }

// f(z) for an activation code.
template <typename T>
__host__ __device__ inline T activate(T z, int activation) {
    return activation == ACTIVATION_RELU ? relu_of(z) : tanh_of(z);
}

// f'(z) from the stored output h = f(z): what a plain cell's backward uses.
template <typename T>
__host__ __device__ inline T activation_grad_from_output(T h, int activation) {
    return activation == ACTIVATION_RELU ? relu_grad(h) : tanh_grad_from_output(h);
}

// f'(z) from the pre-activation z: what a residual cell's backward uses, since its output
// h_prev + f(z) no longer determines f(z).
template <typename T>
__host__ __device__ inline T activation_grad_from_preactivation(T z, int activation) {
    return activation == ACTIVATION_RELU ? relu_grad(z) : tanh_grad_from_output(tanh_of(z));
}

}  // namespace bptt4j

#endif  // BPTT4J_MATH_CUH
