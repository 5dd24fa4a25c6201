package dev.bptt4j.backend.cuda;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.TreeMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link CudaApi} on the host, for machines without a GPU: a strict stand-in for the device that
 * makes the whole {@link CudaBackend} testable and counts what it asks for.
 * <ul>
 *   <li><b>Memory</b>: one double[]/float[]/int[] per allocation, addressed by fake device
 *       addresses ({@code id << 40 | byteOffset}). Every access is bounds-checked; use after
 *       free, double free, misaligned or mistyped addresses and NULL dereferences throw
 *       {@link EmulatedCudaException}; {@link #checkNoLeaks} reports live allocations. Fresh
 *       allocations hold NaN (or -1 for ints), as cudaMalloc promises nothing.
 *   <li><b>GEMM</b>: cuBLAS's column-major gemm as documented, with its argument checks
 *       (CUBLAS_STATUS_INVALID_VALUE for negative sizes and too small lda/ldb/ldc), and beta = 0
 *       ignoring C. Sums run in the operands' precision, in index order.
 *   <li><b>Kernels</b>: each launch is checked against {@link CudaKernel} (arguments and the
 *       registry's geometry) and runs {@link EmulatedKernels}, the {@code .cu} code in Java.
 *   <li><b>Counters</b> (GEMMs, launches per kernel, bytes each way, synchronisations, peak
 *       device bytes) and an optional event log of every call, for tests that pin down what a
 *       training step does on the device.
 * </ul>
 * Everything runs at once, in call order, so "queued" work is always finished; that is one
 * behaviour of a real stream, and the event log shows where synchronisations would be.
 */
public final class EmulatedCudaApi implements CudaApi {
    private static final int OFFSET_BITS = 40;
    private static final long OFFSET_MASK = (1L << OFFSET_BITS) - 1;

    /** What a call did, for the event log. */
    public enum Kind { ALLOCATE, FREE, MEMSET, HOST_TO_DEVICE, DEVICE_TO_HOST, GEMM, LAUNCH, SYNCHRONIZE }

    /**
     * One call. {@code kernel} for launches; {@code m, n, k} (cuBLAS's, i.e. column-major) for
     * GEMMs; {@code bytes} for memory calls.
     */
    public record Event(Kind kind, CudaKernel kernel, int m, int n, int k, long bytes) {
        @Override
        public String toString() {
            switch (kind) {
                case GEMM: return "GEMM m=" + m + " n=" + n + " k=" + k;
                case LAUNCH: return "LAUNCH " + kernel;
                case SYNCHRONIZE: return "SYNCHRONIZE";
                default: return kind + " " + bytes + " bytes";
            }
        }
    }

    /** One allocation: its typed host array, kept after free so that later use is recognised. */
    static final class Allocation {
        final long id;
        final DType dtype;
        final int elements;
        final double[] f64;
        final float[] f32;
        final int[] i32;
        final long[] i64;
        boolean freed;

        Allocation(long id, DType dtype, int elements) {
            this.id = id;
            this.dtype = dtype;
            this.elements = elements;
            f64 = dtype == DType.F64 ? new double[elements] : null;
            f32 = dtype == DType.F32 ? new float[elements] : null;
            i32 = dtype == DType.I32 ? new int[elements] : null;
            i64 = dtype == DType.I64 ? new long[elements] : null;
            if (f64 != null) Arrays.fill(f64, Double.NaN);
            if (f32 != null) Arrays.fill(f32, Float.NaN);
            if (i32 != null) Arrays.fill(i32, -1);
            if (i64 != null) Arrays.fill(i64, -1);
        }

        long address() {
            return id << OFFSET_BITS;
        }

        long bytes() {
            return (long) elements * dtype.byteSize();
        }

        @Override
        public String toString() {
            return "allocation #" + id + " (" + elements + " " + dtype + " at 0x" + Long.toHexString(address()) + ")";
        }
    }

    private final Map<Long, Allocation> allocations = new HashMap<>();
    private long nextId = 1;
    private long liveBytes, peakBytes;
    private long gemms, hostToDeviceBytes, deviceToHostBytes, synchronizations;
    private final Map<String, Long> launches = new TreeMap<>();
    private boolean recording;
    private final List<Event> events = new ArrayList<>();
    private final EmulatedKernels kernels = new EmulatedKernels(this);
    private boolean closed;

    @Override
    public String description() {
        return "emulated CUDA device (host memory, Java twins of the kernels, reference column-major GEMM; no GPU involved)";
    }

    // ---- memory ----

    @Override
    public long allocate(DType dtype, long elements) {
        checkOpen();
        if (dtype != DType.F32 && dtype != DType.F64 && dtype != DType.I32 && dtype != DType.I64) {
            throw new EmulatedCudaException("allocate: the emulator holds F32, F64, I32 and I64 memory, not " + dtype);
        }
        if (elements < 1 || elements > Integer.MAX_VALUE - 8) {
            throw new EmulatedCudaException("allocate: " + elements + " elements is outside the emulator's 1.." + (Integer.MAX_VALUE - 8));
        }
        Allocation a = new Allocation(nextId++, dtype, (int) elements);
        allocations.put(a.id, a);
        liveBytes += a.bytes();
        peakBytes = Math.max(peakBytes, liveBytes);
        log(Kind.ALLOCATE, null, 0, 0, 0, a.bytes());
        return a.address();
    }

    /** The emulator's memory is Java arrays: what the heap can still take. */
    @Override
    public long freeBytes() {
        checkOpen();
        Runtime r = Runtime.getRuntime();
        return r.maxMemory() - (r.totalMemory() - r.freeMemory());
    }

    @Override
    public void free(long address) {
        checkOpen();
        Allocation a = allocations.get(address >>> OFFSET_BITS);
        if (a == null) throw new EmulatedCudaException("free: 0x" + Long.toHexString(address) + " was never allocated");
        if ((address & OFFSET_MASK) != 0) {
            throw new EmulatedCudaException("free: 0x" + Long.toHexString(address) + " points inside " + a + ", not at its start");
        }
        if (a.freed) throw new EmulatedCudaException("double free of " + a);
        a.freed = true;
        liveBytes -= a.bytes();
        log(Kind.FREE, null, 0, 0, 0, a.bytes());
    }

    /** Allocations not yet freed. */
    public List<String> liveAllocations() {
        List<String> out = new ArrayList<>();
        for (Allocation a : allocations.values()) if (!a.freed) out.add(a.toString());
        Collections.sort(out);
        return out;
    }

    /** Throws if any allocation is still live. */
    public void checkNoLeaks() {
        List<String> live = liveAllocations();
        if (!live.isEmpty()) throw new EmulatedCudaException("leak: " + live.size() + " device allocation(s) never freed: " + live);
    }

    /**
     * The allocation and element index an address names, for {@code count} elements of
     * {@code dtype} (count 0: just the address).
     */
    Allocation resolve(String what, long address, DType dtype, long count) {
        if (address == 0) throw new EmulatedCudaException(what + ": NULL device pointer");
        Allocation a = allocations.get(address >>> OFFSET_BITS);
        if (a == null) throw new EmulatedCudaException(what + ": 0x" + Long.toHexString(address) + " is not a device address");
        if (a.freed) throw new EmulatedCudaException(what + ": use after free of " + a);
        if (a.dtype != dtype) throw new EmulatedCudaException(what + ": expected " + dtype + " memory, got " + a);
        long byteOffset = address & OFFSET_MASK;
        if (byteOffset % dtype.byteSize() != 0) {
            throw new EmulatedCudaException(what + ": byte offset " + byteOffset + " into " + a + " is not aligned to " + dtype);
        }
        long first = byteOffset / dtype.byteSize();
        if (first + count > a.elements) {
            throw new EmulatedCudaException(what + ": out of bounds: elements [" + first + ", " + (first + count) + ") of " + a);
        }
        return a;
    }

    static long elementIndex(long address, DType dtype) {
        return (address & OFFSET_MASK) / dtype.byteSize();
    }

    @Override
    public void memsetZero(long address, long bytes) {
        checkOpen();
        Allocation a = allocations.get(address >>> OFFSET_BITS);
        if (a == null) throw new EmulatedCudaException("memset: 0x" + Long.toHexString(address) + " is not a device address");
        if (bytes % a.dtype.byteSize() != 0) throw new EmulatedCudaException("memset: " + bytes + " bytes is not a whole number of " + a.dtype);
        long count = bytes / a.dtype.byteSize();
        resolve("memset", address, a.dtype, count);
        int from = (int) elementIndex(address, a.dtype), to = (int) (from + count);
        if (a.f64 != null) Arrays.fill(a.f64, from, to, 0.0);
        if (a.f32 != null) Arrays.fill(a.f32, from, to, 0f);
        if (a.i32 != null) Arrays.fill(a.i32, from, to, 0);
        if (a.i64 != null) Arrays.fill(a.i64, from, to, 0L);
        log(Kind.MEMSET, null, 0, 0, 0, bytes);
    }

    @Override
    public void copyHostToDevice(long address, Tensor host) {
        checkOpen();
        Allocation a = resolve("copy host to device", address, host.dtype(), host.size());
        int at = (int) elementIndex(address, a.dtype);
        switch (a.dtype) {
            case F64: System.arraycopy(host.f64(), 0, a.f64, at, host.size()); break;
            case F32: System.arraycopy(host.f32(), 0, a.f32, at, host.size()); break;
            case I32: System.arraycopy(host.i32(), 0, a.i32, at, host.size()); break;
            case I64: System.arraycopy(host.i64(), 0, a.i64, at, host.size()); break;
            default: throw new AssertionError(a.dtype);
        }
        long bytes = (long) host.size() * a.dtype.byteSize();
        hostToDeviceBytes += bytes;
        log(Kind.HOST_TO_DEVICE, null, 0, 0, 0, bytes);
    }

    @Override
    public void copyDeviceToHost(long address, Tensor host) {
        checkOpen();
        Allocation a = resolve("copy device to host", address, host.dtype(), host.size());
        int at = (int) elementIndex(address, a.dtype);
        switch (a.dtype) {
            case F64: System.arraycopy(a.f64, at, host.f64(), 0, host.size()); break;
            case F32: System.arraycopy(a.f32, at, host.f32(), 0, host.size()); break;
            case I32: System.arraycopy(a.i32, at, host.i32(), 0, host.size()); break;
            case I64: System.arraycopy(a.i64, at, host.i64(), 0, host.size()); break;
            default: throw new AssertionError(a.dtype);
        }
        long bytes = (long) host.size() * a.dtype.byteSize();
        deviceToHostBytes += bytes;
        log(Kind.DEVICE_TO_HOST, null, 0, 0, 0, bytes);
    }

    // ---- cuBLAS ----

    @Override
    public void gemm(DType dtype, boolean transa, boolean transb, int m, int n, int k,
                     double alpha, long a, int lda, long b, int ldb, double beta, long c, int ldc) {
        checkOpen();
        String call = dtype == DType.F32 ? "cublasSgemm" : "cublasDgemm";
        if (dtype != DType.F32 && dtype != DType.F64) throw new EmulatedCudaException("gemm: " + dtype + " is not F32 or F64");
        // cuBLAS's argument checks (CUBLAS_STATUS_INVALID_VALUE), in terms of the stored matrices.
        int aRows = transa ? k : m, aCols = transa ? m : k;
        int bRows = transb ? n : k, bCols = transb ? k : n;
        if (m < 0 || n < 0 || k < 0) invalid(call, "negative size m=" + m + " n=" + n + " k=" + k);
        if (lda < Math.max(1, aRows)) invalid(call, "lda = " + lda + " < max(1, " + (transa ? "k" : "m") + " = " + aRows + ")");
        if (ldb < Math.max(1, bRows)) invalid(call, "ldb = " + ldb + " < max(1, " + (transb ? "n" : "k") + " = " + bRows + ")");
        if (ldc < Math.max(1, m)) invalid(call, "ldc = " + ldc + " < max(1, m = " + m + ")");
        gemms++;
        log(Kind.GEMM, null, m, n, k, 0);
        if (m == 0 || n == 0) return;
        Allocation ca = resolve(call + " C", c, dtype, (long) (n - 1) * ldc + m);
        int c0 = (int) elementIndex(c, dtype);
        boolean readsAB = k > 0 && alpha != 0;
        Allocation aa = null, ab = null;
        int a0 = 0, b0 = 0;
        if (readsAB) {
            aa = resolve(call + " A", a, dtype, (long) (aCols - 1) * lda + aRows);
            ab = resolve(call + " B", b, dtype, (long) (bCols - 1) * ldb + bRows);
            a0 = (int) elementIndex(a, dtype);
            b0 = (int) elementIndex(b, dtype);
        }
        // Column-major: element (i, j) of a stored matrix with leading dimension ld is at i + j·ld.
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                int ci = c0 + i + j * ldc;
                if (dtype == DType.F64) {
                    double sum = 0;
                    if (readsAB) {
                        for (int l = 0; l < k; l++) {
                            double av = aa.f64[a0 + (transa ? l + i * lda : i + l * lda)];
                            double bv = ab.f64[b0 + (transb ? j + l * ldb : l + j * ldb)];
                            sum += av * bv;
                        }
                    }
                    ca.f64[ci] = beta == 0 ? alpha * sum : alpha * sum + beta * ca.f64[ci];
                } else {
                    float sum = 0, fa = (float) alpha, fb = (float) beta;
                    if (readsAB) {
                        for (int l = 0; l < k; l++) {
                            float av = aa.f32[a0 + (transa ? l + i * lda : i + l * lda)];
                            float bv = ab.f32[b0 + (transb ? j + l * ldb : l + j * ldb)];
                            sum += av * bv;
                        }
                    }
                    ca.f32[ci] = fb == 0 ? fa * sum : fa * sum + fb * ca.f32[ci];
                }
            }
        }
    }

    private static void invalid(String call, String why) {
        throw new EmulatedCudaException(call + ": CUBLAS_STATUS_INVALID_VALUE: " + why);
    }

    // ---- kernels ----

    @Override
    public void launch(CudaKernel kernel, int gridSize, int blockSize, Object... args) {
        checkOpen();
        kernel.validate(args);
        int expectedGrid = CudaKernel.gridSize(kernel.elementCount(args));
        if (blockSize != CudaKernel.BLOCK_SIZE || gridSize != expectedGrid) {
            throw new EmulatedCudaException(kernel + ": launched with grid " + gridSize + " × block " + blockSize
                    + ", the registry's geometry is grid " + expectedGrid + " × block " + CudaKernel.BLOCK_SIZE);
        }
        launches.merge(kernel.functionName(), 1L, Long::sum);
        log(Kind.LAUNCH, kernel, 0, 0, 0, 0);
        kernels.run(kernel, args);
    }

    @Override
    public void synchronize() {
        checkOpen();
        synchronizations++;
        log(Kind.SYNCHRONIZE, null, 0, 0, 0, 0);
    }

    // ---- counters and the event log ----

    public long gemmCount() {
        return gemms;
    }

    /** Launches of one kernel. */
    public long launchCount(CudaKernel kernel) {
        return launchCount(kernel.functionName());
    }

    /** Launches of one entry point, by its {@code extern "C"} name (e.g. {@code rnn_forward_f64}). */
    public long launchCount(String functionName) {
        return launches.getOrDefault(functionName, 0L);
    }

    /** Launches of every kernel. */
    public long launchCount() {
        long n = 0;
        for (long v : launches.values()) n += v;
        return n;
    }

    public long hostToDeviceBytes() {
        return hostToDeviceBytes;
    }

    public long deviceToHostBytes() {
        return deviceToHostBytes;
    }

    public long synchronizations() {
        return synchronizations;
    }

    /** Largest number of bytes allocated at once. */
    public long peakDeviceBytes() {
        return peakBytes;
    }

    public long liveDeviceBytes() {
        return liveBytes;
    }

    /** Starts (or stops) recording every call in {@link #events}. */
    public void setRecording(boolean on) {
        recording = on;
    }

    public List<Event> events() {
        return Collections.unmodifiableList(events);
    }

    public void clearEvents() {
        events.clear();
    }

    /** The counters on one line. */
    public String countersSummary() {
        StringBuilder perKernel = new StringBuilder();
        for (Map.Entry<String, Long> e : launches.entrySet()) {
            if (perKernel.length() > 0) perKernel.append(", ");
            perKernel.append(e.getKey()).append(' ').append(e.getValue());
        }
        return gemms + " GEMMs, " + launchCount() + " launches (" + perKernel + "), " + hostToDeviceBytes + " bytes host→device, "
                + deviceToHostBytes + " bytes device→host, " + synchronizations + " synchronisations, peak " + peakBytes + " device bytes";
    }

    private void log(Kind kind, CudaKernel kernel, int m, int n, int k, long bytes) {
        if (recording) events.add(new Event(kind, kernel, m, n, k, bytes));
    }

    private void checkOpen() {
        if (closed) throw new EmulatedCudaException("emulated CUDA device used after close");
    }

    /** Marks the device closed; live allocations are left for {@link #checkNoLeaks} to report. */
    @Override
    public void close() {
        closed = true;
    }
}
