package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

/**
 * What the BPTT algorithm needs from a device, and nothing more: memory and transfers, row-major
 * GEMM, scheduling of a time loop, and one way to run a pointwise kernel ({@link #launch}, over a
 * {@link KernelSpec} whose contract is checked the same way by every backend). The algorithm
 * ({@code dev.bptt4j.algo}) and the cells ({@code dev.bptt4j.cell}) are written once against
 * this; the CPU and CUDA backends differ only below it. Training ops (loss, optimisers, norms)
 * are a separate small interface, {@link #training()}.
 *
 * <p>Every tensor travels as a {@link DeviceSlice}; matrices are row-major with explicit leading
 * dimensions. Operations may be asynchronous (CUDA queues them on one stream); a download waits
 * for everything queued before it.
 *
 * <p><b>Threads.</b> A backend instance, its buffers and the {@code Rnn}s built on it belong to
 * one thread at a time: nothing here is synchronised. Independent backends (each with its own
 * models) may run in different threads at once and give bitwise the results they give alone;
 * what they share (the BLAS, the CUDA context) is safe for that.
 *
 * <p><b>Closing.</b> After {@link #close()} every operation throws an {@link IllegalStateException}
 * naming the backend.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and the CLI: "cpu", "cuda", "cuda-emulated". */
    String name();

    /** One line describing the device and library versions. */
    String description();

    /**
     * One line when a setting keeps this backend off the machine's fastest code (for reports such
     * as {@code info} and {@code bench}), else null.
     */
    default String notice() {
        return null;
    }

    // ---- memory and transfers ----

    /** A zero-filled buffer. */
    DeviceBuffer allocate(DType dtype, long elements);

    /** Copies all of {@code source} (same dtype as the buffer) to {@code target}. */
    void upload(Tensor source, DeviceSlice target);

    /**
     * Copies {@code target.size()} elements from {@code source} into an existing host tensor of the
     * buffer's dtype (overwriting it), so repeated downloads need no new arrays.
     */
    void downloadInto(DeviceSlice source, Tensor target);

    /** Copies {@code Tensor.elementCount(shape)} elements from {@code source} into a new host tensor. */
    default Tensor download(DeviceSlice source, int... shape) {
        Tensor out = Tensor.zeros(source.buffer().dtype(), shape);
        downloadInto(source, out);
        return out;
    }

    /**
     * Host-to-device row gather: for r in [0, count), the dense row r of {@code dst} ({@code width}
     * elements at {@code r·width}) receives {@code width} values of {@code source}'s row
     * {@code rows[r]} (rows {@code sourceStride} apart, from column {@code sourceColumn}), or zeros
     * where {@code rows[r]} is −1. Moves a padded host tensor straight into the packed slot layout.
     * The default gathers on the host and uploads the {@code count × width} result.
     */
    default void uploadRows(DeviceSlice dst, Tensor source, int sourceStride, int sourceColumn, int[] rows, int count, int width) {
        HostRows.checkTensorRows("uploadRows", source, sourceStride, sourceColumn, rows, count, width);
        if (count == 0 || width == 0) return;
        Tensor packed = Tensor.zeros(source.dtype(), count, width);
        HostRows.gather(packed, width, 0, source, sourceStride, sourceColumn, rows, count, width);
        upload(packed, dst);
    }

    /**
     * Device-to-host row gather: for r in [0, count), {@code width} values of {@code target}'s row
     * r (rows {@code targetStride} apart, from column {@code targetColumn}) receive the dense row
     * {@code rows[r]} of {@code src} ({@code width} elements at {@code rows[r]·width}), or zeros
     * where {@code rows[r]} is −1. Moves the packed slot layout straight into a padded host tensor.
     * The default downloads the source rows the map reaches and gathers on the host.
     */
    default void downloadRows(Tensor target, int targetStride, int targetColumn, DeviceSlice src, int[] rows, int count, int width) {
        HostRows.checkTarget("downloadRows", target, targetStride, targetColumn, rows, count, width);
        int reached = HostRows.maxRow(rows, count) + 1;
        Tensor source = Tensor.zeros(target.dtype(), reached, width);
        if (reached > 0 && width > 0) downloadInto(src, source);
        HostRows.gather(target, targetStride, targetColumn, source, width, 0, rows, count, width);
    }

    /**
     * The most elements one buffer of this backend can hold and index (the CPU backend and the
     * kernels index with 32-bit ints). {@code Rnn.forward} checks its workspace against this
     * before allocating anything.
     */
    default long maxBufferElements() {
        return Integer.MAX_VALUE - 8;
    }

    /**
     * Bytes this backend can still allocate, as well as it can tell, or {@link Long#MAX_VALUE} when
     * it cannot: what a caller holds a large request against first, to refuse it with the figures
     * rather than fail part-way through allocating.
     */
    default long availableBytes() {
        return Long.MAX_VALUE;
    }

    /** Number of live allocations made by this backend (for leak checks). */
    long liveBuffers();

    // ---- BLAS ----

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C}, row-major, C is m×n, op(A) m×k, op(B) k×n.
     * With beta = 0, C's previous contents are ignored (even NaN).
     */
    void gemm(boolean transposeA, boolean transposeB, int m, int n, int k,
              double alpha, DeviceSlice a, int lda, DeviceSlice b, int ldb, double beta, DeviceSlice c, int ldc);

    /**
     * Prepares op(B) (k×n; B itself n×k when transposed) for repeated {@link #gemmPacked products}
     * with an m-row A, or returns null when this backend has no faster form for it (then the
     * caller uses {@link #gemm}). Checked like gemm's B.
     */
    default PackedOperand packRightOperand(boolean transposeB, int m, int n, int k, DeviceSlice b, int ldb) {
        return null;
    }

    /**
     * {@code C = A·op(B) + beta·C} with op(B) prepared by {@link #packRightOperand} and A of
     * exactly {@code b.rows()} rows (not transposed); equal to {@link #gemm}'s result up to rounding.
     */
    default void gemmPacked(DeviceSlice a, int lda, PackedOperand b, double beta, DeviceSlice c, int ldc) {
        throw new UnsupportedOperationException(name() + " backend prepares no packed operands");
    }

    // ---- scheduling ----

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
     * backend's GEMMs and kernels on its own rows only; {@code count} is at most {@link #lanes}.
     * The default runs them one after another.
     */
    default void runLanes(int count, java.util.function.IntConsumer lane) {
        for (int i = 0; i < count; i++) lane.accept(i);
    }

    // ---- kernels ----

    /**
     * Runs a pointwise kernel: checks {@code args} against its spec ({@link KernelArgs#check()}),
     * then queues the kernel over its grid. Throws {@link UnsupportedOperationException} naming
     * the kernel when this backend has no implementation of it.
     */
    void launch(KernelArgs args);

    /**
     * How many elements of a floating-point slice are NaN or ±Inf. Used by the opt-in finite check
     * after each step, so it returns a host value and therefore waits for queued work. The default
     * downloads the range; backends count on the device.
     */
    default long countNonFinite(DeviceSlice slice, long count) {
        if (count == 0) return 0;
        Tensor t = download(slice, Math.toIntExact(count));
        long n = 0;
        for (int i = 0; i < t.size(); i++) if (!Double.isFinite(t.getDouble(i))) n++;
        return n;
    }

    /** The training ops (loss, optimisers, norms) on this backend's buffers; the default runs them on the host. */
    default TrainingOps training() {
        return new HostTrainingOps(this);
    }

    /** True once {@link #close()} has run. */
    boolean isClosed();

    /** Frees everything this backend still holds. */
    @Override
    void close();
}
