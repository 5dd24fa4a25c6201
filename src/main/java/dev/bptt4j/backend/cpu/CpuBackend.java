package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.HostRows;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.KernelTrainingOps;
import dev.bptt4j.backend.PackedOperand;
import dev.bptt4j.backend.TrainingOps;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.concurrent.atomic.AtomicLong;

import static dev.bptt4j.backend.BufferChecks.checkMatrix;
import static dev.bptt4j.backend.BufferChecks.checkRange;

/**
 * The CPU backend: a native BLAS ({@link CpuBlas}: Intel MKL, else OpenBLAS) for every GEMM, Java
 * loops for the fused pointwise steps. Pointwise
 * kernels copy the rows of one step into heap scratch arrays (bulk copies run at memory speed),
 * compute there where C2 can vectorise, and copy back; scratch only grows, so a warmed-up
 * training step allocates nothing.
 *
 * <p><b>Threads.</b> The BLAS's thread count is one setting for the whole process, and changing
 * it while another thread is inside a GEMM is not safe. So the first {@code CpuBackend} of the
 * process sets it and later ones use it: a later request for a different count is ignored with
 * one note on stderr, and {@link #threads()} always reports the count in effect. Each backend is
 * used by one thread; several backends may run GEMMs at once (both BLAS libraries are thread-safe
 * for that).
 *
 * <p><b>Lanes.</b> With N ≥ 2 threads the BLAS runs sequentially and the backend does the
 * splitting into N lanes ({@link LaneTeam}: the caller's thread and N - 1 workers): a full batch's
 * time loops run as lanes of about B/N rows each ({@link #runLanes}: every core does GEMMs and
 * pointwise passes, no step waits for another lane), and a large GEMM or host copy outside them is
 * split into up to N parts by rows, columns or (float64 weight gradients) the inner dimension.
 * The BLAS's own thread team would otherwise spin, after every GEMM, on the cores the pointwise
 * work could use. Measured at two threads with MKL on Sapphire Rapids ({@code bptt4j bench}):
 * 100×64×256×256 f32 28.2–29.3 against 29.8–31.5 ms per training step (minimum of 40),
 * 200×32×128×128 10.7 against 12.8 ms (median), LSTM 100×64×256×256 94.6 against 107 ms
 * (median). {@code -Dbptt4j.lanes} / {@code BPTT4J_LANES} sets the count (1: the BLAS's own
 * threading, as before lanes).
 *
 * <p><b>Lane counts and rounding.</b> Results are bitwise repeatable run to run for one lane
 * count: each lane's rows and each GEMM part are fixed by the shapes and the count, never by
 * timing. Different counts may differ in the last bits, because each lane's GEMMs have other row
 * counts (a BLAS may block or vectorise a row differently by how many rows it is given) and a
 * float64 weight gradient split along K adds its N partial products in another grouping.
 */
public final class CpuBackend implements Backend {
    private final int threads;
    private final AtomicLong live = new AtomicLong();
    private final Runnable released = live::decrementAndGet;
    /** The most lanes a backend splits into; more threads than this share them. */
    static final int MAX_LANES = 64;
    /** Per lane: the pointwise kernels' scratch. */
    private final CpuPointwise[] pointwise;
    private final CpuGatedPointwise[] gated;
    private final LaneTeam team;
    private final CpuTraining training = new CpuTraining();
    private final CpuBlas blas;
    private boolean closed;

    /** The process's BLAS thread count once the first backend has set it; 0 before. */
    private static int processThreads;
    /** Lanes the process's CPU backends split GEMMs and time loops into (see fixProcessThreads); 1: none. */
    private static int processLanes;
    private final boolean splitsByLanes;
    /** True on the caller's thread while {@link #runLanes} runs: GEMMs there are one lane's and stay whole. */
    private boolean inLanes;
    private static boolean mismatchReported;

    /**
     * A backend asking for {@code threads} BLAS threads; the first backend of the process
     * sets the count, later ones use the count already set (see the class comment).
     */
    public CpuBackend(int threads) {
        this(threads, 0);
    }

