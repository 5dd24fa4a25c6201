// kernel_host_harness.cpp: the kernels of rnn_cell.cu, lstm_cell.cu, gru_cell.cu, packing.cu and
// training.cu compiled for the host and run one emulated thread at a time, so their indexing, NULL
// handling and row bookkeeping can be checked without a GPU. Kernels whose threads share data
// (sum_of_squares in training.cu: shared memory and __syncthreads; finite.cu: warp shuffles) cannot
// run one thread at a time and are left out; EmulatedKernels follows their block structure instead. Grids are deliberately small (e.g. 2 blocks of 4 threads) so every
// grid-stride loop goes round more than once. KernelHostHarnessTest compiles this with g++ and
// holds every output against the same launch on the emulator (EmulatedKernels, the Java copy).
//
// Output, one case at a time:
//   case <kernel> <name>=<int> ...
//   array <name> <f|d> <hex bits> ...   (inputs, then outputs named *Out / *After)
//   end
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <math.h>
#include <vector>

// What nvcc would provide: launch coordinates and the kernel qualifiers.
struct Coordinates { unsigned x, y, z; };
static Coordinates threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__

#include "../rnn_cell.cu"
#include "../packing.cu"
#include "../lstm_cell.cu"
#include "../gru_cell.cu"
#include "../dropout.cu"

// What training.cu needs beyond that. sum_of_squares compiles against these stubs but is not run.
#define __shared__ static
static inline void __syncthreads() {}
static inline double atomicAdd(double* address, double value) { const double old = *address; *address += value; return old; }
static inline double __dmul_rn(double a, double b) { return a * b; }  // -ffp-contract=off keeps it unfused
#include "../training.cu"

// Runs call once per (block, thread), in order; these kernels never share data between threads.
#define LAUNCH(grid, block, call)                                      \
    do {                                                               \
        gridDim = {(grid), 1, 1};                                      \
        blockDim = {(block), 1, 1};                                    \
        for (unsigned b = 0; b < (grid); b++)                          \
            for (unsigned t = 0; t < (block); t++) {                   \
                blockIdx = {b, 0, 0};                                  \
                threadIdx = {t, 0, 0};                                 \
                call;                                                  \
            }                                                          \
    } while (0)

static std::uint64_t state = 0x2545F4914F6CDD1DULL;
static double next_uniform(double lo, double hi) {  // xorshift64, reproducible everywhere
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return lo + (hi - lo) * (double)(state >> 11) / 9007199254740992.0;
}

template <typename T>
static std::vector<T> random_vector(std::size_t n, double lo, double hi) {
    std::vector<T> v(n);
    for (auto& x : v) x = (T)next_uniform(lo, hi);
    return v;
}

static void print_array(const char* name, const std::vector<float>& v) {
    std::printf("array %s f", name);
    for (float x : v) { std::uint32_t b; std::memcpy(&b, &x, 4); std::printf(" %08x", b); }
    std::printf("\n");
}
static void print_array(const char* name, const std::vector<double>& v) {
    std::printf("array %s d", name);
    for (double x : v) { std::uint64_t b; std::memcpy(&b, &x, 8); std::printf(" %016llx", (unsigned long long)b); }
    std::printf("\n");
}
static void print_array(const char* name, const std::vector<int>& v) {
    std::printf("array %s i", name);
    for (int x : v) std::printf(" %08x", (unsigned)x);
    std::printf("\n");
}

