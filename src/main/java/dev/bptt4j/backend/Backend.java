package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

/**
 * What the BPTT algorithm needs from a device: memory, row-major GEMM and a handful of fused
 * pointwise kernels. The algorithm ({@code dev.bptt4j.algo}) is written once against this; the
 * CPU and CUDA backends differ only below it.
 *
 * <p>All matrices are row-major with explicit leading dimensions; every buffer argument is a
 * (buffer, element offset) pair so that the time loop slices one allocation without creating
 * objects. A {@code null} buffer stands for "absent" where a parameter says so (biases).
 *
 * <p>Operations may be asynchronous (CUDA queues them on one stream); {@link #download} waits for
 * everything queued before it. A backend instance is used by one thread at a time.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and the CLI: "cpu", "cuda", "cuda-emulated". */
    String name();

    /** One line describing the device and library versions. */
    String description();

    /** A zero-filled buffer. */
    DeviceBuffer allocate(DType dtype, long elements);

    /** Copies all of {@code source} (same dtype as the buffer) into {@code target} at {@code targetOffset}. */
    void upload(Tensor source, DeviceBuffer target, long targetOffset);

    /** Copies {@code Tensor.elementCount(shape)} elements starting at {@code sourceOffset} into a new host tensor. */
    Tensor download(DeviceBuffer source, long sourceOffset, int... shape);

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C}, row-major, C is m×n, op(A) m×k, op(B) k×n.
     * With beta = 0, C's previous contents are ignored (even NaN).
     */
    void gemm(boolean transposeA, boolean transposeB, int m, int n, int k,
              double alpha, DeviceBuffer a, long aOffset, int lda,
              DeviceBuffer b, long bOffset, int ldb,
              double beta, DeviceBuffer c, long cOffset, int ldc);

    /**
     * Elman forward pointwise over {@code rows × hidden}:
     * {@code hiddenOut = (residual ? hiddenPrev : 0) + f(pre + biasIh + biasHh)}; biases may be null.
     */
    void rnnForward(DeviceBuffer hiddenOut, long hiddenOutOffset,
                    DeviceBuffer pre, long preOffset,
                    DeviceBuffer biasIh, DeviceBuffer biasHh,
                    DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                    int rows, int hiddenSize, Activation activation, boolean residual);

    /**
     * Elman backward pointwise over one step's slot of {@code slotRows × hidden}. On entry
     * {@code deltaInOut} holds the step's pre-activation without bias; on exit its first
     * {@code aliveRows} rows hold {@code δ = f'·(outputGrad + hiddenGradCarry)} and the rest zero.
     * f' comes from the stored output {@code hiddenStates} (or, for the residual cell, from the
     * pre-activation plus biases), and the residual cell also writes the sum back to
     * {@code hiddenGradCarry} for the identity path.
     */
    void rnnBackward(DeviceBuffer deltaInOut, long deltaOffset,
                     DeviceBuffer hiddenGradCarry, long carryOffset,
                     DeviceBuffer hiddenStates, long hiddenOffset,
                     DeviceBuffer outputGrad, long outputGradOffset,
                     DeviceBuffer biasIh, DeviceBuffer biasHh,
                     int aliveRows, int slotRows, int hiddenSize, Activation activation, boolean residual);

    /**
     * Row gather: for r in [0, rows), {@code dst[r·dstStride + dstColumn + c] (+)= src[index[r]·srcStride + srcColumn + c]}
     * for c in [0, width), or 0 where {@code index[r] < 0}. {@code index} is an I32 buffer.
     */
    void gatherRows(DeviceBuffer dst, long dstOffset, int dstStride, int dstColumn,
                    DeviceBuffer src, long srcOffset, int srcStride, int srcColumn,
                    DeviceBuffer index, long indexOffset, int rows, int width, boolean accumulate);

    /** Sets {@code count} elements starting at {@code offset} to {@code value}. */
    void fill(DeviceBuffer dst, long offset, long count, double value);

    /** Number of live allocations made by this backend (for leak checks). */
    long liveBuffers();

    /** Frees everything this backend still holds. */
    @Override
    void close();
}
