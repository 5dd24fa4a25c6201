// lstm_cell.cu: the LSTM cell's pointwise half, forward beside backward, with torch.nn.LSTM's gate
// order i, f, g, o. The GEMMs run in cuBLAS; these kernels finish a time step. Forward: the gate
// pre-activations a = x·W_ihᵀ + h_prev·W_hhᵀ (from cuBLAS, in gates) + b_ih + b_hh become
// i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o), written back over gates for the backward;
// c = f·c_prev + i·g and h = o·tanh(c). Backward: with dh = outputGrad + hiddenGradCarry and
// dc = cellGradCarry + dh·o·(1 − tanh²c), the gate deltas δ = [dc·g·σ'(i), dc·c_prev·σ'(f),
// dc·i·(1 − g²), dh·tanh(c)·σ'(o)] replace the gates, and dc·f is the cell carry for the step
// before. The host turns δ into weight gradients (accumulated, beta=1) and into the hidden carry
// δ·W_hh (assigned, beta=0); the kernels assign everything they write.
//
// Layout: row-major, one row per sequence alive at this step. gates rows are 4·hiddenSize wide
// ([i | f | g | o] blocks of hiddenSize); states, carries and outputGrad are hiddenSize wide. Bias
// vectors have 4·hiddenSize entries; a NULL bias is no bias.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1), where n is
// the count each kernel names below (one element per hidden unit, covering its four gates).
// Index arithmetic is 64-bit.
#include "bptt4j_math.cuh"

// a = pre + b_ih + b_hh, added in that order (the CPU twin's); a NULL bias adds nothing.
template <typename T>
__device__ inline T lstm_gate_with_bias(T pre, const T* biasIh, const T* biasHh, long long column) {
    T a = pre;
    if (biasIh) a += biasIh[column];
    if (biasHh) a += biasHh[column];
    return a;
}

// n = rows × hiddenSize.
// For r < rows, c < hiddenSize: reads the four gate pre-activations of unit c and cellPrev[r,c];
// writes the activated gates over them, cellOut[r,c] = f·cellPrev + i·g and
// hiddenOut[r,c] = o·tanh(cellOut[r,c]). hiddenOut, cellOut and cellPrev must not overlap gates.
template <typename T>
__device__ void lstm_forward(T* hiddenOut, T* cellOut, T* gates, const T* biasIh, const T* biasHh,
                             const T* cellPrev, int rows, int hiddenSize) {
    const long long n = (long long)rows * hiddenSize;
#pragma unroll 1
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (long long)blockDim.x * gridDim.x) {
        const long long r = e / hiddenSize;
        const long long c = e - r * hiddenSize;
        T* row = gates + r * 4 * hiddenSize;
        const T i = bptt4j::sigmoid_of(lstm_gate_with_bias(row[c], biasIh, biasHh, c));
        const T f = bptt4j::sigmoid_of(lstm_gate_with_bias(row[hiddenSize + c], biasIh, biasHh, hiddenSize + c));
        const T g = bptt4j::tanh_of(lstm_gate_with_bias(row[2 * hiddenSize + c], biasIh, biasHh, 2 * hiddenSize + c));
        const T o = bptt4j::sigmoid_of(lstm_gate_with_bias(row[3 * hiddenSize + c], biasIh, biasHh, 3 * hiddenSize + c));
        const T cell = bptt4j::mul_rn(f, cellPrev[e]) + bptt4j::mul_rn(i, g);
        row[c] = i;
        row[hiddenSize + c] = f;
        row[2 * hiddenSize + c] = g;
        row[3 * hiddenSize + c] = o;
        cellOut[e] = cell;
        hiddenOut[e] = bptt4j::mul_rn(o, bptt4j::tanh_of(cell));
    }
}