template <typename T> struct Kernels;
template <> struct Kernels<float> {
    static constexpr const char* forward = "rnn_forward_f32";
    static constexpr const char* backward = "rnn_backward_f32";
    static constexpr const char* gather = "gather_rows_f32";
    static constexpr const char* fill = "fill_f32";
    static constexpr const char* sumRows = "sum_rows_f32";
    static constexpr const char* dropoutForward = "dropout_forward_f32";
    static constexpr const char* dropoutBackward = "dropout_backward_f32";
    static constexpr const char* lstmForward = "lstm_forward_f32";
    static constexpr const char* lstmBackward = "lstm_backward_f32";
    static constexpr const char* gruForward = "gru_forward_f32";
    static constexpr const char* gruBackward = "gru_backward_f32";
    static constexpr const char* softmaxXent = "softmax_xent_f32";
    static constexpr const char* sgdStep = "sgd_step_f32";
    static constexpr const char* adamStep = "adam_step_f32";
    static constexpr const char* scale = "scale_f32";
    static constexpr const char* clamp = "clamp_f32";
};
template <> struct Kernels<double> {
    static constexpr const char* forward = "rnn_forward_f64";
    static constexpr const char* backward = "rnn_backward_f64";
    static constexpr const char* gather = "gather_rows_f64";
    static constexpr const char* fill = "fill_f64";
    static constexpr const char* sumRows = "sum_rows_f64";
    static constexpr const char* dropoutForward = "dropout_forward_f64";
    static constexpr const char* dropoutBackward = "dropout_backward_f64";
    static constexpr const char* lstmForward = "lstm_forward_f64";
    static constexpr const char* lstmBackward = "lstm_backward_f64";
    static constexpr const char* gruForward = "gru_forward_f64";
    static constexpr const char* gruBackward = "gru_backward_f64";
    static constexpr const char* softmaxXent = "softmax_xent_f64";
    static constexpr const char* sgdStep = "sgd_step_f64";
    static constexpr const char* adamStep = "adam_step_f64";
    static constexpr const char* scale = "scale_f64";
    static constexpr const char* clamp = "clamp_f64";
};
static void launch_forward(float* h, const float* p, const float* bi, const float* bh, const float* prev, int rows,
                           int hidden, int act, int res, unsigned grid, unsigned block) {
    LAUNCH(grid, block, rnn_forward_f32(h, p, bi, bh, prev, rows, hidden, act, res));
}
static void launch_forward(double* h, const double* p, const double* bi, const double* bh, const double* prev,
                           int rows, int hidden, int act, int res, unsigned grid, unsigned block) {
    LAUNCH(grid, block, rnn_forward_f64(h, p, bi, bh, prev, rows, hidden, act, res));
}
static void launch_backward(float* d, float* carry, const float* h, const float* og, const float* bi, const float* bh,
                            int alive, int slot, int hidden, int act, int res, unsigned grid, unsigned block) {
    LAUNCH(grid, block, rnn_backward_f32(d, carry, h, og, bi, bh, alive, slot, hidden, act, res));
}
static void launch_backward(double* d, double* carry, const double* h, const double* og, const double* bi,
                            const double* bh, int alive, int slot, int hidden, int act, int res, unsigned grid,
                            unsigned block) {
    LAUNCH(grid, block, rnn_backward_f64(d, carry, h, og, bi, bh, alive, slot, hidden, act, res));
}
static void launch_gather(float* dst, const float* src, const int* idx, int rows, int width, int ds, int dc, int ss,
                          int sc, int acc, unsigned grid, unsigned block) {
    LAUNCH(grid, block, gather_rows_f32(dst, src, idx, rows, width, ds, dc, ss, sc, acc));
}
static void launch_gather(double* dst, const double* src, const int* idx, int rows, int width, int ds, int dc, int ss,
                          int sc, int acc, unsigned grid, unsigned block) {
    LAUNCH(grid, block, gather_rows_f64(dst, src, idx, rows, width, ds, dc, ss, sc, acc));
}
static void launch_sum_rows(float* dst, const float* x, const float* y, int alive, int slot, int width, unsigned grid,
                            unsigned block) {
    LAUNCH(grid, block, sum_rows_f32(dst, x, y, alive, slot, width));
}
static void launch_sum_rows(double* dst, const double* x, const double* y, int alive, int slot, int width, unsigned grid,
                            unsigned block) {
    LAUNCH(grid, block, sum_rows_f64(dst, x, y, alive, slot, width));
}
static void launch_dropout_forward(float* x, float* mask, const int* rowOf, int rows, int width, int hidden, int layer,
                                   long long seed, long long stream, double p, float scale, unsigned grid, unsigned block) {
    LAUNCH(grid, block, dropout_forward_f32(x, mask, rowOf, rows, width, hidden, layer, seed, stream, p, scale));
}
static void launch_dropout_forward(double* x, double* mask, const int* rowOf, int rows, int width, int hidden, int layer,
                                   long long seed, long long stream, double p, double scale, unsigned grid, unsigned block) {
    LAUNCH(grid, block, dropout_forward_f64(x, mask, rowOf, rows, width, hidden, layer, seed, stream, p, scale));
}
static void launch_dropout_backward(float* g, const float* mask, long long count, unsigned grid, unsigned block) {
    LAUNCH(grid, block, dropout_backward_f32(g, mask, count));
}
static void launch_dropout_backward(double* g, const double* mask, long long count, unsigned grid, unsigned block) {
    LAUNCH(grid, block, dropout_backward_f64(g, mask, count));
}
static void launch_fill(float* dst, float value, long long count, unsigned grid, unsigned block) {
    LAUNCH(grid, block, fill_f32(dst, value, count));
}
static void launch_fill(double* dst, double value, long long count, unsigned grid, unsigned block) {
    LAUNCH(grid, block, fill_f64(dst, value, count));
}

