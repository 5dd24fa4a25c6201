// training.cu: the kernels of the training loop, beside the model's. softmax_xent turns the logits
// of every (step, sequence) row into the row's cross-entropy and, in place, into dL/dlogits =
// scale·(softmax − onehot(target)) — the loss's whole backward, as the layer feeding it (V·h + c)
// takes its gradients by GEMM on the host side. sgd_step and adam_step update one parameter tensor
// from its accumulated gradient (read only; optimiser state is assigned). sum_of_squares, scale and
// clamp are the pieces of gradient clipping: a global norm accumulated into one double on the
// device and read once, then a scale, or an elementwise clamp.
//
// dev.bptt4j.backend.TrainingKernels is the Java twin (the CPU path and the host fallback run it).
// As there, every value is computed in double and rounded once to T when stored, and products are
// rounded on their own (mul) so that nvcc cannot fuse them: f64 optimiser, scale and clamp results
// then match the CPU bit for bit; softmax_xent differs by the few ulps between CUDA's exp/log and
// Java's, and sum_of_squares by its atomic accumulation order, which is not fixed.
//
// Layout: flat, contiguous tensors; logits are row-major rows × classes; targets are int class ids
// with −1 for a masked row.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1), where n is
// the count each kernel names below (softmax_xent: one thread per row, n = rows). Any grid is
// correct; the cap only bounds the block count. Index arithmetic is 64-bit.

__device__ inline double mul(double a, double b) { return __dmul_rn(a, b); }

// Java's Math.signum: ±1, and the argument itself for ±0 and NaN.
__device__ inline double signum_of(double p) { return p > 0.0 ? 1.0 : (p < 0.0 ? -1.0 : p); }

// g + wd·p + l1·sign(p): PyTorch's L2 (added to the gradient), then L1; a zero coefficient adds nothing.
__device__ inline double regularised(double g, double p, double weightDecay, double l1) {
    if (weightDecay != 0.0) g = g + mul(weightDecay, p);
    if (l1 != 0.0) g = g + mul(l1, signum_of(p));
    return g;
}

// n = rows. For target t = targets[r] >= 0: rowLoss[r] = log Σ_c exp(z_c − max) − (z_t − max),
// logits[r, c] = gradScale·(exp(z_c − max)/Σ − [c == t]); for t < 0 both become 0; for t >= classes
// (which the host rejects before upload, as the Java twin throws) both become NaN. max is taken
// with fmax, which skips a NaN logit; the NaN still reaches the sum and so every output.
template <typename T>
__device__ void softmax_xent(T* logits, const int* targets, T* rowLoss, int rows, int classes, double gradScale) {
#pragma unroll 1
    for (long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x; r < rows;
         r += (long long)blockDim.x * gridDim.x) {
        T* z = logits + r * classes;
        const int t = targets[r];
        if (t < 0) {
            for (int c = 0; c < classes; c++) z[c] = T(0);
            rowLoss[r] = T(0);
            continue;
        }
        if (t >= classes) { // the host validates targets; never read past the row, poison it instead
            for (int c = 0; c < classes; c++) z[c] = (T)nan("");
            rowLoss[r] = (T)nan("");
            continue;
        }
        double maxLogit = -INFINITY;
        for (int c = 0; c < classes; c++) maxLogit = fmax(maxLogit, (double)z[c]);
        const double shiftedTarget = (double)z[t] - maxLogit;
        double sum = 0.0;
        for (int c = 0; c < classes; c++) sum += exp((double)z[c] - maxLogit);
        rowLoss[r] = (T)(log(sum) - shiftedTarget);
        const double inv = 1.0 / sum;
        for (int c = 0; c < classes; c++) {
            const double e = exp((double)z[c] - maxLogit);
            z[c] = (T)mul(gradScale, mul(e, inv) - (c == t ? 1.0 : 0.0));
        }
    }
}

// n = count. torch.optim.SGD: d = regularised(g); with momentum μ ≠ 0, buf = firstStep ? d :
// μ·buf + (1 − dampening)·d and d = nesterov ? d + μ·buf : buf; then p = p − lr·d.
// momentumBuffer is read and written only when μ ≠ 0 and may be NULL otherwise.
template <typename T>
__device__ void sgd_step(T* param, const T* grad, T* momentumBuffer, long long count, double lr, double momentum,
                         double dampening, double weightDecay, double l1, int nesterov, int firstStep) {
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        const double p = param[i];
        double d = regularised(grad[i], p, weightDecay, l1);
        if (momentum != 0.0) {
            const double b = firstStep ? d : mul(momentum, (double)momentumBuffer[i]) + mul(1.0 - dampening, d);
            momentumBuffer[i] = (T)b;
            d = nesterov ? d + mul(momentum, b) : b;
        }
        param[i] = (T)(p - mul(lr, d));
    }
}