// n = slotRows × hiddenSize.
// On entry gatesInDeltaOut holds the activated gates of lstm_forward; on exit, for r < aliveRows,
// the gate deltas of the header comment, and 0 for aliveRows ≤ r < slotRows (sequences already
// ended). cellGradCarry[r,c] = dc·f is assigned for r < aliveRows and left alone above;
// hiddenGradCarry is only read, and NULL stands for zero (a projected cell hands the whole of
// dL/dh in outputGrad). cellPrev = c_{τ−1}, cell = c_τ.
template <typename T>
__device__ void lstm_backward(T* gatesInDeltaOut, const T* hiddenGradCarry, T* cellGradCarry, const T* cellPrev,
                              const T* cell, const T* outputGrad, int aliveRows, int slotRows, int hiddenSize) {
    const long long alive = (long long)aliveRows * hiddenSize;
    const long long n = (long long)slotRows * hiddenSize;
#pragma unroll 1
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n;
         e += (long long)blockDim.x * gridDim.x) {
        const long long r = e / hiddenSize;
        const long long c = e - r * hiddenSize;
        T* row = gatesInDeltaOut + r * 4 * hiddenSize;
        if (e >= alive) {
            row[c] = T(0);
            row[hiddenSize + c] = T(0);
            row[2 * hiddenSize + c] = T(0);
            row[3 * hiddenSize + c] = T(0);
            continue;
        }
        const T i = row[c], f = row[hiddenSize + c], g = row[2 * hiddenSize + c], o = row[3 * hiddenSize + c];
        const T dh = hiddenGradCarry ? outputGrad[e] + hiddenGradCarry[e] : outputGrad[e];
        const T tc = bptt4j::tanh_of(cell[e]);
        const T dc = cellGradCarry[e] + bptt4j::mul_rn(bptt4j::mul_rn(dh, o), bptt4j::tanh_grad_from_output(tc));
        row[c] = bptt4j::mul_rn(bptt4j::mul_rn(dc, g), bptt4j::sigmoid_grad_from_output(i));
        row[hiddenSize + c] = bptt4j::mul_rn(bptt4j::mul_rn(dc, cellPrev[e]), bptt4j::sigmoid_grad_from_output(f));
        row[2 * hiddenSize + c] = bptt4j::mul_rn(bptt4j::mul_rn(dc, i), bptt4j::tanh_grad_from_output(g));
        row[3 * hiddenSize + c] = bptt4j::mul_rn(bptt4j::mul_rn(dh, tc), bptt4j::sigmoid_grad_from_output(o));
        cellGradCarry[e] = bptt4j::mul_rn(dc, f);
    }
}

extern "C" __global__ void lstm_forward_f32(float* hiddenOut, float* cellOut, float* gates, const float* biasIh,
                                            const float* biasHh, const float* cellPrev, int rows, int hiddenSize) {
    lstm_forward(hiddenOut, cellOut, gates, biasIh, biasHh, cellPrev, rows, hiddenSize);
}

extern "C" __global__ void lstm_forward_f64(double* hiddenOut, double* cellOut, double* gates, const double* biasIh,
                                            const double* biasHh, const double* cellPrev, int rows, int hiddenSize) {
    lstm_forward(hiddenOut, cellOut, gates, biasIh, biasHh, cellPrev, rows, hiddenSize);
}

extern "C" __global__ void lstm_backward_f32(float* gatesInDeltaOut, const float* hiddenGradCarry, float* cellGradCarry,
                                             const float* cellPrev, const float* cell, const float* outputGrad,
                                             int aliveRows, int slotRows, int hiddenSize) {
    lstm_backward(gatesInDeltaOut, hiddenGradCarry, cellGradCarry, cellPrev, cell, outputGrad, aliveRows, slotRows,
                  hiddenSize);
}

extern "C" __global__ void lstm_backward_f64(double* gatesInDeltaOut, const double* hiddenGradCarry, double* cellGradCarry,
                                             const double* cellPrev, const double* cell, const double* outputGrad,
                                             int aliveRows, int slotRows, int hiddenSize) {
    lstm_backward(gatesInDeltaOut, hiddenGradCarry, cellGradCarry, cellPrev, cell, outputGrad, aliveRows, slotRows,
                  hiddenSize);
}