static void launch_lstm_forward(float* h, float* c, float* g, const float* bi, const float* bh, const float* cp, int rows,
                                int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, lstm_forward_f32(h, c, g, bi, bh, cp, rows, hidden));
}
static void launch_lstm_forward(double* h, double* c, double* g, const double* bi, const double* bh, const double* cp,
                                int rows, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, lstm_forward_f64(h, c, g, bi, bh, cp, rows, hidden));
}
static void launch_lstm_backward(float* g, const float* hc, float* cc, const float* cp, const float* c, const float* og,
                                 int alive, int slot, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, lstm_backward_f32(g, hc, cc, cp, c, og, alive, slot, hidden));
}
static void launch_lstm_backward(double* g, const double* hc, double* cc, const double* cp, const double* c,
                                 const double* og, int alive, int slot, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, lstm_backward_f64(g, hc, cc, cp, c, og, alive, slot, hidden));
}
static void launch_gru_forward(float* h, float* g, const float* gh, const float* bi, const float* bh, const float* hp,
                               int rows, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, gru_forward_f32(h, g, gh, bi, bh, hp, rows, hidden));
}
static void launch_gru_forward(double* h, double* g, const double* gh, const double* bi, const double* bh,
                               const double* hp, int rows, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, gru_forward_f64(h, g, gh, bi, bh, hp, rows, hidden));
}
static void launch_gru_backward(float* g, float* gh, float* carry, const float* hp, const float* og, const float* bh,
                                int alive, int slot, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, gru_backward_f32(g, gh, carry, hp, og, bh, alive, slot, hidden));
}
static void launch_gru_backward(double* g, double* gh, double* carry, const double* hp, const double* og,
                                const double* bh, int alive, int slot, int hidden, unsigned grid, unsigned block) {
    LAUNCH(grid, block, gru_backward_f64(g, gh, carry, hp, og, bh, alive, slot, hidden));
}

// bias flags: 1 = biasIh present, 2 = biasHh present. aliasOutput: hiddenOut is preActivation.
template <typename T>
static void forward_case(int rows, int hidden, int activation, int residual, int biases, int aliasOutput) {
    std::printf("case %s rows=%d hiddenSize=%d activation=%d residual=%d biases=%d alias=%d\n", Kernels<T>::forward,
                rows, hidden, activation, residual, biases, aliasOutput);
    const std::size_t n = (std::size_t)rows * hidden;
    std::vector<T> pre = random_vector<T>(n, -3, 3), biasIh = random_vector<T>(hidden, -1, 1),
                   biasHh = random_vector<T>(hidden, -1, 1), prev = random_vector<T>(n, -1, 1);
    pre[0] = (T)0.0;  // with no bias: relu(+0), tanh(+0)
    if (n > 1) pre[1] = -(T)0.0;
    print_array("preActivation", pre);
    if (biases & 1) print_array("biasIh", biasIh);
    if (biases & 2) print_array("biasHh", biasHh);
    if (residual) print_array("hiddenPrev", prev);
    std::vector<T> out(n, (T)-77.0);
    T* target = aliasOutput ? pre.data() : out.data();
    launch_forward(target, pre.data(), biases & 1 ? biasIh.data() : nullptr, biases & 2 ? biasHh.data() : nullptr,
                   residual ? prev.data() : nullptr, rows, hidden, activation, residual, 2, 4);
    print_array("hiddenOut", aliasOutput ? pre : out);
    std::printf("end\n");
}

