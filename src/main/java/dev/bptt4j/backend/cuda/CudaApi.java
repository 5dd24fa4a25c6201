package dev.bptt4j.backend.cuda;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

/**
 * Everything {@link CudaBackend} asks of CUDA, and nothing more: memory, copies, one cuBLAS GEMM,
 * kernel launches and a synchronisation. {@link JCudaApi} implements it over JCuda (the only class
 * that calls JCuda); {@link EmulatedCudaApi} implements it on the host, checked and counted, so
 * the whole CUDA backend runs and is tested on machines without a GPU.
 *
 * <p>Device memory is addressed by plain {@code long} device addresses; an offset is added in
 * bytes by the caller ({@code address + elementOffset * dtype.byteSize()}). Kernel arguments that
 * are pointers are {@link DevicePointer}s. Work is queued on one stream in call order; only
 * {@link #synchronize} waits for it.
 *
 * <p>One instance owns one context, one stream and one cuBLAS handle; it is used by one thread.
 */
public interface CudaApi extends AutoCloseable {

    /** One line: device, compute capability, driver and library versions, and how the kernels were loaded. */
    String description();

    /** Allocates room for {@code elements} (≥ 1) values of {@code dtype}; returns the device address. Contents undefined. */
    long allocate(DType dtype, long elements);

    /** Bytes of device memory free now, as the driver reports them ({@code cuMemGetInfo}). */
    long freeBytes();

    /** Frees an allocation made by {@link #allocate}; {@code address} must be the address it returned. */
    void free(long address);

    /** Queues {@code bytes} zero bytes from {@code address}. */
    void memsetZero(long address, long bytes);

    /**
     * Copies all of {@code host} to {@code address}. Returns when the host array may be reused;
     * ordered after the work already queued.
     */
    void copyHostToDevice(long address, Tensor host);

    /**
     * Copies {@code host.size()} elements from {@code address} into {@code host}. Callers
     * {@link #synchronize} first: the copy itself is not ordered after queued kernels.
     */
    void copyDeviceToHost(long address, Tensor host);

    /**
     * cuBLAS {@code cublasSgemm}/{@code cublasDgemm}, column-major, exactly as documented:
     * {@code C = alpha·op(A)·op(B) + beta·C} with C m×n, op(A) m×k, op(B) k×n; A stored
     * (transa ? k×m : m×k) with leading dimension lda ≥ max(1, stored rows), likewise B and
     * C (ldc ≥ max(1, m)). beta = 0 ignores C's contents. {@code dtype} is F32 or F64.
     */
    void gemm(DType dtype, boolean transa, boolean transb, int m, int n, int k,
              double alpha, long a, int lda, long b, int ldb, double beta, long c, int ldc);

    /**
     * Queues {@code kernel} over a 1-D grid. {@code args} follow the kernel's signature in
     * {@link CudaKernel} (pointers as {@link DevicePointer}, null where nullable).
     */
    void launch(CudaKernel kernel, int gridSize, int blockSize, Object... args);

    /** Waits until everything queued has finished. */
    void synchronize();

    /** Releases the module, the handle, the stream and the context. Allocations are the caller's to free first. */
    @Override
    void close();
}
