// rnn_cell.cu: the Elman cell's pointwise half, forward beside backward. The GEMMs run in cuBLAS;
// these kernels finish a time step. Forward: z = x·W_ihᵀ + h_prev·W_hhᵀ (from cuBLAS, as
// preActivation) + b_ih + b_hh, then h = f(z), or h = h_prev + f(z) for a residual cell.
// Backward: the gradient reaching h is the loss's (outputGrad) plus the next step's
// (hiddenGradCarry); times f' it is the delta of z, which the host turns into weight gradients
// (accumulated, beta=1) and into the carry for the step before (assigned, beta=0, or on top of
// the identity path's copy for a residual cell).
//
// Layout: every matrix is row-major (rows contiguous), rows × hiddenSize, one row per sequence
// alive at this step. Bias vectors have hiddenSize entries; a NULL bias is no bias.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1), where n is
// the count each kernel names below. Any grid is correct; the cap only bounds the block count.
// The loops are not unrolled (#pragma unroll 1): with that grid they usually run once per thread.
// Index arithmetic is 64-bit, so rows × hiddenSize may exceed 2^31.
#include "bptt4j_math.cuh"

// z = pre + b_ih + b_hh, added in that order (the CPU path's order, so f64 results can match it
// bit for bit); a NULL bias adds nothing, not even +0.
template <typename T>
__device__ inline T preactivation_with_bias(T pre, const T* biasIh, const T* biasHh, long long column) {
    T z = pre;
    if (biasIh) z += biasIh[column];
    if (biasHh) z += biasHh[column];
    return z;
}

// n = rows × hiddenSize.
// hiddenOut[r,c] = (residual ? hiddenPrev[r,c] + f(z) : f(z)), z = preActivation[r,c] + biases.
// hiddenPrev is read only when residual != 0 and may be NULL otherwise. hiddenOut may alias
// preActivation (each element is read before it is written, by the same thread).
template <typename T>
__device__ void rnn_forward(T* hiddenOut, const T* preActivation, const T* biasIh, const T* biasHh,
                            const T* hiddenPrev, int rows, int hiddenSize, int activation, int residual) {
    const long long n = (long long)rows * hiddenSize;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long column = i % hiddenSize;
        const T activated = bptt4j::activate(preactivation_with_bias(preActivation[i], biasIh, biasHh, column), activation);
        hiddenOut[i] = residual ? hiddenPrev[i] + activated : activated;
    }
}

// n = slotRows × hiddenSize.
// On entry deltaInOut holds this step's pre-activation without bias; on exit, for r < aliveRows,
// delta[r,c] = f'(z) · g with g = outputGrad[r,c] + hiddenGradCarry[r,c]; f'(z) comes from the
// stored output hidden[r,c] for a plain cell and from z = pre + biases for a residual one, which
// also assigns hiddenGradCarry[r,c] = g (the identity path; the host adds delta·W_hh on top with
// a beta=1 GEMM). Rows aliveRows ≤ r < slotRows (sequences already ended) get delta = 0 and their
// carry is left alone. hidden is read only by a plain cell and the biases only by a residual one;
// what is not read may be NULL (and a NULL bias is no bias).
template <typename T>
__device__ void rnn_backward(T* deltaInOut, T* hiddenGradCarry, const T* hidden, const T* outputGrad,
                             const T* biasIh, const T* biasHh, int aliveRows, int slotRows, int hiddenSize,
                             int activation, int residual) {
    const long long alive = (long long)aliveRows * hiddenSize;
    const long long n = (long long)slotRows * hiddenSize;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        if (i >= alive) {
            deltaInOut[i] = T(0);
            continue;
        }
        const T g = outputGrad[i] + hiddenGradCarry[i];
        T derivative;
        if (residual) {
            const T z = preactivation_with_bias(deltaInOut[i], biasIh, biasHh, i % hiddenSize);
            derivative = bptt4j::activation_grad_from_preactivation(z, activation);
            hiddenGradCarry[i] = g;
        } else {
            derivative = bptt4j::activation_grad_from_output(hidden[i], activation);
        }
        deltaInOut[i] = bptt4j::mul_rn(derivative, g);
    }
}

extern "C" __global__ void rnn_forward_f32(float* hiddenOut, const float* preActivation, const float* biasIh,
                                           const float* biasHh, const float* hiddenPrev, int rows,
                                           int hiddenSize, int activation, int residual) {
    rnn_forward(hiddenOut, preActivation, biasIh, biasHh, hiddenPrev, rows, hiddenSize, activation, residual);
}

extern "C" __global__ void rnn_forward_f64(double* hiddenOut, const double* preActivation, const double* biasIh,
                                           const double* biasHh, const double* hiddenPrev, int rows,
                                           int hiddenSize, int activation, int residual) {
    rnn_forward(hiddenOut, preActivation, biasIh, biasHh, hiddenPrev, rows, hiddenSize, activation, residual);
}

extern "C" __global__ void rnn_backward_f32(float* deltaInOut, float* hiddenGradCarry, const float* hidden,
                                            const float* outputGrad, const float* biasIh, const float* biasHh,
                                            int aliveRows, int slotRows, int hiddenSize, int activation,
                                            int residual) {
    rnn_backward(deltaInOut, hiddenGradCarry, hidden, outputGrad, biasIh, biasHh, aliveRows, slotRows,
                 hiddenSize, activation, residual);
}

extern "C" __global__ void rnn_backward_f64(double* deltaInOut, double* hiddenGradCarry, const double* hidden,
                                            const double* outputGrad, const double* biasIh, const double* biasHh,
                                            int aliveRows, int slotRows, int hiddenSize, int activation,
                                            int residual) {
    rnn_backward(deltaInOut, hiddenGradCarry, hidden, outputGrad, biasIh, biasHh, aliveRows, slotRows,
                 hiddenSize, activation, residual);
}
