// gru_cell.cu: the GRU cell's pointwise half, forward beside backward, with torch.nn.GRU's gate
// order r, z, n. The GEMMs run in cuBLAS; these kernels finish a time step. The reset gate
// multiplies the recurrent product of the candidate, so that product is kept apart: gates holds
// gi = x·W_ihᵀ and hiddenGates holds gh = h_prev·W_hhᵀ (both from cuBLAS, without bias). Forward:
// r = σ(gi_r + b_ir + gh_r + b_hr), z = σ(gi_z + b_iz + gh_z + b_hz),
// n = tanh(gi_n + b_in + r·(gh_n + b_hn)), h = n + z·(h_prev − n) (PyTorch's form of
// (1 − z)·n + z·h_prev); r, z, n are written over gates for the backward. Backward, with
// g = outputGrad + hiddenGradCarry: da_n = g·(1 − z)·(1 − n²), da_z = g·(h_prev − n)·σ'(z),
// da_r = da_n·(gh_n + b_hn)·σ'(r); δ_ih = [da_r, da_z, da_n] replaces gates and
// δ_hh = [da_r, da_z, da_n·r] replaces hiddenGates, and the carry becomes g·z, the identity path,
// on top of which the host adds δ_hh·W_hh (beta=1). Weight gradients are accumulated by the host
// (dW_ih = δ_ihᵀX, dW_hh = δ_hhᵀH); the kernels assign everything they write.
//
// Layout: row-major, one row per sequence alive at this step. gates and hiddenGates rows are
// 3·hiddenSize wide ([r | z | n] blocks of hiddenSize); states, carry and outputGrad are hiddenSize
// wide. Bias vectors have 3·hiddenSize entries; a NULL bias is no bias.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1), where n is
// the count each kernel names below (one element per hidden unit, covering its three gates).
// Index arithmetic is 64-bit.
#include "bptt4j_math.cuh"

// v + bias[column], or v for a NULL bias.
template <typename T>
__device__ inline T gru_with_bias(T v, const T* bias, long long column) {
    return bias ? v + bias[column] : v;
}

// n = rows × hiddenSize.
// For r < rows, c < hiddenSize: writes r, z, n of unit c over gates and hiddenOut[r,c]; reads
// hiddenGates and hiddenPrev, which it leaves as they were. hiddenOut must not overlap the inputs.
template <typename T>
__device__ void gru_forward(T* hiddenOut, T* gates, const T* hiddenGates, const T* biasIh, const T* biasHh,
                            const T* hiddenPrev, int rows, int hiddenSize) {
    const long long n = (long long)rows * hiddenSize;
#pragma unroll 1
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (long long)blockDim.x * gridDim.x) {
        const long long row = e / hiddenSize;
        const long long c = e - row * hiddenSize;
        T* gi = gates + row * 3 * hiddenSize;
        const T* gh = hiddenGates + row * 3 * hiddenSize;
        const long long cz = hiddenSize + c, cn = 2 * hiddenSize + c;
        const T r = bptt4j::sigmoid_of(gru_with_bias(gi[c], biasIh, c) + gru_with_bias(gh[c], biasHh, c));
        const T z = bptt4j::sigmoid_of(gru_with_bias(gi[cz], biasIh, cz) + gru_with_bias(gh[cz], biasHh, cz));
        const T candidate = bptt4j::tanh_of(gru_with_bias(gi[cn], biasIh, cn) + bptt4j::mul_rn(r, gru_with_bias(gh[cn], biasHh, cn)));
        gi[c] = r;
        gi[cz] = z;
        gi[cn] = candidate;
        hiddenOut[e] = candidate + bptt4j::mul_rn(z, hiddenPrev[e] - candidate);
    }
}

