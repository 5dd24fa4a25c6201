// dropout.cu: dropout between the layers of a stack (torch.nn.RNN's dropout), forward beside
// backward. In training, each element of a layer's output is kept with probability 1 − p and then
// scaled by 1/(1 − p), or zeroed; the next layer reads the result. The mask is drawn from Philox
// (philox.cuh), keyed by the seed and indexed by what the element is, not where it is stored:
//   counter = (e / 4, t·B + b, 2·layer + direction, stream), key = (seed low 32, seed high 32),
//   word e % 4, kept when its uniform u ≥ p,
// where e is the unit, t the real time step, b the sequence and `direction` the one that produced
// the value; `stream` counts the training forwards. So the CPU, the emulator and a GPU draw the
// same mask for any layout, and a forward can be replayed exactly. The forward writes the mask (0
// or the scale) beside the values; the backward multiplies the gradient by it.
//
// Layout: a layer input in one direction's slot layout, rows × width with width = D·hidden
// ([direction 0 | direction 1] blocks of hidden); timeRow[r] = t·B + b of row r, −1 for a dead row.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1), where n is
// the count each kernel names below. Index arithmetic is 64-bit.
#include "bptt4j_math.cuh"
#include "philox.cuh"

// n = rows × width. x[r, c] = mul_rn(x[r, c], mask[r, c]) with mask[r, c] = u ≥ p ? scale : 0 for
// a live row; a dead row (timeRow[r] < 0) gets mask 0 and keeps x (it is zero already).
template <typename T>
__device__ void dropout_forward(T* x, T* mask, const int* timeRow, int rows, int width, int hidden, int layer,
                                long long seed, long long stream, double p, T scale) {
    const long long n = (long long)rows * width;
    const unsigned int k0 = (unsigned int)(unsigned long long)seed;
    const unsigned int k1 = (unsigned int)((unsigned long long)seed >> 32);
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long r = i / width;
        const int c = (int)(i - r * width);
        const int row = timeRow[r];
        if (row < 0) {
            mask[i] = T(0);
            continue;
        }
        const int direction = c / hidden, e = c - direction * hidden;
        const unsigned int word = bptt4j::philox_word((unsigned int)(e >> 2), (unsigned int)row,
                                                      (unsigned int)(2 * layer + direction),
                                                      (unsigned int)(unsigned long long)stream, k0, k1, e & 3);
        const T m = bptt4j::philox_uniform(word) >= p ? scale : T(0);
        mask[i] = m;
        x[i] = bptt4j::mul_rn(x[i], m);
    }
}

// n = count. grad[i] = mul_rn(grad[i], mask[i]): the gradient through the forward's mask.
template <typename T>
__device__ void dropout_backward(T* grad, const T* mask, long long count) {
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        grad[i] = bptt4j::mul_rn(grad[i], mask[i]);
    }
}

extern "C" __global__ void dropout_forward_f32(float* x, float* mask, const int* timeRow, int rows, int width, int hidden,
                                               int layer, long long seed, long long stream, double p, float scale) {
    dropout_forward(x, mask, timeRow, rows, width, hidden, layer, seed, stream, p, scale);
}

extern "C" __global__ void dropout_forward_f64(double* x, double* mask, const int* timeRow, int rows, int width, int hidden,
                                               int layer, long long seed, long long stream, double p, double scale) {
    dropout_forward(x, mask, timeRow, rows, width, hidden, layer, seed, stream, p, scale);
}

extern "C" __global__ void dropout_backward_f32(float* grad, const float* mask, long long count) {
    dropout_backward(grad, mask, count);
}

extern "C" __global__ void dropout_backward_f64(double* grad, const double* mask, long long count) {
    dropout_backward(grad, mask, count);
}
