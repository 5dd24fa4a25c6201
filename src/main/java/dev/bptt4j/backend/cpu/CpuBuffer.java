package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.tensor.DType;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;

/**
 * Off-heap memory for the CPU backend. The BLAS reads it in place; Java kernels reach it through
 * NIO views with bulk copies. Three non-owning pointer views let one buffer be several GEMM
 * operands at different offsets without allocating per call; each lane of the backend
 * ({@link CpuBackend#runLanes}) has its own set, since a call positions them.
 */
final class CpuBuffer implements DeviceBuffer {
    /** NIO views and the Java kernels index with ints. */
    static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    final DType dtype;
    final long elements;
    private final Pointer memory;
    final FloatBuffer floats;
    final DoubleBuffer doubles;
    final IntBuffer ints;
    /** Per lane: GEMM operand views A, B, C. */
    final Pointer[] operandA = new Pointer[CpuBackend.MAX_LANES], operandB = new Pointer[CpuBackend.MAX_LANES],
            operandC = new Pointer[CpuBackend.MAX_LANES];
    /** Per lane: a fourth view, for the native vector-math calls of the pointwise kernels. */
    final Pointer[] vector = new Pointer[CpuBackend.MAX_LANES];
    private final Runnable onClose;
    private boolean closed;

    CpuBuffer(DType dtype, long elements, Runnable onClose) {
        if (elements > MAX_ELEMENTS) {
            throw new IllegalArgumentException("CPU buffer of " + elements + " " + dtype
                    + " elements exceeds the CPU backend's limit of " + MAX_ELEMENTS + " elements per tensor");
        }
        this.dtype = dtype;
        this.elements = elements;
        this.onClose = onClose;
        long n = Math.max(1, elements);
        switch (dtype) {
            case F32: {
                FloatPointer p = new FloatPointer(n);
                p.zero();
                memory = p;
                floats = p.asBuffer();
                doubles = null;
                ints = null;
                for (int lane = 0; lane < CpuBackend.MAX_LANES; lane++) {
                    operandA[lane] = new FloatPointer(p);
                    operandB[lane] = new FloatPointer(p);
                    operandC[lane] = new FloatPointer(p);
                    vector[lane] = new FloatPointer(p);
                }
                break;
            }
            case F64: {
                DoublePointer p = new DoublePointer(n);
                p.zero();
                memory = p;
                floats = null;
                doubles = p.asBuffer();
                ints = null;
                for (int lane = 0; lane < CpuBackend.MAX_LANES; lane++) {
                    operandA[lane] = new DoublePointer(p);
                    operandB[lane] = new DoublePointer(p);
                    operandC[lane] = new DoublePointer(p);
                    vector[lane] = new DoublePointer(p);
                }
                break;
            }
            case I32: {
                IntPointer p = new IntPointer(n);
                p.zero();
                memory = p;
                floats = null;
                doubles = null;
                ints = p.asBuffer();
                break;
            }
            default:
                throw new IllegalArgumentException("dtype: the CPU backend holds F32, F64 and I32 buffers, not " + dtype);
        }
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
        return closed;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("buffer of " + elements + " " + dtype + " used after close");
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        memory.close();
        onClose.run();
    }
}