// n = slotRows × hiddenSize.
// On entry gatesInDeltaOut holds r, z, n from gru_forward and hiddenGatesInDeltaOut holds
// h_prev·W_hhᵀ; on exit, for row < aliveRows, δ_ih and δ_hh of the header comment, and 0 in both
// for aliveRows ≤ row < slotRows (sequences already ended). hiddenGradCarry[row,c] = g·z is
// assigned for row < aliveRows and left alone above.
template <typename T>
__device__ void gru_backward(T* gatesInDeltaOut, T* hiddenGatesInDeltaOut, T* hiddenGradCarry, const T* hiddenPrev,
                             const T* outputGrad, const T* biasHh, int aliveRows, int slotRows, int hiddenSize) {
    const long long alive = (long long)aliveRows * hiddenSize;
    const long long n = (long long)slotRows * hiddenSize;
#pragma unroll 1
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (long long)blockDim.x * gridDim.x) {
        const long long row = e / hiddenSize;
        const long long c = e - row * hiddenSize;
        T* gi = gatesInDeltaOut + row * 3 * hiddenSize;
        T* gh = hiddenGatesInDeltaOut + row * 3 * hiddenSize;
        const long long cz = hiddenSize + c, cn = 2 * hiddenSize + c;
        if (e >= alive) {
            gi[c] = T(0);
            gi[cz] = T(0);
            gi[cn] = T(0);
            gh[c] = T(0);
            gh[cz] = T(0);
            gh[cn] = T(0);
            continue;
        }
        const T r = gi[c], z = gi[cz], candidate = gi[cn];
        const T g = outputGrad[e] + hiddenGradCarry[e];
        const T dan = bptt4j::mul_rn(bptt4j::mul_rn(g, T(1) - z), bptt4j::tanh_grad_from_output(candidate));
        const T daz = bptt4j::mul_rn(bptt4j::mul_rn(g, hiddenPrev[e] - candidate), bptt4j::sigmoid_grad_from_output(z));
        const T dar = bptt4j::mul_rn(bptt4j::mul_rn(dan, gru_with_bias(gh[cn], biasHh, cn)), bptt4j::sigmoid_grad_from_output(r));
        gi[c] = dar;
        gi[cz] = daz;
        gi[cn] = dan;
        gh[c] = dar;
        gh[cz] = daz;
        gh[cn] = bptt4j::mul_rn(dan, r);
        hiddenGradCarry[e] = bptt4j::mul_rn(g, z);
    }
}

extern "C" __global__ void gru_forward_f32(float* hiddenOut, float* gates, const float* hiddenGates, const float* biasIh,
                                           const float* biasHh, const float* hiddenPrev, int rows, int hiddenSize) {
    gru_forward(hiddenOut, gates, hiddenGates, biasIh, biasHh, hiddenPrev, rows, hiddenSize);
}

extern "C" __global__ void gru_forward_f64(double* hiddenOut, double* gates, const double* hiddenGates, const double* biasIh,
                                           const double* biasHh, const double* hiddenPrev, int rows, int hiddenSize) {
    gru_forward(hiddenOut, gates, hiddenGates, biasIh, biasHh, hiddenPrev, rows, hiddenSize);
}

extern "C" __global__ void gru_backward_f32(float* gatesInDeltaOut, float* hiddenGatesInDeltaOut, float* hiddenGradCarry,
                                            const float* hiddenPrev, const float* outputGrad, const float* biasHh,
                                            int aliveRows, int slotRows, int hiddenSize) {
    gru_backward(gatesInDeltaOut, hiddenGatesInDeltaOut, hiddenGradCarry, hiddenPrev, outputGrad, biasHh, aliveRows,
                 slotRows, hiddenSize);
}

extern "C" __global__ void gru_backward_f64(double* gatesInDeltaOut, double* hiddenGatesInDeltaOut, double* hiddenGradCarry,
                                            const double* hiddenPrev, const double* outputGrad, const double* biasHh,
                                            int aliveRows, int slotRows, int hiddenSize) {
    gru_backward(gatesInDeltaOut, hiddenGatesInDeltaOut, hiddenGradCarry, hiddenPrev, outputGrad, biasHh, aliveRows,
                 slotRows, hiddenSize);
}
