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
 * everything queued before it.
 *
 * <p><b>Threads.</b> A backend instance, its buffers and the {@code Rnn}s built on it belong to
 * one thread at a time: nothing here is synchronised. Independent backends (each with its own
 * models) may run in different threads at once and give bitwise the results they give alone;
 * what they share (the BLAS, the CUDA context) is safe for that.
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
    default Tensor download(DeviceBuffer source, long sourceOffset, int... shape) {
        Tensor out = Tensor.zeros(source.dtype(), shape);
        downloadInto(source, sourceOffset, out);
        return out;
    }

    /**
     * Copies {@code target.size()} elements starting at {@code sourceOffset} into an existing host
     * tensor of the buffer's dtype (overwriting it), so repeated downloads need no new arrays.
     */
    void downloadInto(DeviceBuffer source, long sourceOffset, Tensor target);

    /**
     * Host-to-device row gather: for r in [0, count), the dense row r of {@code dst} ({@code width}
     * elements at {@code dstOffset + r·width}) receives {@code width} values of {@code source}'s
     * row {@code rows[r]} (rows {@code sourceStride} apart, from column {@code sourceColumn}), or
     * zeros where {@code rows[r]} is −1. Moves a padded host tensor straight into the packed slot
     * layout. The default gathers on the host and uploads the {@code count × width} result.
     */
    default void uploadRows(DeviceBuffer dst, long dstOffset, Tensor source, int sourceStride, int sourceColumn,
                            int[] rows, int count, int width) {
        HostRows.checkTensorRows("uploadRows", source, sourceStride, sourceColumn, rows, count, width);
        if (count == 0 || width == 0) return;
        Tensor packed = Tensor.zeros(source.dtype(), count, width);
        HostRows.gather(packed, width, 0, source, sourceStride, sourceColumn, rows, count, width);
        upload(packed, dst, dstOffset);
    }

    /**
     * Device-to-host row gather: for r in [0, count), {@code width} values of {@code target}'s row
     * r (rows {@code targetStride} apart, from column {@code targetColumn}) receive the dense row
     * {@code rows[r]} of {@code src} ({@code width} elements at {@code srcOffset + rows[r]·width}),
     * or zeros where {@code rows[r]} is −1. Moves the packed slot layout straight into a padded
     * host tensor. The default downloads the source rows the map reaches and gathers on the host.
     */
    default void downloadRows(Tensor target, int targetStride, int targetColumn, DeviceBuffer src, long srcOffset,
                              int[] rows, int count, int width) {
        HostRows.checkTarget("downloadRows", target, targetStride, targetColumn, rows, count, width);
        int reached = HostRows.maxRow(rows, count) + 1;
        Tensor source = Tensor.zeros(target.dtype(), reached, width);
        if (reached > 0 && width > 0) downloadInto(src, srcOffset, source);
        HostRows.gather(target, targetStride, targetColumn, source, width, 0, rows, count, width);
    }

    /**
     * Into how many lanes a time loop over {@code rows} rows of {@code width} (the gates) is worth
     * splitting: lanes run disjoint row ranges of every step at once ({@link #runLanes}). 1 (the
     * default) keeps the loop whole, as a device with its own parallelism wants.
     */
    default int lanes(int rows, int width) {
        return 1;
    }

    /**
     * Runs {@code lane.accept(i)} for i in [0, count), possibly at once on different threads, and
     * returns when all have finished (rethrowing the first failure). Each lane may call this
     * backend's GEMMs and pointwise kernels on its own rows only; {@code count} is at most
     * {@link #lanes}. The default runs them one after another.
     */
    default void runLanes(int count, java.util.function.IntConsumer lane) {
        for (int i = 0; i < count; i++) lane.accept(i);
    }

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C}, row-major, C is m×n, op(A) m×k, op(B) k×n.
     * With beta = 0, C's previous contents are ignored (even NaN).
     */
    void gemm(boolean transposeA, boolean transposeB, int m, int n, int k,
              double alpha, DeviceBuffer a, long aOffset, int lda,
              DeviceBuffer b, long bOffset, int ldb,
              double beta, DeviceBuffer c, long cOffset, int ldc);

    /**
     * Prepares op(B) (k×n; B itself n×k when transposed) for repeated
     * {@link #gemmPacked products} with an m-row A, or returns null when this backend has no
     * faster form for it (then the caller uses {@link #gemm}). Checked like gemm's B.
     */
    default PackedOperand packRightOperand(boolean transposeB, int m, int n, int k, DeviceBuffer b, long bOffset, int ldb) {
        return null;
    }

    /**
     * {@code C = A·op(B) + beta·C} with op(B) prepared by {@link #packRightOperand} and A of
     * exactly {@code b.rows()} rows (not transposed); the result equals {@link #gemm}'s up to
     * rounding.
     */
    default void gemmPacked(DeviceBuffer a, long aOffset, int lda, PackedOperand b, double beta, DeviceBuffer c, long cOffset, int ldc) {
        throw new UnsupportedOperationException(name() + " backend prepares no packed operands");
    }

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
     * LSTM forward pointwise over {@code rows × hidden}, gates in PyTorch's order i, f, g, o. On
     * entry {@code gates} (rows × 4H) holds {@code x·W_ihᵀ + h_{τ−1}·W_hhᵀ} without bias; on exit it
     * holds the activated gates {@code σ(i), σ(f), tanh(g), σ(o)} of {@code a = pre + biasIh + biasHh},
     * and {@code cellOut = f·cellPrev + i·g}, {@code hiddenOut = o·tanh(cellOut)}. Biases may be null.
     */
    void lstmForward(DeviceBuffer hiddenOut, long hiddenOutOffset,
                     DeviceBuffer cellOut, long cellOutOffset,
                     DeviceBuffer gates, long gatesOffset,
                     DeviceBuffer biasIh, DeviceBuffer biasHh,
                     DeviceBuffer cellPrev, long cellPrevOffset,
                     int rows, int hiddenSize);

    /**
     * LSTM backward pointwise over one step's slot of {@code slotRows × 4H}. Reads the activated
     * gates, {@code cellPrev} (c_{τ−1}) and {@code cell} (c_τ); with {@code dh = outputGrad + hiddenGradCarry}
     * (the carry is only read) and {@code dc = cellGradCarry + dh·o·(1 − tanh²c_τ)} it writes the
     * gate deltas {@code δ = [dc·g·i(1−i), dc·c_{τ−1}·f(1−f), dc·i·(1−g²), dh·tanh(c_τ)·o(1−o)]} over
     * the first {@code aliveRows} rows of {@code gatesInDeltaOut} (zero in the rest of the slot) and
     * assigns {@code cellGradCarry = dc·f} (dL/dc_{τ−1}) on the alive rows. The host then forms
     * {@code hiddenGradCarry = δ·W_hh} with beta 0.
     */
    void lstmBackward(DeviceBuffer gatesInDeltaOut, long gatesOffset,
                      DeviceBuffer hiddenGradCarry, long hiddenCarryOffset,
                      DeviceBuffer cellGradCarry, long cellCarryOffset,
                      DeviceBuffer cellPrev, long cellPrevOffset,
                      DeviceBuffer cell, long cellOffset,
                      DeviceBuffer outputGrad, long outputGradOffset,
                      int aliveRows, int slotRows, int hiddenSize);

    /**
     * GRU forward pointwise over {@code rows × hidden}, gates in PyTorch's order r, z, n. {@code gates}
     * (rows × 3H) holds {@code x·W_ihᵀ} on entry, {@code hiddenGates} (rows × 3H) holds
     * {@code h_{τ−1}·W_hhᵀ}; both without bias. With {@code gi = gates + biasIh} and
     * {@code gh = hiddenGates + biasHh}: {@code r = σ(gi_r + gh_r)}, {@code z = σ(gi_z + gh_z)},
     * {@code n = tanh(gi_n + r·gh_n)}, {@code hiddenOut = n + z·(hiddenPrev − n)} (PyTorch's form of
     * (1−z)·n + z·h). On exit {@code gates} holds r, z, n; {@code hiddenGates} is left as it was.
     */
    void gruForward(DeviceBuffer hiddenOut, long hiddenOutOffset,
                    DeviceBuffer gates, long gatesOffset,
                    DeviceBuffer hiddenGates, long hiddenGatesOffset,
                    DeviceBuffer biasIh, DeviceBuffer biasHh,
                    DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                    int rows, int hiddenSize);

    /**
     * GRU backward pointwise over one step's slot of {@code slotRows × 3H}. Reads r, z, n from
     * {@code gatesInDeltaOut}, {@code h_{τ−1}·W_hhᵀ} from {@code hiddenGatesInDeltaOut} (plus
     * {@code biasHh}) and h_{τ−1}; with {@code g = outputGrad + hiddenGradCarry} it writes, on the
     * alive rows, {@code δ_ih = [da_r, da_z, da_n]} over the gates and {@code δ_hh = [da_r, da_z, da_n·r]}
     * over the hidden gates (zero in the rest of the slot), where {@code da_n = g(1−z)(1−n²)},
     * {@code da_z = g(h_{τ−1} − n)z(1−z)}, {@code da_r = da_n·gh_n·r(1−r)}, and assigns
     * {@code hiddenGradCarry = g·z}; the host adds {@code δ_hh·W_hh} with beta 1.
     */
    void gruBackward(DeviceBuffer gatesInDeltaOut, long gatesOffset,
                     DeviceBuffer hiddenGatesInDeltaOut, long hiddenGatesOffset,
                     DeviceBuffer hiddenGradCarry, long carryOffset,
                     DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                     DeviceBuffer outputGrad, long outputGradOffset,
                     DeviceBuffer biasHh,
                     int aliveRows, int slotRows, int hiddenSize);

    /**
     * Row gather: for r in [0, rows), {@code dst[r·dstStride + dstColumn + c] (+)= src[index[r]·srcStride + srcColumn + c]}
     * for c in [0, width), or 0 where {@code index[r] < 0}. {@code index} is an I32 buffer.
     */
    void gatherRows(DeviceBuffer dst, long dstOffset, int dstStride, int dstColumn,
                    DeviceBuffer src, long srcOffset, int srcStride, int srcColumn,
                    DeviceBuffer index, long indexOffset, int rows, int width, boolean accumulate);

    /** Sets {@code count} elements starting at {@code offset} to {@code value}. */
    void fill(DeviceBuffer dst, long offset, long count, double value);

    // ---- training kernels (dev.bptt4j.train). The defaults run TrainingKernels on the host after a
    // download and upload the result: correct on any backend, fast on none; backends override them. ----

    /**
     * Fused softmax + cross-entropy over {@code rows × classes} logits (row-major, contiguous).
     * {@code targets} is an I32 buffer of class ids, −1 for a masked row. On exit each logits row
     * holds {@code gradScale·(softmax − onehot(target))} (0 for masked rows) and
     * {@code rowLoss[r] = logsumexp(z_r) − z_r[target]} (0 for masked rows), rowLoss in the logits'
     * dtype. See {@link TrainingKernels#softmaxCrossEntropy}.
     */
    default void softmaxCrossEntropy(DeviceBuffer logits, long logitsOffset, DeviceBuffer targets, long targetsOffset,
                                     DeviceBuffer rowLoss, long rowLossOffset, int rows, int classes, double gradScale) {
        Tensor z = download(logits, logitsOffset, rows, classes);
        int[] t = download(targets, targetsOffset, rows).i32();
        double[] zd = z.toDoubleArray(), loss = new double[rows];
        TrainingKernels.softmaxCrossEntropy(zd, 0, t, 0, loss, 0, rows, classes, gradScale);
        upload(HostTensors.of(zd, logits.dtype(), rows, classes), logits, logitsOffset);
        upload(HostTensors.of(loss, rowLoss.dtype(), rows), rowLoss, rowLossOffset);
    }

    /**
     * One {@code torch.optim.SGD} step over the first {@code count} elements of a parameter (see
     * {@link TrainingKernels#sgd}); {@code momentumBuffer} (same dtype and size) may be null when
     * momentum is 0. The gradient is only read.
     */
    default void sgdStep(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer momentumBuffer, long count,
                         double lr, double momentum, double dampening, double weightDecay, double l1,
                         boolean nesterov, boolean firstStep) {
        int n = Math.toIntExact(count);
        double[] p = download(param, 0, n).toDoubleArray(), g = download(grad, 0, n).toDoubleArray();
        double[] b = momentum != 0 ? download(momentumBuffer, 0, n).toDoubleArray() : null;
        TrainingKernels.sgd(p, g, b, n, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep);
        upload(HostTensors.of(p, param.dtype(), n), param, 0);
        if (b != null) upload(HostTensors.of(b, momentumBuffer.dtype(), n), momentumBuffer, 0);
    }

    /**
     * One {@code torch.optim.Adam} step (amsgrad off, {@code step} counted from 1) over the first
     * {@code count} elements; {@code expAvg} and {@code expAvgSq} are the moment buffers (same dtype
     * and size, zero before step 1). See {@link TrainingKernels#adam}. The gradient is only read.
     */
    default void adamStep(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer expAvg, DeviceBuffer expAvgSq, long count,
                          double lr, double beta1, double beta2, double eps, double weightDecay, double l1, long step) {
        int n = Math.toIntExact(count);
        double[] p = download(param, 0, n).toDoubleArray(), g = download(grad, 0, n).toDoubleArray();
        double[] m = download(expAvg, 0, n).toDoubleArray(), v = download(expAvgSq, 0, n).toDoubleArray();
        TrainingKernels.adam(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, l1, step);
        upload(HostTensors.of(p, param.dtype(), n), param, 0);
        upload(HostTensors.of(m, expAvg.dtype(), n), expAvg, 0);
        upload(HostTensors.of(v, expAvgSq.dtype(), n), expAvgSq, 0);
    }

    /**
     * {@code out[outOffset] += Σ x²} over {@code count} elements from {@code offset}; {@code out} is
     * an F64 buffer so that norms of float32 tensors accumulate in double. Several calls into one
     * accumulator followed by one download give a global norm with a single host read.
     */
    default void sumOfSquares(DeviceBuffer x, long offset, long count, DeviceBuffer out, long outOffset) {
        int n = Math.toIntExact(count);
        double s = TrainingKernels.sumOfSquares(download(x, offset, n).toDoubleArray(), 0, n);
        double before = download(out, outOffset, 1).getDouble(0);
        upload(HostTensors.of(new double[]{before + s}, out.dtype(), 1), out, outOffset);
    }

    /** {@code x ← alpha·x} over {@code count} elements from {@code offset}. */
    default void scale(DeviceBuffer x, long offset, long count, double alpha) {
        int n = Math.toIntExact(count);
        double[] v = download(x, offset, n).toDoubleArray();
        TrainingKernels.scale(v, 0, n, alpha);
        upload(HostTensors.of(v, x.dtype(), n), x, offset);
    }

    /** {@code x ← clamp(x, min, max)} over {@code count} elements from {@code offset}; NaN stays NaN. */
    default void clamp(DeviceBuffer x, long offset, long count, double min, double max) {
        int n = Math.toIntExact(count);
        double[] v = download(x, offset, n).toDoubleArray();
        TrainingKernels.clamp(v, 0, n, min, max);
        upload(HostTensors.of(v, x.dtype(), n), x, offset);
    }

    /**
     * How many elements at {@code offset} of a floating-point buffer are NaN or ±Inf. Used by the
     * opt-in finite check ({@code bptt4j.checkFinite}) after each step, so it returns a host value
     * and therefore waits for queued work; never called when the check is off. The default
     * downloads the range; backends override it with an on-device reduction.
     */
    default long countNonFinite(DeviceBuffer buffer, long offset, long count) {
        if (count == 0) return 0;
        Tensor t = download(buffer, offset, Math.toIntExact(count));
        long n = 0;
        for (int i = 0; i < t.size(); i++) if (!Double.isFinite(t.getDouble(i))) n++;
        return n;
    }

    /**
     * The most elements one buffer of this backend can hold and index (the CPU backend and the
     * kernels index with 32-bit ints). {@code Rnn.forward} checks its workspace against this
     * before allocating anything.
     */
    default long maxBufferElements() {
        return Integer.MAX_VALUE - 8;
    }

    /** Number of live allocations made by this backend (for leak checks). */
    long liveBuffers();

    /** Frees everything this backend still holds. */
    @Override
    void close();
}