template <typename T>
static void backward_case(int alive, int slot, int hidden, int activation, int residual, int biases) {
    std::printf("case %s aliveRows=%d slotRows=%d hiddenSize=%d activation=%d residual=%d biases=%d\n",
                Kernels<T>::backward, alive, slot, hidden, activation, residual, biases);
    const std::size_t n = (std::size_t)slot * hidden;
    std::vector<T> delta = random_vector<T>(n, -3, 3), carry = random_vector<T>(n, -1, 1),
                   hiddenOut = random_vector<T>(n, -1, 1), outputGrad = random_vector<T>(n, -1, 1),
                   biasIh = random_vector<T>(hidden, -1, 1), biasHh = random_vector<T>(hidden, -1, 1);
    hiddenOut[0] = (T)0.0;  // relu'(0) = 0
    delta[0] = (T)0.0;
    print_array("deltaIn", delta);
    print_array("carryIn", carry);
    if (!residual) print_array("hidden", hiddenOut);
    print_array("outputGrad", outputGrad);
    if (biases & 1) print_array("biasIh", biasIh);
    if (biases & 2) print_array("biasHh", biasHh);
    launch_backward(delta.data(), carry.data(), residual ? nullptr : hiddenOut.data(), outputGrad.data(),
                    biases & 1 ? biasIh.data() : nullptr, biases & 2 ? biasHh.data() : nullptr, alive, slot, hidden,
                    activation, residual, 2, 4);
    print_array("deltaOut", delta);
    print_array("carryOut", carry);
    std::printf("end\n");
}

template <typename T>
static void gather_case(int accumulate) {
    const int srcRows = 5, srcStride = 6, srcColumn = 1, rows = 4, width = 3, dstStride = 7, dstColumn = 2;
    std::printf("case %s rows=%d width=%d dstStride=%d dstColumn=%d srcStride=%d srcColumn=%d accumulate=%d\n",
                Kernels<T>::gather, rows, width, dstStride, dstColumn, srcStride, srcColumn, accumulate);
    std::vector<T> src = random_vector<T>((std::size_t)srcRows * srcStride, -2, 2);
    std::vector<T> dst = random_vector<T>((std::size_t)rows * dstStride, -2, 2);
    std::vector<int> rowIndex = {3, -1, 0, 4};
    print_array("src", src);
    print_array("rowIndex", rowIndex);
    print_array("dstIn", dst);
    launch_gather(dst.data(), src.data(), rowIndex.data(), rows, width, dstStride, dstColumn, srcStride, srcColumn,
                  accumulate, 2, 4);
    print_array("dstOut", dst);
    std::printf("end\n");
}

template <typename T>
static void fill_case() {
    const long long count = 10;
    std::printf("case %s count=%lld\n", Kernels<T>::fill, count);
    std::vector<T> dst = random_vector<T>(13, -2, 2);
    print_array("dstIn", dst);
    launch_fill(dst.data(), (T)0.25, count, 2, 2);
    print_array("dstOut", dst);
    std::printf("end\n");
}

template <typename T>
static void sum_rows_case(int alive, int slot, int width) {
    std::printf("case %s aliveRows=%d slotRows=%d width=%d\n", Kernels<T>::sumRows, alive, slot, width);
    std::vector<T> a = random_vector<T>((std::size_t)slot * width, -2, 2), b = random_vector<T>((std::size_t)slot * width, -2, 2);
    std::vector<T> dst = random_vector<T>((std::size_t)slot * width + 2, -2, 2);
    print_array("a", a);
    print_array("b", b);
    print_array("dstIn", dst);
    launch_sum_rows(dst.data(), a.data(), b.data(), alive, slot, width, 2, 2);
    print_array("dstOut", dst);
    std::printf("end\n");
}