    /**
     * A backend asking for {@code threads} BLAS threads that splits into {@code lanes} lanes, or
     * into the process's count when {@code lanes} is 0. A count other than the process's is for
     * tests: with a threaded BLAS (the process chose one lane) its lanes run correctly but share
     * the cores with the BLAS's threads.
     */
    CpuBackend(int threads, int lanes) {
        if (threads < 1) throw new IllegalArgumentException("threads: expected >= 1, got " + threads);
        if (lanes < 0 || lanes > MAX_LANES) throw new IllegalArgumentException("lanes: expected 1 to " + MAX_LANES + ", got " + lanes);
        this.blas = CpuBlas.process();
        this.threads = fixProcessThreads(blas, threads);
        int count = lanes > 0 ? lanes : processLanes();
        this.pointwise = new CpuPointwise[count];
        this.gated = new CpuGatedPointwise[count];
        for (int lane = 0; lane < count; lane++) {
            pointwise[lane] = new CpuPointwise(blas.vectorMath(), lane, CpuPointwise.BLOCK_BYTES);
            gated[lane] = new CpuGatedPointwise(CpuPointwise.BLOCK_BYTES);
        }
        this.team = new LaneTeam(count);
        this.splitsByLanes = count > 1;
    }

    private static synchronized int processLanes() {
        return processLanes;
    }

    private static synchronized int fixProcessThreads(CpuBlas blas, int requested) {
        if (processThreads == 0) {
            // With a BLAS that may run sequentially under several callers, the backend splits the
            // work itself (lanes) and the BLAS runs on one thread, so that no BLAS thread team
            // spins on the cores the other lanes need.
            processLanes = blas.runsInLanes() ? Math.min(MAX_LANES, lanesSetting(requested)) : 1;
            blas.setThreads(processLanes > 1 ? 1 : requested);
            processThreads = requested;
        } else if (requested != processThreads && !mismatchReported) {
            mismatchReported = true;
            System.err.println("bptt4j: " + blas.name() + " already runs " + processThreads + " thread(s) in this process (set by the first"
                    + " CPU backend); a backend asking for " + requested + " uses " + processThreads + " as well");
        }
        return processThreads;
    }

