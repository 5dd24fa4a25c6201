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
 * NIO views with bulk copies. Non-owning pointer views let one buffer be several GEMM operands at
 * different offsets without allocating per call; each lane of the backend
 * ({@link CpuBackend#runLanes}) has its own set, since a call positions them. A lane's set is made
 * the first time that lane uses the buffer: a backend may have up to {@link CpuBackend#MAX_LANES}
 * lanes, and most buffers are only ever touched by a few.
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
    /** Per lane, made on first use: see {@link Views}. */
    private final Views[] views = new Views[CpuBackend.MAX_LANES];
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
                break;
            }
            case F64: {
                DoublePointer p = new DoublePointer(n);
                p.zero();
                memory = p;
                floats = null;
                doubles = p.asBuffer();
                ints = null;
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

    /**
     * One lane's views of a floating-point buffer: GEMM operands A, B and C, and a fourth for the
     * native vector-math calls of the pointwise kernels. Only that lane's thread touches them, and
     * the lanes' handoffs order a view's creation before any later use from another thread.
     */
    static final class Views {
        final Pointer a, b, c, vector;

        private Views(Pointer memory) {
            if (memory instanceof FloatPointer) {
                FloatPointer p = (FloatPointer) memory;
                a = new FloatPointer(p);
                b = new FloatPointer(p);
                c = new FloatPointer(p);
                vector = new FloatPointer(p);
            } else {
                DoublePointer p = (DoublePointer) memory;
                a = new DoublePointer(p);
                b = new DoublePointer(p);
                c = new DoublePointer(p);
                vector = new DoublePointer(p);
            }
        }
    }

    /** Lane {@code lane}'s views (F32 and F64 buffers). */
    Views views(int lane) {
        Views v = views[lane];
        if (v == null) {
            if (dtype != DType.F32 && dtype != DType.F64) throw new IllegalArgumentException("a " + dtype + " buffer is no GEMM operand");
            v = new Views(memory);
            views[lane] = v;
        }
        return v;
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
