// finite.cu: the opt-in finite check (bptt4j.checkFinite) on the device. count_non_finite counts
// the NaN and ±Inf elements of one tensor into a 64-bit counter, so that the host reads one
// number per tensor instead of the tensor itself. No gradients flow here; nothing is written but
// the counter.
//
// dev.bptt4j.backend.cuda.EmulatedKernels#countNonFinite is the Java twin; the CPU backend and
// Backend's default count with Float/Double.isFinite, which is the same predicate: an element is
// non-finite when its exponent bits are all ones (NaN or ±Inf). Denormals and ±0 are finite.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1). Any grid
// is correct. Index arithmetic is 64-bit.

// x - x is 0 for every finite x and NaN for NaN and ±Inf, so one self-comparison tells them apart
// without isfinite (NVRTC has no <math.h>) and without a bit pattern per precision.
template <typename T>
__device__ inline bool is_non_finite(T v) {
    const T d = v - v;
    return d != d;
}

// n = n. *count += the number of i < n with x[i] NaN or ±Inf. The host zeroes *count first.
// Each thread counts its grid-stride share, each warp sums its 32 counts with __shfl_down_sync,
// and lane 0 adds the warp's total with one atomicAdd. The sum of counts is exact, so the result
// does not depend on the order of the atomics.
template <typename T>
__device__ void count_non_finite(const T* x, long long n, unsigned long long* count) {
    unsigned long long mine = 0;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        if (is_non_finite(x[i])) mine++;
    }
    // Every lane of every launched warp reaches this point (blockDim is a multiple of 32), so the
    // full mask is right.
    for (int offset = 16; offset > 0; offset /= 2) mine += __shfl_down_sync(0xffffffffu, mine, offset);
    if ((threadIdx.x & 31u) == 0 && mine != 0) atomicAdd(count, mine);
}

extern "C" __global__ void count_non_finite_f32(const float* x, long long n, unsigned long long* count) {
    count_non_finite(x, n, count);
}

extern "C" __global__ void count_non_finite_f64(const double* x, long long n, unsigned long long* count) {
    count_non_finite(x, n, count);
}