    /** Lanes from {@code bptt4j.lanes} or {@code BPTT4J_LANES}, else one per thread. */
    static int lanesSetting(int threads) {
        String v = System.getProperty("bptt4j.lanes", System.getenv("BPTT4J_LANES"));
        if (v == null || v.isBlank()) return threads;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1 && n <= MAX_LANES) return n;
        } catch (NumberFormatException ignored) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("bptt4j.lanes / BPTT4J_LANES: expected an integer from 1 to " + MAX_LANES + ", got '" + v + "'");
    }

    /** Threads from the {@code bptt4j.threads} system property or {@code BPTT4J_THREADS}, else all cores. */
    public CpuBackend() {
        this(defaultThreads());
    }

    public static int defaultThreads() {
        String v = System.getProperty("bptt4j.threads", System.getenv("BPTT4J_THREADS"));
        if (v == null || v.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException ignored) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("bptt4j.threads / BPTT4J_THREADS: expected a positive integer, got '" + v + "'");
    }

    /** The BLAS thread count in effect for this (and every) CPU backend of the process. */
    public int threads() {
        return threads;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return "cpu: " + blas.config() + " (" + blas.reason() + "), " + threads + " thread(s)"
                + (splitsByLanes ? " as " + team.size() + " lanes over a sequential BLAS" : "");
    }

    /** The lanes this backend splits into (1: none, the BLAS's own threading). */
    public int laneCount() {
        return team.size();
    }

    /**
     * One line when a setting keeps the BLAS off this CPU's fastest kernels (a user-set
     * {@code OPENBLAS_CORETYPE} without AVX-512 on a CPU that has it), else null.
     */
    @Override
    public String notice() {
        return blas.notice();
    }

    /** The native BLAS in use: "mkl" or "openblas" (see {@link CpuBlas}). */
    public String blas() {
        return blas.name();
    }

    @Override
    public DeviceBuffer allocate(DType dtype, long elements) {
        checkOpen();
        if (elements < 0) throw new IllegalArgumentException("elements: expected >= 0, got " + elements);
        CpuBuffer b = new CpuBuffer(dtype, elements, released);
        live.incrementAndGet();
        return b;
    }

    @Override
    public long liveBuffers() {
        return live.get();
    }

    static CpuBuffer cpu(DeviceBuffer b) {
        if (!(b instanceof CpuBuffer)) throw new IllegalArgumentException("buffer does not belong to the CPU backend: " + b);
        CpuBuffer c = (CpuBuffer) b;
        c.checkOpen();
        return c;
    }

    @Override
    public void upload(Tensor source, DeviceSlice target) {
        checkOpen();
        CpuBuffer t = cpu(target.buffer());
        long targetOffset = target.offset();
        if (source.dtype() != t.dtype) throw new IllegalArgumentException("upload: tensor is " + source.dtype() + ", buffer is " + t.dtype);
        checkRange("upload", t, targetOffset, source.size());
        int off = (int) targetOffset;
        copyInParts(source.size(), 1, (first, end) -> {
            switch (t.dtype) {
                case F32: t.floats.put(off + first, source.f32(), first, end - first); break;
                case F64: t.doubles.put(off + first, source.f64(), first, end - first); break;
                case I32: t.ints.put(off + first, source.i32(), first, end - first); break;
                default: throw new AssertionError(t.dtype);
            }
        });
    }

    /** A copy between the heap and a buffer of units (elements or rows) [first, end). */
    @FunctionalInterface
    private interface RangeCopy {
        void copy(int first, int end);
    }

    /**
     * Below this many elements a host copy stays on one lane (a handoff costs ~10 µs, 1 MB copies
     * in ~90); a split copy has parts of at least half of it.
     */
    static final long MIN_SPLIT_COPY = 1L << 18;

    /**
     * A large copy between heap arrays and a buffer, of {@code elements / unit} units of
     * {@code unit} elements, in parts on the lanes when the backend splits by lanes: one
     * core copies 26 MB in 2.3-2.5 ms here, two in 1.1-1.2 ms. The host-array training step gains
     * that on x, dy, y and dL/dx: `bptt4j bench --reuse-results`, alternating, 50×256×512×512
     * 152.7, 151.8 → 144.3, 145.4 ms; 100×64×256×256 23.1-23.5 → 20.9-22.5 ms. Absolute bulk
     * copies share no buffer state, and the parts touch disjoint elements, so they need no lock.
     */
    private void copyInParts(long elements, int unit, RangeCopy copy) {
        int units = (int) (elements / Math.max(1, unit));
        if (!splitsByLanes || inLanes || team.isWorkerThread() || elements < MIN_SPLIT_COPY || units < 2) {
            copy.copy(0, units);
            return;
        }
        int parts = (int) Math.min(Math.min(team.size(), units), elements / (MIN_SPLIT_COPY / 2));
        runInLanes(parts, lane -> copy.copy(part(units, parts, lane), part(units, parts, lane + 1)));
        splitCopies++;
    }

    /** The first of part {@code i}'s units when {@code total} are cut into {@code parts} contiguous parts. */
    private static int part(int total, int parts, int i) {
        return (int) ((long) total * i / parts);
    }

    @Override
    public void downloadInto(DeviceSlice source, Tensor out) {
        checkOpen();
        CpuBuffer s = cpu(source.buffer());
        long sourceOffset = source.offset();
        if (out.dtype() != s.dtype) throw new IllegalArgumentException("download: buffer is " + s.dtype + ", tensor is " + out.dtype());
        checkRange("download", s, sourceOffset, out.size());
        int off = (int) sourceOffset;
        copyInParts(out.size(), 1, (first, end) -> {
            switch (s.dtype) {
                case F32: s.floats.get(off + first, out.f32(), first, end - first); break;
                case F64: s.doubles.get(off + first, out.f64(), first, end - first); break;
                case I32: s.ints.get(off + first, out.i32(), first, end - first); break;
                default: throw new AssertionError(s.dtype);
            }
        });
    }

    @Override
    public void uploadRows(DeviceSlice dst, Tensor source, int sourceStride, int sourceColumn, int[] rows, int count, int width) {
        checkOpen();
        CpuBuffer d = cpu(dst.buffer());
        long dstOffset = dst.offset();
        HostRows.checkTensorRows("uploadRows", source, sourceStride, sourceColumn, rows, count, width);
        if (source.dtype() != d.dtype) throw new IllegalArgumentException("uploadRows: tensor is " + source.dtype() + ", buffer is " + d.dtype);
        checkRange("uploadRows", d, dstOffset, (long) count * width);
        copyInParts((long) count * width, width, (first, end) ->
                pointwise[lane()].uploadRows(d, (int) dstOffset, source, sourceStride, sourceColumn, rows, first, end, width));
    }

    @Override
    public void downloadRows(Tensor target, int targetStride, int targetColumn, DeviceSlice src, int[] rows, int count, int width) {
        checkOpen();
        CpuBuffer s = cpu(src.buffer());
        long srcOffset = src.offset();
        HostRows.checkTarget("downloadRows", target, targetStride, targetColumn, rows, count, width);
        if (target.dtype() != s.dtype) throw new IllegalArgumentException("downloadRows: buffer is " + s.dtype + ", tensor is " + target.dtype());
        checkRange("downloadRows", s, srcOffset, (long) (HostRows.maxRow(rows, count) + 1) * width);
        copyInParts((long) count * width, width, (first, end) ->
                pointwise[lane()].downloadRows(target, targetStride, targetColumn, s, (int) srcOffset, rows, first, end, width));
    }

    @Override
    public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, double alpha,
                     DeviceSlice a, int lda, DeviceSlice b, int ldb, double beta, DeviceSlice c, int ldc) {
        checkOpen();
        if (m == 0 || n == 0) return;
        CpuBuffer ca = cpu(a.buffer()), cb = cpu(b.buffer()), cc = cpu(c.buffer());
        long aOffset = a.offset(), bOffset = b.offset(), cOffset = c.offset();
        if (ca.dtype != cc.dtype || cb.dtype != cc.dtype) {
            throw new IllegalArgumentException("gemm: operand dtypes differ: " + ca.dtype + ", " + cb.dtype + ", " + cc.dtype);
        }
        checkMatrix("gemm A", ca, aOffset, transposeA ? k : m, transposeA ? m : k, lda);
        checkMatrix("gemm B", cb, bOffset, transposeB ? n : k, transposeB ? k : n, ldb);
        checkMatrix("gemm C", cc, cOffset, m, n, ldc);
        if (k == 0) {
            // BLAS leaves C untouched for k = 0 only with beta = 1; make beta's meaning explicit.
            scale(cc, cOffset, m, n, ldc, beta);
            return;
        }
        double flop = 2.0 * m * n * k;
        if (splitsByLanes && !inLanes && !team.isWorkerThread() && flop >= MIN_SPLIT_FLOP) {
            // Parts of at least half of MIN_SPLIT_FLOP each, so two lanes split exactly as before.
            int parts = (int) Math.min(team.size(), Math.min(Math.max(m, n), flop / (MIN_SPLIT_FLOP / 2)));
            if (parts > 1) {
                gemmSplit.run(parts, transposeA, transposeB, m, n, k, alpha, ca, aOffset, lda, cb, bOffset, ldb, beta, cc, cOffset, ldc);
                return;
            }
        }
        gemmOnCaller(transposeA, transposeB, m, n, k, alpha, ca, aOffset, lda, cb, bOffset, ldb, beta, cc, cOffset, ldc);
    }

    /** Below this a GEMM runs on one lane: the handoff would cost more than a second core gains. */
    static final double MIN_SPLIT_FLOP = 1 << 20;

    /** One GEMM, unchecked, on the calling thread's BLAS (single-threaded per lane when splitting by lanes). */
    private void gemmOnCaller(boolean transposeA, boolean transposeB, int m, int n, int k, double alpha,
                              CpuBuffer ca, long aOffset, int lda, CpuBuffer cb, long bOffset, int ldb,
                              double beta, CpuBuffer cc, long cOffset, int ldc) {
        int lane = lane();
        if (cc.dtype == DType.F32) {
            blas.sgemm(transposeA, transposeB, m, n, k, (float) alpha,
                    (org.bytedeco.javacpp.FloatPointer) ca.views(lane).a.position(aOffset), lda,
                    (org.bytedeco.javacpp.FloatPointer) cb.views(lane).b.position(bOffset), ldb, (float) beta,
                    (org.bytedeco.javacpp.FloatPointer) cc.views(lane).c.position(cOffset), ldc);
        } else {
            blas.dgemm(transposeA, transposeB, m, n, k, alpha,
                    (org.bytedeco.javacpp.DoublePointer) ca.views(lane).a.position(aOffset), lda,
                    (org.bytedeco.javacpp.DoublePointer) cb.views(lane).b.position(bOffset), ldb, beta,
                    (org.bytedeco.javacpp.DoublePointer) cc.views(lane).c.position(cOffset), ldc);
        }
    }

    /**
     * MKL's packed form of the recurrent weight (when MKL is the BLAS): packing op(B) once per
     * pass instead of inside each of the T per-step GEMMs measured 36 → 33 µs per 64×256×256
     * step. Packing memory is kept in {@link #packMemory} and reused by the next pass.
     */
    @Override
    public PackedOperand packRightOperand(boolean transposeB, int m, int n, int k, DeviceSlice b, int ldb) {
        checkOpen();
        CpuBuffer cb = cpu(b.buffer());
        long bOffset = b.offset();
        checkMatrix("packRightOperand B", cb, bOffset, transposeB ? n : k, transposeB ? k : n, ldb);
        if (m < 1 || n < 1 || k < 1 || !cb.dtype.isFloatingPoint()) return null;
        boolean f32 = cb.dtype == DType.F32;
        long bytes = blas.packedSize(f32, m, n, k);
        if (bytes <= 0) return null;
        CpuPacked packed = new CpuPacked(m, n, k, f32, packMemory.take(bytes, f32));
        blas.pack(f32, transposeB, m, n, k, cb.views(lane()).b.position(bOffset), ldb, packed.memory);
        return packed;
    }

    @Override
    public void gemmPacked(DeviceSlice as, int lda, PackedOperand b, double beta, DeviceSlice cs, int ldc) {
        checkOpen();
        DeviceBuffer a = as.buffer(), c = cs.buffer();
        long aOffset = as.offset(), cOffset = cs.offset();
        if (!(b instanceof CpuPacked)) throw new IllegalArgumentException("gemmPacked: operand was not packed by a CPU backend: " + b);
        CpuPacked p = (CpuPacked) b;
        p.checkOpen();
        CpuBuffer ca = cpu(a), cc = cpu(c);
        DType want = p.f32 ? DType.F32 : DType.F64;
        if (ca.dtype != want || cc.dtype != want) {
            throw new IllegalArgumentException("gemmPacked: operand dtypes differ: " + ca.dtype + ", packed " + want + ", " + cc.dtype);
        }
        checkMatrix("gemmPacked A", ca, aOffset, p.rows(), p.depth(), lda);
        checkMatrix("gemmPacked C", cc, cOffset, p.rows(), p.columns(), ldc);
        int lane = lane();
        blas.gemmPacked(p.f32, p.rows(), p.columns(), p.depth(), ca.views(lane).a.position(aOffset), lda, p.memory, beta,
                cc.views(lane).c.position(cOffset), ldc);
    }

    /** A packed operand; its memory goes back to {@link #packMemory} on close. */
    private final class CpuPacked implements PackedOperand {
        private final int m, n, k;
        final boolean f32;
        final org.bytedeco.javacpp.Pointer memory;
        private boolean closed;

        CpuPacked(int m, int n, int k, boolean f32, org.bytedeco.javacpp.Pointer memory) {
            this.m = m;
            this.n = n;
            this.k = k;
            this.f32 = f32;
            this.memory = memory;
        }

        @Override public int rows() { return m; }
        @Override public int columns() { return n; }
        @Override public int depth() { return k; }

        void checkOpen() {
            if (closed) throw new IllegalStateException("packed operand used after close");
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            packMemory.give(memory);
        }
    }

    /**
     * Native memory for packed operands, from the BLAS's aligned allocator, reused pass after
     * pass and freed when the backend closes. A request no free block can hold frees the free
     * blocks before allocating, so a backend whose shapes change holds no more than its largest
     * packed operand (one is open at a time in a pass) plus nothing stale.
     */
    private final class PackMemory {
        private final java.util.List<org.bytedeco.javacpp.Pointer> free = new java.util.ArrayList<>();
        private final java.util.List<org.bytedeco.javacpp.Pointer> all = new java.util.ArrayList<>();
        private final java.util.Map<org.bytedeco.javacpp.Pointer, org.bytedeco.javacpp.Pointer> rawOf = new java.util.IdentityHashMap<>();

        org.bytedeco.javacpp.Pointer take(long bytes, boolean f32) {
            for (int i = 0; i < free.size(); i++) {
                org.bytedeco.javacpp.Pointer p = free.get(i);
                if (p.capacity() * p.sizeof() >= bytes && (p instanceof org.bytedeco.javacpp.FloatPointer) == f32) return free.remove(i);
            }
            freeAll();
            org.bytedeco.javacpp.Pointer raw = blas.allocatePacked(bytes);
            org.bytedeco.javacpp.Pointer typed = f32
                    ? new org.bytedeco.javacpp.FloatPointer(raw).capacity(bytes / Float.BYTES)
                    : new org.bytedeco.javacpp.DoublePointer(raw).capacity(bytes / Double.BYTES);
            rawOf.put(typed, raw);
            all.add(typed);
            return typed;
        }

        void give(org.bytedeco.javacpp.Pointer p) {
            if (closed) {
                blas.freePacked(rawOf.remove(p));
                all.remove(p);
            } else {
                free.add(p);
            }
        }

        void freeAll() {
            for (org.bytedeco.javacpp.Pointer p : free) {
                blas.freePacked(rawOf.remove(p));
                all.remove(p);
            }
            free.clear();
        }

        int blocks() {
            return all.size();
        }
    }

    private final PackMemory packMemory = new PackMemory();

    /** Native blocks held for packed operands (in use or kept for reuse); 0 after close. */
    public int packedBlocks() {
        return packMemory.blocks();
    }

    private static void scale(CpuBuffer c, long offset, int m, int n, int ldc, double beta) {
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < n; j++) {
                int i = (int) (offset + (long) r * ldc + j);
                if (c.dtype == DType.F32) c.floats.put(i, beta == 0 ? 0f : (float) (beta * c.floats.get(i)));
                else c.doubles.put(i, beta == 0 ? 0.0 : beta * c.doubles.get(i));
            }
        }
    }

    private final KernelTrainingOps trainingOps = new KernelTrainingOps(this);

    /** The training ops as kernels ({@link CpuTraining}) run in place over the off-heap buffers. */
    @Override
    public TrainingOps training() {
        return trainingOps;
    }

    /** Runs a kernel's CPU twin ({@link CpuKernels}) on the calling lane's scratch, after the spec's checks. */
    @Override
    public void launch(KernelArgs args) {
        checkOpen();
        args.check();
        CpuKernels.CpuKernel kernel = CpuKernels.BY_NAME.get(args.spec().name());
        if (kernel == null) throw new UnsupportedOperationException("the cpu backend has no implementation of kernel " + args.spec().name());
        int lane = lane();
        kernel.run(args, pointwise[lane], gated[lane], training);
    }

    @Override
    public long countNonFinite(DeviceSlice slice, long count) {
        checkOpen();
        CpuBuffer b = cpu(slice.buffer());
        checkRange("countNonFinite", b, slice.offset(), count);
        int from = (int) slice.offset(), to = (int) (slice.offset() + count);
        long n = 0;
        switch (b.dtype) {
            case F32: for (int i = from; i < to; i++) if (!Float.isFinite(b.floats.get(i))) n++; break;
            case F64: for (int i = from; i < to; i++) if (!Double.isFinite(b.doubles.get(i))) n++; break;
            default: throw new IllegalArgumentException("countNonFinite: expected an F32 or F64 buffer, got " + b.dtype);
        }
        return n;
    }

    @Override
    public long maxBufferElements() {
        return CpuBuffer.MAX_ELEMENTS;
    }

    /**
     * Buffers are JavaCPP memory, which JavaCPP caps at {@code maxBytes} in all (by default the JVM's
     * -Xmx) and at {@code maxPhysicalBytes} of the process's resident memory (4 × that); and the
     * machine's free memory bounds both.
     */
    @Override
    public long availableBytes() {
        checkOpen();
        long available = Long.MAX_VALUE;
        long free = org.bytedeco.javacpp.Pointer.availablePhysicalBytes(); // 0 when unknown
        if (free > 0) available = free;
        long max = org.bytedeco.javacpp.Pointer.maxBytes();
        if (max > 0) available = Math.min(available, max - org.bytedeco.javacpp.Pointer.totalBytes());
        long maxPhysical = org.bytedeco.javacpp.Pointer.maxPhysicalBytes();
        if (maxPhysical > 0) available = Math.min(available, maxPhysical - org.bytedeco.javacpp.Pointer.physicalBytes());
        return Math.max(0, available);
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the cpu backend has been closed");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        team.close();
        packMemory.freeAll();
        if (kSplitPartial != null) kSplitPartial.close();
        if (kSplitOne != null) kSplitOne.close();
        kSplitPartial = kSplitOne = null;
    }

    /** The lane the calling thread runs: its worker's, else 0. */
    private int lane() {
        return team.laneOfCurrentThread();
    }

    /**
     * Elements (rows × gate width) each lane of a split time loop must have: below this a step's
     * work is too small to share. 16 rows of 128 (200×32×128×128) measured 10.7 against 12.8 ms
     * per training step split against whole.
     */
    static final int MIN_LANE_ELEMENTS = 1024;

    /**
     * As many lanes as the backend has, fewer when a lane's share of the rows would be too small to
     * be worth a handoff: each lane then runs its rows of the batch through the whole time loop
     * with its own single-threaded GEMMs and pointwise passes, so every core does pointwise work and
     * no step waits for another lane.
     */
    @Override
    public int lanes(int rows, int width) {
        int lanes = team.size();
        while (lanes > 1 && (long) (rows / lanes) * width < MIN_LANE_ELEMENTS) lanes--;
        return lanes;
    }

    @Override
    public void runLanes(int count, java.util.function.IntConsumer lane) {
        if (count == 1) {
            lane.accept(0);
            return;
        }
        if (count < 1 || count > team.size() || team.isWorkerThread() || inLanes) {
            throw new IllegalArgumentException("runLanes: expected 1 to " + team.size()
                    + " lanes from the caller's thread, outside another runLanes; got " + count);
        }
        runInLanes(count, lane);
        splitLoops++;
    }

    /** Runs lanes [0, count): 0 here, the others on their workers; GEMMs inside any stay whole. */
    private void runInLanes(int count, java.util.function.IntConsumer task) {
        inLanes = true;
        try {
            team.run(count, task);
        } finally {
            inLanes = false;
        }
    }

    private long splitLoops, splitGemms, splitCopies, kSplitGemms;

    /** Time loops run as lanes, and GEMMs and host copies split between them, since this backend was made (for tests and reports). */
    long splitLoops() {
        return splitLoops;
    }

    long splitGemms() {
        return splitGemms;
    }

    long splitCopies() {
        return splitCopies;
    }

    /** Of the split GEMMs, those split along K (float64 weight gradients). */
    long kSplitGemms() {
        return kSplitGemms;
    }

    private final GemmSplit gemmSplit = new GemmSplit();

    /**
     * Partial products of lanes 1 to n-1 of a GEMM split along K (float64 only), one m·n block per
     * lane, grow-only; and a 1 to add them with.
     */
    private CpuBuffer kSplitPartial, kSplitOne;

    /** A K split holds this many partial elements at most (64 MB); beyond, the GEMM splits its output. */
    static final long MAX_K_SPLIT_PARTIAL = 1L << 23;

    private CpuBuffer kSplitPartial(long elements) {
        if (kSplitPartial == null || kSplitPartial.elements < elements) {
            if (kSplitPartial != null) kSplitPartial.close();
            kSplitPartial = new CpuBuffer(DType.F64, elements, () -> { });
        }
        if (kSplitOne == null) {
            kSplitOne = new CpuBuffer(DType.F64, 1, () -> { });
            kSplitOne.doubles.put(0, 1.0);
        }
        return kSplitPartial;
    }

    /**
     * A GEMM split between lanes: by rows of C when it has at least as many rows as columns, else
     * by columns, or (float64 weight gradients) along K. One reused instance, so a split GEMM
     * allocates nothing once its partial buffer has grown.
     */
    private final class GemmSplit implements java.util.function.IntConsumer {
        private boolean ta, tb, byRows, byK;
        private int parts, m, n, k, lda, ldb, ldc;
        private double alpha, beta;
        private CpuBuffer a, b, c;
        private long aOffset, bOffset, cOffset;

        void run(int parts, boolean ta, boolean tb, int m, int n, int k, double alpha, CpuBuffer a, long aOffset, int lda,
                 CpuBuffer b, long bOffset, int ldb, double beta, CpuBuffer c, long cOffset, int ldc) {
            this.parts = parts;
            this.ta = ta;
            this.tb = tb;
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.a = a;
            this.aOffset = aOffset;
            this.lda = lda;
            this.b = b;
            this.bOffset = bOffset;
            this.ldb = ldb;
            this.beta = beta;
            this.c = c;
            this.cOffset = cOffset;
            this.ldc = ldc;
            this.byRows = m >= n;
            // A weight gradient (Aᵀ·B over the T·B rows) in float64: each lane forms the product of
            // its share of the rows and the partial products are added, instead of each lane reading
            // all of B for its share of the output. Measured at two lanes, 512×512×12800 alone: float64
            // 44.2-44.4 against 45.9-46.9 ms; float32 no different (21.0-23.5 against 20.7-23.2 ms), so
            // float32 keeps the output split. In the float64 training step (timing decorator,
            // alternating): 20×1024³ 554, 517 → 507, 485 ms per step for both products;
            // 50×256×512×512 92.4 → 89.6 ms (means of 5 pairs).
            this.byK = ta && !tb && c.dtype == DType.F64 && ldc == n && k >= 8L * Math.max(m, n)
                    && (long) (parts - 1) * m * n <= Math.min(MAX_K_SPLIT_PARTIAL, CpuBuffer.MAX_ELEMENTS);
            try {
                if (byK) kSplitPartial((long) (parts - 1) * m * n);
                runInLanes(parts, this);
                if (byK) {
                    // C += each partial in lane order (a fixed grouping: the result does not depend on
                    // which lane finished first), as 1 × (m·n) products with a 1×1 one (C is dense: ldc == n).
                    for (int lane = 1; lane < parts; lane++) {
                        gemmOnCaller(false, false, 1, m * n, 1, 1.0, kSplitOne, 0, 1, kSplitPartial, (long) (lane - 1) * m * n, m * n,
                                1.0, c, cOffset, m * n);
                    }
                    kSplitGemms++;
                }
                splitGemms++;
            } finally {
                this.a = this.b = this.c = null;
            }
        }

        @Override
        public void accept(int lane) {
            if (byK) {
                int lo = part(k, parts, lane), hi = part(k, parts, lane + 1);
                if (lane == 0) {
                    gemmOnCaller(true, false, m, n, hi, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
                } else {
                    gemmOnCaller(true, false, m, n, hi - lo, alpha, a, aOffset + (long) lo * lda, lda,
                            b, bOffset + (long) lo * ldb, ldb, 0.0, kSplitPartial, (long) (lane - 1) * m * n, n);
                }
                return;
            }
            int total = byRows ? m : n, lo = part(total, parts, lane), hi = part(total, parts, lane + 1);
            if (hi == lo) return;
            if (byRows) {
                gemmOnCaller(ta, tb, hi - lo, n, k, alpha, a, aOffset + (ta ? lo : (long) lo * lda), lda, b, bOffset, ldb,
                        beta, c, cOffset + (long) lo * ldc, ldc);
            } else {
                gemmOnCaller(ta, tb, m, hi - lo, k, alpha, a, aOffset, lda, b, bOffset + (tb ? (long) lo * ldb : lo), ldb,
                        beta, c, cOffset + lo, ldc);
            }
        }
    }

    @Override
    public boolean isClosed() {
        return closed;
    }
}