// Dropout: rows of a two-direction layer input (width 2·hidden, hidden not a multiple of 4), one
// dead row; p and the scale printed as the scalars.
template <typename T>
static void dropout_case(int layer, long long seed, long long stream) {
    const int rows = 5, hidden = 7, width = 2 * hidden;
    std::printf("case %s rows=%d width=%d hidden=%d layer=%d seed=%lld stream=%lld\n", Kernels<T>::dropoutForward, rows, width, hidden,
                layer, seed, stream);
    const std::vector<double> scalars = {0.35, 1.0 / (1.0 - 0.35)};
    std::vector<T> x = random_vector<T>((std::size_t)rows * width, -2, 2), mask((std::size_t)rows * width, (T)-77.0);
    std::vector<int> timeRow = {3, 0, 17, -1, 9};
    print_array("scalars", scalars);
    print_array("xIn", x);
    print_array("timeRow", timeRow);
    launch_dropout_forward(x.data(), mask.data(), timeRow.data(), rows, width, hidden, layer, seed, stream, scalars[0], (T)scalars[1], 2, 4);
    print_array("xOut", x);
    print_array("maskOut", mask);
    std::printf("end\n");
    std::printf("case %s count=%d\n", Kernels<T>::dropoutBackward, rows * width);
    std::vector<T> grad = random_vector<T>((std::size_t)rows * width, -2, 2);
    print_array("gradIn", grad);
    print_array("mask", mask);
    launch_dropout_backward(grad.data(), mask.data(), (long long)rows * width, 2, 4);
    print_array("gradOut", grad);
    std::printf("end\n");
}

// Gated cells. Backward inputs (activated gates) are drawn from (-1, 1): the contracts are
// formulas over whatever the buffers hold.
template <typename T>
static void lstm_forward_case(int rows, int hidden, int biases) {
    std::printf("case %s rows=%d hiddenSize=%d biases=%d\n", Kernels<T>::lstmForward, rows, hidden, biases);
    const std::size_t n = (std::size_t)rows * hidden;
    std::vector<T> gates = random_vector<T>(4 * n, -3, 3), biasIh = random_vector<T>(4 * hidden, -1, 1),
                   biasHh = random_vector<T>(4 * hidden, -1, 1), cellPrev = random_vector<T>(n, -2, 2);
    print_array("gatesIn", gates);
    if (biases & 1) print_array("biasIh", biasIh);
    if (biases & 2) print_array("biasHh", biasHh);
    print_array("cellPrev", cellPrev);
    std::vector<T> hiddenOut(n, (T)-77.0), cellOut(n, (T)-77.0);
    launch_lstm_forward(hiddenOut.data(), cellOut.data(), gates.data(), biases & 1 ? biasIh.data() : nullptr,
                        biases & 2 ? biasHh.data() : nullptr, cellPrev.data(), rows, hidden, 2, 4);
    print_array("gatesOut", gates);
    print_array("hiddenOut", hiddenOut);
    print_array("cellOut", cellOut);
    std::printf("end\n");
}

template <typename T>
static void lstm_backward_case(int alive, int slot, int hidden, int carry) {
    std::printf("case %s aliveRows=%d slotRows=%d hiddenSize=%d carry=%d\n", Kernels<T>::lstmBackward, alive, slot, hidden, carry);
    const std::size_t n = (std::size_t)slot * hidden;
    std::vector<T> gates = random_vector<T>(4 * n, -1, 1), hiddenCarry = random_vector<T>(n, -1, 1),
                   cellCarry = random_vector<T>(n, -1, 1), cellPrev = random_vector<T>(n, -2, 2),
                   cell = random_vector<T>(n, -2, 2), outputGrad = random_vector<T>(n, -1, 1);
    print_array("gatesIn", gates);
    if (carry) print_array("hiddenGradCarry", hiddenCarry);
    print_array("cellCarryIn", cellCarry);
    print_array("cellPrev", cellPrev);
    print_array("cell", cell);
    print_array("outputGrad", outputGrad);
    launch_lstm_backward(gates.data(), carry ? hiddenCarry.data() : nullptr, cellCarry.data(), cellPrev.data(), cell.data(),
                         outputGrad.data(), alive, slot, hidden, 2, 4);
    print_array("gatesOut", gates);
    print_array("cellCarryOut", cellCarry);
    std::printf("end\n");
}

