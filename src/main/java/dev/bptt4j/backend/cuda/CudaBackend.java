package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.KernelSpec;
import dev.bptt4j.backend.KernelTrainingOps;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.backend.TrainingOps;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static dev.bptt4j.backend.BufferChecks.checkMatrix;
import static dev.bptt4j.backend.BufferChecks.checkRange;

/**
 * The CUDA backend: cuBLAS for every GEMM, bptt4j's kernels ({@code cuda/*.cu}) for the pointwise
 * steps, all queued on one stream of a {@link CudaApi} (real: {@link JCudaApi}; host emulation:
 * {@link EmulatedCudaApi}). Nothing here waits for the device except {@link #download}, and
 * nothing allocates except {@link #allocate}, which the algorithm's buffer pool calls once per
 * shape; so a time loop is GEMMs and launches only.
 *
 * <p>Ranges are checked on the host before anything is queued, since a real GPU would not say
 * that a kernel wrote past an allocation.
 */
public final class CudaBackend implements Backend {
    private final CudaApi api;
    private final String name;
    private final Set<CudaBuffer> live = new LinkedHashSet<>();
    private boolean closed;

    /** A backend over {@code api}, which it owns and closes. */
    public CudaBackend(CudaApi api, String name) {
        this.api = api;
        this.name = name;
    }

    /** The API this backend drives (for the emulator's counters). */
    public CudaApi api() {
        return api;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String description() {
        return name + ": " + api.description();
    }

    // ---- memory ----

    /** Device memory: an address in the API's space, and its size. */
    private final class CudaBuffer implements DeviceBuffer {
        final DType dtype;
        final long elements;
        final long address;
        boolean freed;

        CudaBuffer(DType dtype, long elements, long address) {
            this.dtype = dtype;
            this.elements = elements;
            this.address = address;
        }

        /** The device address of element {@code offset}. */
        CudaBackend owner() {
            return CudaBackend.this;
        }

        long at(long offset) {
            return address + offset * dtype.byteSize();
        }

        @Override
        public DType dtype() {
            return dtype;
        }

        @Override
        public long elements() {
            return elements;
        }

        @Override
        public boolean isClosed() {
            return freed;
        }

        @Override
        public void close() {
            if (freed) return;
            freed = true;
            live.remove(this);
            api.free(address);
        }

        @Override
        public String toString() {
            return "CudaBuffer[" + elements + " " + dtype + "]";
        }
    }

    @Override
    public DeviceBuffer allocate(DType dtype, long elements) {
        checkOpen();
        if (elements < 0) throw new IllegalArgumentException("elements: expected >= 0, got " + elements);
        if (dtype != DType.F32 && dtype != DType.F64 && dtype != DType.I32) {
            throw new IllegalArgumentException("dtype: the CUDA backend holds F32, F64 and I32 buffers, not " + dtype);
        }
        long n = Math.max(1, elements);
        long address = api.allocate(dtype, n);
        api.memsetZero(address, n * dtype.byteSize());
        CudaBuffer b = new CudaBuffer(dtype, elements, address);
        live.add(b);
        return b;
    }

    @Override
    public long availableBytes() {
        checkOpen();
        return api.freeBytes();
    }

    @Override
    public long liveBuffers() {
        return live.size();
    }

    private CudaBuffer cuda(DeviceBuffer b) {
        checkOpen();
        if (!(b instanceof CudaBuffer) || ((CudaBuffer) b).owner() != this) {
            throw new IllegalArgumentException("buffer does not belong to this CUDA backend: " + b);
        }
        CudaBuffer c = (CudaBuffer) b;
        if (c.freed) throw new IllegalStateException("buffer of " + c.elements + " " + c.dtype + " used after close");
        return c;
    }

    @Override
    public void upload(Tensor source, DeviceSlice target) {
        checkOpen();
        CudaBuffer t = cuda(target.buffer());
        long targetOffset = target.offset();
        if (source.dtype() != t.dtype) throw new IllegalArgumentException("upload: tensor is " + source.dtype() + ", buffer is " + t.dtype);
        checkRange("upload", t, targetOffset, source.size());
        if (source.size() > 0) api.copyHostToDevice(t.at(targetOffset), source);
    }

    @Override
    public void downloadInto(DeviceSlice source, Tensor out) {
        checkOpen();
        CudaBuffer s = cuda(source.buffer());
        long sourceOffset = source.offset();
        if (out.dtype() != s.dtype) throw new IllegalArgumentException("download: buffer is " + s.dtype + ", tensor is " + out.dtype());
        checkRange("download", s, sourceOffset, out.size());
        api.synchronize();
        if (out.size() > 0) api.copyDeviceToHost(s.at(sourceOffset), out);
    }

    // ---- GEMM ----

    @Override
    public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, double alpha,
                     DeviceSlice a, int lda, DeviceSlice b, int ldb, double beta, DeviceSlice c, int ldc) {
        checkOpen();
        if (m == 0 || n == 0) return;
        CudaBuffer ca = cuda(a.buffer()), cb = cuda(b.buffer()), cc = cuda(c.buffer());
        long aOffset = a.offset(), bOffset = b.offset(), cOffset = c.offset();
        if (ca.dtype != cc.dtype || cb.dtype != cc.dtype || !cc.dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("gemm: operand dtypes must be one floating-point type, got " + ca.dtype + ", " + cb.dtype + ", " + cc.dtype);
        }
        checkMatrix("gemm A", ca, aOffset, transposeA ? k : m, transposeA ? m : k, lda);
        checkMatrix("gemm B", cb, bOffset, transposeB ? n : k, transposeB ? k : n, ldb);
        checkMatrix("gemm C", cc, cOffset, m, n, ldc);
        rowMajorGemm(cc.dtype, transposeA, transposeB, m, n, k, alpha, ca.at(aOffset), lda, cb.at(bOffset), ldb, beta, cc.at(cOffset), ldc);
    }

