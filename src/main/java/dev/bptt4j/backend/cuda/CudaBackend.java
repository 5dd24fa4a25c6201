package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.KernelContracts;
import dev.bptt4j.backend.ElementMath;
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
    public long liveBuffers() {
        return live.size();
    }

    private CudaBuffer cuda(DeviceBuffer b) {
        if (!(b instanceof CudaBuffer) || ((CudaBuffer) b).owner() != this) {
            throw new IllegalArgumentException("buffer does not belong to this CUDA backend: " + b);
        }
        CudaBuffer c = (CudaBuffer) b;
        if (c.freed) throw new IllegalStateException("buffer of " + c.elements + " " + c.dtype + " used after close");
        return c;
    }

    private CudaBuffer optional(DeviceBuffer b) {
        return b == null ? null : cuda(b);
    }

    @Override
    public void upload(Tensor source, DeviceBuffer target, long targetOffset) {
        CudaBuffer t = cuda(target);
        if (source.dtype() != t.dtype) throw new IllegalArgumentException("upload: tensor is " + source.dtype() + ", buffer is " + t.dtype);
        checkRange("upload", t, targetOffset, source.size());
        if (source.size() > 0) api.copyHostToDevice(t.at(targetOffset), source);
    }

    @Override
    public void downloadInto(DeviceBuffer source, long sourceOffset, Tensor out) {
        CudaBuffer s = cuda(source);
        if (out.dtype() != s.dtype) throw new IllegalArgumentException("download: buffer is " + s.dtype + ", tensor is " + out.dtype());
        checkRange("download", s, sourceOffset, out.size());
        api.synchronize();
        if (out.size() > 0) api.copyDeviceToHost(s.at(sourceOffset), out);
    }

    // ---- GEMM ----

    @Override
    public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, double alpha,
                     DeviceBuffer a, long aOffset, int lda, DeviceBuffer b, long bOffset, int ldb,
                     double beta, DeviceBuffer c, long cOffset, int ldc) {
        if (m == 0 || n == 0) return;
        CudaBuffer ca = cuda(a), cb = cuda(b), cc = cuda(c);
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

    // ---- kernels: one short launcher each, arguments in the order of the .cu signature ----

    @Override
    public void rnnForward(DeviceBuffer hiddenOut, long hiddenOutOffset, DeviceBuffer pre, long preOffset,
                           DeviceBuffer biasIh, DeviceBuffer biasHh, DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                           int rows, int hiddenSize, Activation activation, boolean residual) {
        KernelContracts.rnnForward(hiddenOut, hiddenOutOffset, pre, preOffset, biasIh, biasHh, hiddenPrev, hiddenPrevOffset, rows, hiddenSize, residual);
        CudaBuffer out = cuda(hiddenOut), in = cuda(pre), bih = optional(biasIh), bhh = optional(biasHh);
        CudaBuffer prev = residual ? cuda(hiddenPrev) : null;
        launch(CudaKernel.of("rnn_forward", out.dtype),
                pointer(out, hiddenOutOffset), pointer(in, preOffset), pointer(bih, 0), pointer(bhh, 0),
                pointer(prev, hiddenPrevOffset), rows, hiddenSize, code(activation), residual ? 1 : 0);
    }

    @Override
    public void rnnBackward(DeviceBuffer deltaInOut, long deltaOffset, DeviceBuffer hiddenGradCarry, long carryOffset,
                            DeviceBuffer hiddenStates, long hiddenOffset, DeviceBuffer outputGrad, long outputGradOffset,
                            DeviceBuffer biasIh, DeviceBuffer biasHh, int aliveRows, int slotRows, int hiddenSize,
                            Activation activation, boolean residual) {
        KernelContracts.rnnBackward(deltaInOut, deltaOffset, hiddenGradCarry, carryOffset, hiddenStates, hiddenOffset, outputGrad,
                outputGradOffset, biasIh, biasHh, aliveRows, slotRows, hiddenSize, residual);
        CudaBuffer delta = cuda(deltaInOut), carry = cuda(hiddenGradCarry), dy = cuda(outputGrad);
        // The kernel reads the hidden states only for a plain cell and the biases only for a residual one.
        CudaBuffer h = residual ? null : cuda(hiddenStates);
        CudaBuffer bih = residual ? optional(biasIh) : null, bhh = residual ? optional(biasHh) : null;
        launch(CudaKernel.of("rnn_backward", delta.dtype),
                pointer(delta, deltaOffset), pointer(carry, carryOffset), pointer(h, hiddenOffset),
                pointer(dy, outputGradOffset), pointer(bih, 0), pointer(bhh, 0),
                aliveRows, slotRows, hiddenSize, code(activation), residual ? 1 : 0);
    }

    @Override
    public void lstmForward(DeviceBuffer hiddenOut, long hiddenOutOffset, DeviceBuffer cellOut, long cellOutOffset,
                            DeviceBuffer gates, long gatesOffset, DeviceBuffer biasIh, DeviceBuffer biasHh,
                            DeviceBuffer cellPrev, long cellPrevOffset, int rows, int hiddenSize) {
        KernelContracts.lstmForward(hiddenOut, hiddenOutOffset, cellOut, cellOutOffset, gates, gatesOffset, biasIh, biasHh, cellPrev,
                cellPrevOffset, rows, hiddenSize);
        CudaBuffer h = cuda(hiddenOut), c = cuda(cellOut), g = cuda(gates), cp = cuda(cellPrev);
        CudaBuffer bih = optional(biasIh), bhh = optional(biasHh);
        launch(CudaKernel.of("lstm_forward", h.dtype),
                pointer(h, hiddenOutOffset), pointer(c, cellOutOffset), pointer(g, gatesOffset),
                pointer(bih, 0), pointer(bhh, 0), pointer(cp, cellPrevOffset), rows, hiddenSize);
    }

    @Override
    public void lstmBackward(DeviceBuffer gatesInDeltaOut, long gatesOffset, DeviceBuffer hiddenGradCarry, long hiddenCarryOffset,
                             DeviceBuffer cellGradCarry, long cellCarryOffset, DeviceBuffer cellPrev, long cellPrevOffset,
                             DeviceBuffer cell, long cellOffset, DeviceBuffer outputGrad, long outputGradOffset,
                             int aliveRows, int slotRows, int hiddenSize) {
        KernelContracts.lstmBackward(gatesInDeltaOut, gatesOffset, hiddenGradCarry, hiddenCarryOffset, cellGradCarry, cellCarryOffset,
                cellPrev, cellPrevOffset, cell, cellOffset, outputGrad, outputGradOffset, aliveRows, slotRows, hiddenSize);
        CudaBuffer g = cuda(gatesInDeltaOut), hc = cuda(hiddenGradCarry), cc = cuda(cellGradCarry), cp = cuda(cellPrev),
                c = cuda(cell), dy = cuda(outputGrad);
        launch(CudaKernel.of("lstm_backward", g.dtype),
                pointer(g, gatesOffset), pointer(hc, hiddenCarryOffset), pointer(cc, cellCarryOffset),
                pointer(cp, cellPrevOffset), pointer(c, cellOffset), pointer(dy, outputGradOffset),
                aliveRows, slotRows, hiddenSize);
    }

    @Override
    public void gruForward(DeviceBuffer hiddenOut, long hiddenOutOffset, DeviceBuffer gates, long gatesOffset,
                           DeviceBuffer hiddenGates, long hiddenGatesOffset, DeviceBuffer biasIh, DeviceBuffer biasHh,
                           DeviceBuffer hiddenPrev, long hiddenPrevOffset, int rows, int hiddenSize) {
        KernelContracts.gruForward(hiddenOut, hiddenOutOffset, gates, gatesOffset, hiddenGates, hiddenGatesOffset, biasIh, biasHh,
                hiddenPrev, hiddenPrevOffset, rows, hiddenSize);
        CudaBuffer h = cuda(hiddenOut), g = cuda(gates), gh = cuda(hiddenGates), hp = cuda(hiddenPrev);
        CudaBuffer bih = optional(biasIh), bhh = optional(biasHh);
        launch(CudaKernel.of("gru_forward", h.dtype),
                pointer(h, hiddenOutOffset), pointer(g, gatesOffset), pointer(gh, hiddenGatesOffset),
                pointer(bih, 0), pointer(bhh, 0), pointer(hp, hiddenPrevOffset), rows, hiddenSize);
    }

    @Override
    public void gruBackward(DeviceBuffer gatesInDeltaOut, long gatesOffset, DeviceBuffer hiddenGatesInDeltaOut, long hiddenGatesOffset,
                            DeviceBuffer hiddenGradCarry, long carryOffset, DeviceBuffer hiddenPrev, long hiddenPrevOffset,
                            DeviceBuffer outputGrad, long outputGradOffset, DeviceBuffer biasHh,
                            int aliveRows, int slotRows, int hiddenSize) {
        KernelContracts.gruBackward(gatesInDeltaOut, gatesOffset, hiddenGatesInDeltaOut, hiddenGatesOffset, hiddenGradCarry, carryOffset,
                hiddenPrev, hiddenPrevOffset, outputGrad, outputGradOffset, biasHh, aliveRows, slotRows, hiddenSize);
        CudaBuffer g = cuda(gatesInDeltaOut), gh = cuda(hiddenGatesInDeltaOut), carry = cuda(hiddenGradCarry),
                hp = cuda(hiddenPrev), dy = cuda(outputGrad), bhh = optional(biasHh);
        launch(CudaKernel.of("gru_backward", g.dtype),
                pointer(g, gatesOffset), pointer(gh, hiddenGatesOffset), pointer(carry, carryOffset),
                pointer(hp, hiddenPrevOffset), pointer(dy, outputGradOffset), pointer(bhh, 0),
                aliveRows, slotRows, hiddenSize);
    }

    @Override
    public void gatherRows(DeviceBuffer dst, long dstOffset, int dstStride, int dstColumn,
                           DeviceBuffer src, long srcOffset, int srcStride, int srcColumn,
                           DeviceBuffer index, long indexOffset, int rows, int width, boolean accumulate) {
        CudaBuffer d = cuda(dst), s = cuda(src), idx = cuda(index);
        if (idx.dtype != DType.I32) throw new IllegalArgumentException("gatherRows index must be I32, got " + idx.dtype);
        if (s.dtype != d.dtype) throw new IllegalArgumentException("gatherRows: dst is " + d.dtype + ", src is " + s.dtype);
        checkRange("gatherRows index", idx, indexOffset, rows);
        if (rows > 0 && width > 0) checkRange("gatherRows dst", d, dstOffset + dstColumn, (long) (rows - 1) * dstStride + width);
        // Source rows come from the index, which lives on the device: the kernel's reads are not checked here.
        launch(CudaKernel.of("gather_rows", d.dtype),
                pointer(d, dstOffset), pointer(s, srcOffset), pointer(idx, indexOffset),
                rows, width, dstStride, dstColumn, srcStride, srcColumn, accumulate ? 1 : 0);
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, double value) {
        CudaBuffer d = cuda(dst);
        checkRange("fill", d, offset, count);
        Object typedValue = d.dtype == DType.F32 ? (Object) (float) value : (Object) value;
        launch(CudaKernel.of("fill", d.dtype), pointer(d, offset), typedValue, count);
    }

    // ---- training kernels (cuda/training.cu): the same contracts as Backend's host defaults ----

    @Override
    public void softmaxCrossEntropy(DeviceBuffer logits, long logitsOffset, DeviceBuffer targets, long targetsOffset,
                                    DeviceBuffer rowLoss, long rowLossOffset, int rows, int classes, double gradScale) {
        CudaBuffer z = cuda(logits), t = cuda(targets), loss = cuda(rowLoss);
        checkFloat("softmaxCrossEntropy logits", z);
        if (loss.dtype != z.dtype) throw new IllegalArgumentException("softmaxCrossEntropy: logits are " + z.dtype + ", rowLoss is " + loss.dtype);
        if (t.dtype != DType.I32) throw new IllegalArgumentException("softmaxCrossEntropy targets must be I32, got " + t.dtype);
        if (rows < 0 || classes < 1) throw new IllegalArgumentException("softmaxCrossEntropy: " + rows + " rows of " + classes + " classes");
        checkRange("softmaxCrossEntropy logits", z, logitsOffset, (long) rows * classes);
        checkRange("softmaxCrossEntropy targets", t, targetsOffset, rows);
        checkRange("softmaxCrossEntropy rowLoss", loss, rowLossOffset, rows);
        // Targets live on the device, so a class id >= classes is not seen here: the kernel turns
        // its row into NaN (SoftmaxHead checks the ids on the host before uploading them).
        launch(CudaKernel.of("softmax_xent", z.dtype),
                pointer(z, logitsOffset), pointer(t, targetsOffset), pointer(loss, rowLossOffset), rows, classes, gradScale);
    }

    @Override
    public void sgdStep(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer momentumBuffer, long count, double lr,
                        double momentum, double dampening, double weightDecay, double l1, boolean nesterov, boolean firstStep) {
        CudaBuffer p = cuda(param), g = cuda(grad), b = momentum != 0 ? cuda(momentumBuffer) : null;
        checkFloat("sgdStep param", p);
        checkSameDType("sgdStep", p, g, b);
        checkRange("sgdStep param", p, 0, count);
        checkRange("sgdStep grad", g, 0, count);
        if (b != null) checkRange("sgdStep momentumBuffer", b, 0, count);
        launch(CudaKernel.of("sgd_step", p.dtype),
                pointer(p, 0), pointer(g, 0), pointer(b, 0), count, lr, momentum, dampening, weightDecay, l1,
                nesterov ? 1 : 0, firstStep ? 1 : 0);
    }

    @Override
    public void adamStep(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer expAvg, DeviceBuffer expAvgSq, long count,
                         double lr, double beta1, double beta2, double eps, double weightDecay, double l1, long step) {
        CudaBuffer p = cuda(param), g = cuda(grad), m = cuda(expAvg), v = cuda(expAvgSq);
        checkFloat("adamStep param", p);
        checkSameDType("adamStep", p, g, m, v);
        if (step < 1) throw new IllegalArgumentException("adamStep step: expected >= 1, got " + step);
        checkRange("adamStep param", p, 0, count);
        checkRange("adamStep grad", g, 0, count);
        checkRange("adamStep expAvg", m, 0, count);
        checkRange("adamStep expAvgSq", v, 0, count);
        // The bias corrections as TrainingKernels.adam computes them, so that f64 steps agree bit for bit.
        double biasCorrection1 = 1 - Math.pow(beta1, step);
        double biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        launch(CudaKernel.of("adam_step", p.dtype),
                pointer(p, 0), pointer(g, 0), pointer(m, 0), pointer(v, 0), count, lr, beta1, beta2, eps, weightDecay, l1,
                biasCorrection1, biasCorrection2Sqrt);
    }

    @Override
    public void sumOfSquares(DeviceBuffer x, long offset, long count, DeviceBuffer out, long outOffset) {
        CudaBuffer in = cuda(x), acc = cuda(out);
        checkFloat("sumOfSquares x", in);
        if (acc.dtype != DType.F64) throw new IllegalArgumentException("sumOfSquares out must be F64, got " + acc.dtype);
        checkRange("sumOfSquares x", in, offset, count);
        checkRange("sumOfSquares out", acc, outOffset, 1);
        launch(CudaKernel.of("sum_of_squares", in.dtype), pointer(in, offset), count, pointer(acc, outOffset));
    }

    @Override
    public void scale(DeviceBuffer x, long offset, long count, double alpha) {
        CudaBuffer b = cuda(x);
        checkFloat("scale", b);
        checkRange("scale", b, offset, count);
        launch(CudaKernel.of("scale", b.dtype), pointer(b, offset), count, alpha);
    }

    @Override
    public void clamp(DeviceBuffer x, long offset, long count, double min, double max) {
        CudaBuffer b = cuda(x);
        checkFloat("clamp", b);
        checkRange("clamp", b, offset, count);
        launch(CudaKernel.of("clamp", b.dtype), pointer(b, offset), count, min, max);
    }

    // ---- finite check (cuda/finite.cu) ----

    /** Device address of the 8-byte counter count_non_finite adds into; allocated on first use, freed by close. */
    private long nonFiniteCounter;

    /** Zeroes the counter, counts on the device and reads the one number back: one synchronisation. */
    @Override
    public long countNonFinite(DeviceBuffer buffer, long offset, long count) {
        CudaBuffer b = cuda(buffer);
        checkFloat("countNonFinite", b);
        checkRange("countNonFinite", b, offset, count);
        if (count == 0) return 0;
        if (nonFiniteCounter == 0) nonFiniteCounter = api.allocate(DType.I64, 1);
        api.memsetZero(nonFiniteCounter, DType.I64.byteSize());
        launch(CudaKernel.of("count_non_finite", b.dtype), pointer(b, offset), count, new DevicePointer(nonFiniteCounter));
        Tensor counted = Tensor.zeros(DType.I64, 1);
        api.synchronize();
        api.copyDeviceToHost(nonFiniteCounter, counted);
        return counted.i64()[0];
    }

    private static void checkFloat(String what, CudaBuffer b) {
        if (!b.dtype.isFloatingPoint()) throw new IllegalArgumentException(what + ": expected an F32 or F64 buffer, got " + b.dtype);
    }

    /** The kernel takes every tensor in one type T; absent (null) buffers are skipped. */
    private static void checkSameDType(String what, CudaBuffer first, CudaBuffer... others) {
        for (CudaBuffer o : others) {
            if (o != null && o.dtype != first.dtype) throw new IllegalArgumentException(what + ": buffers are " + first.dtype + " and " + o.dtype);
        }
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

    private static int code(Activation activation) {
        return ElementMath.checkActivation(activation.code());
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