template <typename T>
static void gru_forward_case(int rows, int hidden, int biases) {
    std::printf("case %s rows=%d hiddenSize=%d biases=%d\n", Kernels<T>::gruForward, rows, hidden, biases);
    const std::size_t n = (std::size_t)rows * hidden;
    std::vector<T> gates = random_vector<T>(3 * n, -3, 3), hiddenGates = random_vector<T>(3 * n, -3, 3),
                   biasIh = random_vector<T>(3 * hidden, -1, 1), biasHh = random_vector<T>(3 * hidden, -1, 1),
                   hiddenPrev = random_vector<T>(n, -1, 1);
    print_array("gatesIn", gates);
    print_array("hiddenGates", hiddenGates);
    if (biases & 1) print_array("biasIh", biasIh);
    if (biases & 2) print_array("biasHh", biasHh);
    print_array("hiddenPrev", hiddenPrev);
    std::vector<T> hiddenOut(n, (T)-77.0);
    launch_gru_forward(hiddenOut.data(), gates.data(), hiddenGates.data(), biases & 1 ? biasIh.data() : nullptr,
                       biases & 2 ? biasHh.data() : nullptr, hiddenPrev.data(), rows, hidden, 2, 4);
    print_array("gatesOut", gates);
    print_array("hiddenOut", hiddenOut);
    print_array("hiddenGatesAfter", hiddenGates);
    std::printf("end\n");
}

template <typename T>
static void gru_backward_case(int alive, int slot, int hidden, int biases) {
    std::printf("case %s aliveRows=%d slotRows=%d hiddenSize=%d biases=%d\n", Kernels<T>::gruBackward, alive, slot,
                hidden, biases);
    const std::size_t n = (std::size_t)slot * hidden;
    std::vector<T> gates = random_vector<T>(3 * n, -1, 1), hiddenGates = random_vector<T>(3 * n, -3, 3),
                   carry = random_vector<T>(n, -1, 1), hiddenPrev = random_vector<T>(n, -1, 1),
                   outputGrad = random_vector<T>(n, -1, 1), biasHh = random_vector<T>(3 * hidden, -1, 1);
    print_array("gatesIn", gates);
    print_array("hiddenGatesIn", hiddenGates);
    print_array("carryIn", carry);
    print_array("hiddenPrev", hiddenPrev);
    print_array("outputGrad", outputGrad);
    if (biases & 2) print_array("biasHh", biasHh);
    launch_gru_backward(gates.data(), hiddenGates.data(), carry.data(), hiddenPrev.data(), outputGrad.data(),
                        biases & 2 ? biasHh.data() : nullptr, alive, slot, hidden, 2, 4);
    print_array("gatesOut", gates);
    print_array("hiddenGatesOut", hiddenGates);
    print_array("carryOut", carry);
    std::printf("end\n");
}

