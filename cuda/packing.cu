// packing.cu: moving rows between the packed, time-major layout the cell kernels work on and the
// padded layouts users hand in and take out. gather_rows copies (or adds) a column window of
// selected source rows into a column window of consecutive destination rows. Packing takes each
// source row at most once, so its gradient is again a gather, with the inverse row map
// (accumulate = 1 where a gradient adds onto one already there).
// fill sets a buffer to one value (zeroing carries and gradient slots). sum_rows adds two blocks
// of rows into a third and zeroes the rows of a slot past its live ones (a step's dL/dh from
// above plus the one carried from the step after, for a cell that keeps it per step).
//
// Layout: row-major, rows contiguous; a stride is the distance in elements between the starts of
// two consecutive rows, and a column offset says where the window starts inside a row.
//
// Launch geometry, the same for every kernel in bptt4j: a 1-D grid-stride loop over the flat
// element index, blockDim = (256, 1, 1), gridDim = (min(ceil(n / 256), 65535), 1, 1), where n is
// the count each kernel names below. Any grid is correct; the cap only bounds the block count.
// The loops are not unrolled (#pragma unroll 1): with that grid they usually run once per thread.
// Index arithmetic is 64-bit, so offsets may exceed 2^31 elements.

// n = rows × width.
// dst[r·dstStride + dstColumn + c] (+)= rowIndex[r] >= 0 ? src[rowIndex[r]·srcStride + srcColumn + c] : 0
// for r < rows, c < width. A negative rowIndex is a padding row: it contributes zero (with
// accumulate = 1 the destination is left as it was, bit for bit). dst must not overlap src.
template <typename T>
__device__ void gather_rows(T* dst, const T* src, const int* rowIndex, int rows, int width, int dstStride,
                            int dstColumn, int srcStride, int srcColumn, int accumulate) {
    const long long n = (long long)rows * width;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long r = i / width;
        const long long c = i - r * width;
        const int sourceRow = rowIndex[r];
        const long long target = r * dstStride + dstColumn + c;
        if (sourceRow < 0) {
            if (!accumulate) dst[target] = T(0);
            continue;
        }
        const T v = src[(long long)sourceRow * srcStride + srcColumn + c];
        dst[target] = accumulate ? dst[target] + v : v;
    }
}

// n = count. dst[i] = value for i < count.
template <typename T>
__device__ void fill(T* dst, T value, long long count) {
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;
         i += (long long)blockDim.x * gridDim.x) {
        dst[i] = value;
    }
}

// n = slotRows × width. dst[i] = a[i] + b[i] for i < aliveRows·width, 0 for the rest of the slot.
// dst may be a or b.
template <typename T>
__device__ void sum_rows(T* dst, const T* a, const T* b, int aliveRows, int slotRows, int width) {
    const long long alive = (long long)aliveRows * width;
    const long long n = (long long)slotRows * width;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        dst[i] = i < alive ? a[i] + b[i] : T(0);
    }
}

extern "C" __global__ void gather_rows_f32(float* dst, const float* src, const int* rowIndex, int rows, int width,
                                           int dstStride, int dstColumn, int srcStride, int srcColumn,
                                           int accumulate) {
    gather_rows(dst, src, rowIndex, rows, width, dstStride, dstColumn, srcStride, srcColumn, accumulate);
}

extern "C" __global__ void gather_rows_f64(double* dst, const double* src, const int* rowIndex, int rows,
                                           int width, int dstStride, int dstColumn, int srcStride,
                                           int srcColumn, int accumulate) {
    gather_rows(dst, src, rowIndex, rows, width, dstStride, dstColumn, srcStride, srcColumn, accumulate);
}

extern "C" __global__ void fill_f32(float* dst, float value, long long count) {
    fill(dst, value, count);
}

extern "C" __global__ void fill_f64(double* dst, double value, long long count) {
    fill(dst, value, count);
}

extern "C" __global__ void sum_rows_f32(float* dst, const float* a, const float* b, int aliveRows, int slotRows, int width) {
    sum_rows(dst, a, b, aliveRows, slotRows, width);
}

extern "C" __global__ void sum_rows_f64(double* dst, const double* a, const double* b, int aliveRows, int slotRows,
                                        int width) {
    sum_rows(dst, a, b, aliveRows, slotRows, width);
}