// n = count. torch.optim.Adam (amsgrad off): d = regularised(g); m = β1·m + (1−β1)·d;
// v = β2·v + (1−β2)·d²; p = p − (lr / biasCorrection1)·m / (√v / biasCorrection2Sqrt + eps), with
// biasCorrection1 = 1 − β1^step and biasCorrection2Sqrt = √(1 − β2^step) computed by the host.
// As in the Java twin, the moments used are the freshly computed doubles, before rounding to T.
template <typename T>
__device__ void adam_step(T* param, const T* grad, T* expAvg, T* expAvgSq, long long count, double lr, double beta1,
                          double beta2, double eps, double weightDecay, double l1, double biasCorrection1,
                          double biasCorrection2Sqrt) {
    const double stepSize = lr / biasCorrection1;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        const double p = param[i];
        const double d = regularised(grad[i], p, weightDecay, l1);
        const double m = mul(beta1, (double)expAvg[i]) + mul(1.0 - beta1, d);
        const double v = mul(beta2, (double)expAvgSq[i]) + mul(mul(1.0 - beta2, d), d);
        expAvg[i] = (T)m;
        expAvgSq[i] = (T)v;
        const double denom = sqrt(v) / biasCorrection2Sqrt + eps;
        param[i] = (T)(p - mul(stepSize, m / denom));
    }
}

// n = count. *out += Σ x[i]², accumulated in double: each block reduces its share in shared
// memory and adds it with one atomicAdd (sm_60+), so the order of the additions is not fixed.
template <typename T>
__device__ void sum_of_squares(const T* x, long long count, double* out) {
    __shared__ double partial[256];
    double s = 0.0;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        const double v = x[i];
        s += mul(v, v);
    }
    partial[threadIdx.x] = s;
    __syncthreads();
    for (unsigned int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(out, partial[0]);
}

// n = count. x = alpha·x.
template <typename T>
__device__ void scale(T* x, long long count, double alpha) {
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        x[i] = (T)mul(alpha, (double)x[i]);
    }
}

// n = count. x = min(max(x, lo), hi); NaN stays NaN (both comparisons are false for it).
template <typename T>
__device__ void clamp(T* x, long long count, double lo, double hi) {
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        const double v = x[i];
        if (v < lo) x[i] = (T)lo;
        else if (v > hi) x[i] = (T)hi;
    }
}

extern "C" __global__ void softmax_xent_f32(float* logits, const int* targets, float* rowLoss, int rows, int classes,
                                            double gradScale) {
    softmax_xent(logits, targets, rowLoss, rows, classes, gradScale);
}

extern "C" __global__ void softmax_xent_f64(double* logits, const int* targets, double* rowLoss, int rows, int classes,
                                            double gradScale) {
    softmax_xent(logits, targets, rowLoss, rows, classes, gradScale);
}

extern "C" __global__ void sgd_step_f32(float* param, const float* grad, float* momentumBuffer, long long count,
                                        double lr, double momentum, double dampening, double weightDecay, double l1,
                                        int nesterov, int firstStep) {
    sgd_step(param, grad, momentumBuffer, count, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep);
}

extern "C" __global__ void sgd_step_f64(double* param, const double* grad, double* momentumBuffer, long long count,
                                        double lr, double momentum, double dampening, double weightDecay, double l1,
                                        int nesterov, int firstStep) {
    sgd_step(param, grad, momentumBuffer, count, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep);
}

extern "C" __global__ void adam_step_f32(float* param, const float* grad, float* expAvg, float* expAvgSq,
                                         long long count, double lr, double beta1, double beta2, double eps,
                                         double weightDecay, double l1, double biasCorrection1,
                                         double biasCorrection2Sqrt) {
    adam_step(param, grad, expAvg, expAvgSq, count, lr, beta1, beta2, eps, weightDecay, l1, biasCorrection1,
              biasCorrection2Sqrt);
}

extern "C" __global__ void adam_step_f64(double* param, const double* grad, double* expAvg, double* expAvgSq,
                                         long long count, double lr, double beta1, double beta2, double eps,
                                         double weightDecay, double l1, double biasCorrection1,
                                         double biasCorrection2Sqrt) {
    adam_step(param, grad, expAvg, expAvgSq, count, lr, beta1, beta2, eps, weightDecay, l1, biasCorrection1,
              biasCorrection2Sqrt);
}

extern "C" __global__ void sum_of_squares_f32(const float* x, long long count, double* out) {
    sum_of_squares(x, count, out);
}

extern "C" __global__ void sum_of_squares_f64(const double* x, long long count, double* out) {
    sum_of_squares(x, count, out);
}

extern "C" __global__ void scale_f32(float* x, long long count, double alpha) { scale(x, count, alpha); }

extern "C" __global__ void scale_f64(double* x, long long count, double alpha) { scale(x, count, alpha); }

extern "C" __global__ void clamp_f32(float* x, long long count, double lo, double hi) { clamp(x, count, lo, hi); }

extern "C" __global__ void clamp_f64(double* x, long long count, double lo, double hi) { clamp(x, count, lo, hi); }