// Training kernels (LAUNCH's loop variables are b and t, so no parameter here is called that).
// Their double scalars are printed as one array, "scalars", in signature order.
static void launch_softmax_xent(float* z, const int* targets, float* loss, int rows, int classes, double scale, unsigned grid,
                                unsigned block) {
    LAUNCH(grid, block, softmax_xent_f32(z, targets, loss, rows, classes, scale));
}
static void launch_softmax_xent(double* z, const int* targets, double* loss, int rows, int classes, double scale,
                                unsigned grid, unsigned block) {
    LAUNCH(grid, block, softmax_xent_f64(z, targets, loss, rows, classes, scale));
}
static void launch_sgd_step(float* p, const float* g, float* buffer, long long n, const double* s, int nesterov, int first,
                            unsigned grid, unsigned block) {
    LAUNCH(grid, block, sgd_step_f32(p, g, buffer, n, s[0], s[1], s[2], s[3], s[4], nesterov, first));
}
static void launch_sgd_step(double* p, const double* g, double* buffer, long long n, const double* s, int nesterov,
                            int first, unsigned grid, unsigned block) {
    LAUNCH(grid, block, sgd_step_f64(p, g, buffer, n, s[0], s[1], s[2], s[3], s[4], nesterov, first));
}
static void launch_adam_step(float* p, const float* g, float* m, float* v, long long n, const double* s, unsigned grid,
                             unsigned block) {
    LAUNCH(grid, block, adam_step_f32(p, g, m, v, n, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]));
}
static void launch_adam_step(double* p, const double* g, double* m, double* v, long long n, const double* s,
                             unsigned grid, unsigned block) {
    LAUNCH(grid, block, adam_step_f64(p, g, m, v, n, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]));
}
static void launch_scale(float* x, long long n, double a, unsigned grid, unsigned block) {
    LAUNCH(grid, block, scale_f32(x, n, a));
}
static void launch_scale(double* x, long long n, double a, unsigned grid, unsigned block) {
    LAUNCH(grid, block, scale_f64(x, n, a));
}
static void launch_clamp(float* x, long long n, double lo, double hi, unsigned grid, unsigned block) {
    LAUNCH(grid, block, clamp_f32(x, n, lo, hi));
}
static void launch_clamp(double* x, long long n, double lo, double hi, unsigned grid, unsigned block) {
    LAUNCH(grid, block, clamp_f64(x, n, lo, hi));
}

template <typename T>
static void softmax_xent_case(int rows, int classes) {
    std::printf("case %s rows=%d classes=%d\n", Kernels<T>::softmaxXent, rows, classes);
    std::vector<T> logits = random_vector<T>((std::size_t)rows * classes, -4, 4), rowLoss = random_vector<T>(rows, -1, 1);
    std::vector<int> targets(rows);
    for (int r = 0; r < rows; r++) targets[r] = r % 4 == 1 ? -1 : (int)next_uniform(0, classes - 0.5);
    const std::vector<double> scalars = {0.375};
    print_array("scalars", scalars);
    print_array("logitsIn", logits);
    print_array("targets", targets);
    launch_softmax_xent(logits.data(), targets.data(), rowLoss.data(), rows, classes, scalars[0], 2, 2);
    print_array("logitsOut", logits);
    print_array("rowLossOut", rowLoss);
    std::printf("end\n");
}

template <typename T>
static void sgd_step_case(int momentum, int nesterov, int firstStep) {
    const int count = 11;
    std::printf("case %s count=%d momentum=%d nesterov=%d firstStep=%d\n", Kernels<T>::sgdStep, count, momentum, nesterov,
                firstStep);
    std::vector<T> param = random_vector<T>(count + 2, -1, 1), grad = random_vector<T>(count + 2, -1, 1),
                   buffer = random_vector<T>(count + 2, -1, 1);
    param[3] = 0;  // signum(0) in the L1 term
    const std::vector<double> scalars = {0.1, momentum ? 0.9 : 0.0, 0.1, 0.01, 0.002};  // lr, momentum, dampening, wd, l1
    print_array("scalars", scalars);
    print_array("paramIn", param);
    print_array("grad", grad);
    print_array("bufferIn", buffer);
    launch_sgd_step(param.data(), grad.data(), momentum ? buffer.data() : nullptr, count, scalars.data(), nesterov,
                    firstStep, 2, 4);
    print_array("paramOut", param);
    print_array("bufferOut", buffer);
    std::printf("end\n");
}