    /**
     * The one place where row-major meets cuBLAS's column-major. A row-major matrix with leading
     * dimension ld, read column-major with the same ld, is its transpose. So the row-major
     * {@code C = op(A)·op(B)} (C m×n) is the column-major {@code Cᵀ = op(B)ᵀ·op(A)ᵀ} (Cᵀ n×m):
     * swap A with B (and lda with ldb), swap m with n, and keep each operand's transpose flag,
     * since the column-major view of the stored B already is Bᵀ.
     */
    private void rowMajorGemm(DType dtype, boolean transposeA, boolean transposeB, int m, int n, int k, double alpha,
                              long a, int lda, long b, int ldb, double beta, long c, int ldc) {
        api.gemm(dtype, transposeB, transposeA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
    }

    // ---- kernels ----

    private final KernelTrainingOps trainingOps = new KernelTrainingOps(this);

    /** The training ops as the kernels of {@code cuda/training.cu}. */
    @Override
    public TrainingOps training() {
        return trainingOps;
    }

    /**
     * Checks the arguments against the kernel's spec and this backend's ownership of every buffer,
     * then queues the kernel's entry point for the dtype with the registry's geometry.
     */
    @Override
    public void launch(KernelArgs args) {
        checkOpen();
        args.check();
        List<KernelSpec.Parameter> params = args.spec().parameters();
        Object[] cudaArgs = new Object[params.size()];
        for (int i = 0; i < cudaArgs.length; i++) {
            switch (params.get(i).type()) {
                case POINTER: cudaArgs[i] = args.slice(i) == null ? null : pointer(cuda(args.buffer(i)), args.offset(i)); break;
                case INT32: cudaArgs[i] = args.int32At(i); break;
                case INT64: cudaArgs[i] = args.integer(i); break;
                case REAL: cudaArgs[i] = args.dtype() == DType.F32 ? (Object) (float) args.realAt(i) : (Object) args.realAt(i); break;
                case FLOAT64: cudaArgs[i] = args.realAt(i); break;
                default: throw new AssertionError(params.get(i));
            }
        }
        launch(CudaKernel.of(args.spec(), args.dtype()), cudaArgs);
    }

    // ---- finite check (cuda/finite.cu) ----

    /** Device address of the 8-byte counter count_non_finite adds into; allocated on first use, freed by close. */
    private long nonFiniteCounter;

    /** Zeroes the counter, counts on the device and reads the one number back: one synchronisation. */
    @Override
    public long countNonFinite(DeviceSlice slice, long count) {
        checkOpen();
        CudaBuffer b = cuda(slice.buffer());
        long offset = slice.offset();
        checkFloat("countNonFinite", b);
        checkRange("countNonFinite", b, offset, count);
        if (count == 0) return 0;
        if (nonFiniteCounter == 0) nonFiniteCounter = api.allocate(DType.I64, 1);
        api.memsetZero(nonFiniteCounter, DType.I64.byteSize());
        launch(CudaKernel.of(Packing.COUNT_NON_FINITE, b.dtype), pointer(b, offset), count, new DevicePointer(nonFiniteCounter));
        Tensor counted = Tensor.zeros(DType.I64, 1);
        api.synchronize();
        api.copyDeviceToHost(nonFiniteCounter, counted);
        return counted.i64()[0];
    }

    private static void checkFloat(String what, CudaBuffer b) {
        if (!b.dtype.isFloatingPoint()) throw new IllegalArgumentException(what + ": expected an F32 or F64 buffer, got " + b.dtype);
    }


    /** Validates the arguments against the registry, then launches with the registry's geometry. */
    private void launch(CudaKernel kernel, Object... args) {
        checkOpen();
        long elements = kernel.elementCount(args); // validates args against the signature
        if (elements == 0) return;
        api.launch(kernel, CudaKernel.gridSize(elements), CudaKernel.BLOCK_SIZE, args);
    }

    private static DevicePointer pointer(CudaBuffer b, long offset) {
        return b == null ? null : new DevicePointer(b.at(offset));
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException(name + " backend used after close");
    }

    @Override
    public void close() {
        if (closed) return;
        try {
            for (CudaBuffer b : List.copyOf(live)) b.close();
            if (nonFiniteCounter != 0) api.free(nonFiniteCounter);
        } finally {
            closed = true;
            api.close();
        }
    }
}