template <typename T>
static void adam_step_case(int step) {
    const int count = 11;
    std::printf("case %s count=%d step=%d\n", Kernels<T>::adamStep, count, step);
    std::vector<T> param = random_vector<T>(count + 2, -1, 1), grad = random_vector<T>(count + 2, -1, 1),
                   expAvg = random_vector<T>(count + 2, -0.1, 0.1), expAvgSq = random_vector<T>(count + 2, 0, 0.1);
    // lr, beta1, beta2, eps, weightDecay, l1, then the host's two bias corrections for this step.
    const std::vector<double> scalars = {0.01, 0.9, 0.999, 1e-8, 0.01, 0.001, 1 - pow(0.9, step), sqrt(1 - pow(0.999, step))};
    print_array("scalars", scalars);
    print_array("paramIn", param);
    print_array("grad", grad);
    print_array("expAvgIn", expAvg);
    print_array("expAvgSqIn", expAvgSq);
    launch_adam_step(param.data(), grad.data(), expAvg.data(), expAvgSq.data(), count, scalars.data(), 2, 4);
    print_array("paramOut", param);
    print_array("expAvgOut", expAvg);
    print_array("expAvgSqOut", expAvgSq);
    std::printf("end\n");
}

template <typename T>
static void scale_clamp_case() {
    const int count = 11;
    std::vector<T> x = random_vector<T>(count + 2, -2, 2);
    x[4] = (T)NAN;  // stays NaN through both
    const std::vector<double> scalars = {-0.625, -0.5, 0.75};  // alpha, lo, hi
    std::printf("case %s count=%d\n", Kernels<T>::scale, count);
    print_array("scalars", scalars);
    print_array("xIn", x);
    launch_scale(x.data(), count, scalars[0], 2, 4);
    print_array("xOut", x);
    std::printf("end\n");
    std::printf("case %s count=%d\n", Kernels<T>::clamp, count);
    print_array("scalars", scalars);
    print_array("xIn", x);
    launch_clamp(x.data(), count, scalars[1], scalars[2], 2, 4);
    print_array("xOut", x);
    std::printf("end\n");
}

int main() {
    for (int activation = 0; activation <= 1; activation++) {
        for (int residual = 0; residual <= 1; residual++) {
            for (int biases = 0; biases <= 3; biases++) {
                forward_case<float>(3, 5, activation, residual, biases, 0);
                forward_case<double>(3, 5, activation, residual, biases, 0);
                backward_case<float>(2, 4, 3, activation, residual, biases);
                backward_case<double>(3, 3, 5, activation, residual, biases);
            }
            forward_case<double>(2, 7, activation, residual, 3, 1);
        }
    }
    for (int accumulate = 0; accumulate <= 1; accumulate++) {
        gather_case<float>(accumulate);
        gather_case<double>(accumulate);
    }
    fill_case<float>();
    fill_case<double>();
    for (int biases = 0; biases <= 3; biases++) {
        lstm_forward_case<float>(3, 5, biases);
        lstm_forward_case<double>(3, 5, biases);
        gru_forward_case<float>(3, 5, biases);
        gru_forward_case<double>(3, 5, biases);
    }
    for (int carry = 0; carry <= 1; carry++) {
        lstm_backward_case<float>(2, 4, 3, carry);
        lstm_backward_case<double>(3, 3, 5, carry);
    }
    dropout_case<float>(0, 42, 0);
    dropout_case<double>(1, 0x1234567890abcdefLL, 99);
    sum_rows_case<float>(3, 5, 3);
    sum_rows_case<double>(2, 4, 5);
    for (int biases = 0; biases <= 2; biases += 2) {
        gru_backward_case<float>(2, 4, 3, biases);
        gru_backward_case<double>(3, 3, 5, biases);
    }
    softmax_xent_case<float>(9, 5);
    softmax_xent_case<double>(9, 5);
    for (int momentum = 0; momentum <= 1; momentum++)
        for (int nesterov = 0; nesterov <= momentum; nesterov++)
            for (int firstStep = 0; firstStep <= momentum; firstStep++) {
                sgd_step_case<float>(momentum, nesterov, firstStep);
                sgd_step_case<double>(momentum, nesterov, firstStep);
            }
    for (int step = 1; step <= 5; step += 4) {
        adam_step_case<float>(step);
        adam_step_case<double>(step);
    }
    scale_clamp_case<float>();
    scale_clamp_case<double>();
    return 0;
}
