package dev.bptt4j.tensor;

import java.util.Arrays;

/**
 * A dense, row-major host tensor: a shape and one primitive array (float[] for F32, double[] for
 * F64, long[] for I64, int[] for I32). Element counts are checked as longs so that a shape whose
 * product overflows an int is rejected with a message instead of wrapping.
 */
public final class Tensor {
    private final DType dtype;
    private final int[] shape;
    private final Object data;

    private Tensor(DType dtype, int[] shape, Object data) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
    }

    /** Number of elements of {@code shape}, as a long; rejects negative dimensions. */
    public static long elementCount(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
            n = Math.multiplyExact(n, (long) d);
        }
        return n;
    }

    private static int checkedCount(String what, int... shape) {
        long n = elementCount(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + ": shape " + Arrays.toString(shape) + " has " + n
                    + " elements, more than a Java array can hold (" + (Integer.MAX_VALUE - 8) + ")");
        }
        return (int) n;
    }

    /** Entries [from, to) along dim 0 (time, for a time-major tensor): a copy, as the layout is contiguous. */
    public Tensor slice(int from, int to) {
        if (from < 0 || to > shape[0] || from > to) throw new IllegalArgumentException("slice [" + from + ", " + to + ") of dim 0 of " + shape[0]);
        int[] out = shape.clone();
        int per = shape[0] == 0 ? 0 : size() / shape[0];
        out[0] = to - from;
        Tensor t = zeros(dtype, out);
        copy(this, (long) from * per, t, 0, (long) (to - from) * per);
        return t;
    }

    /** A copy with dims 0 and 1 swapped: (T, B, ...) to (B, T, ...) and back. */
    public Tensor swapLeadingDims() {
        if (rank() < 2) throw new IllegalArgumentException("swapLeadingDims: expected rank >= 2, got shape " + java.util.Arrays.toString(shape));
        int first = shape[0], second = shape[1];
        int row = first == 0 || second == 0 ? 0 : size() / (first * second);
        int[] out = shape.clone();
        out[0] = second;
        out[1] = first;
        Tensor t = zeros(dtype, out);
        for (int i = 0; i < first; i++) {
            for (int j = 0; j < second; j++) copy(this, ((long) i * second + j) * row, t, ((long) j * first + i) * row, row);
        }
        return t;
    }

    /** Copies {@code count} elements from {@code src} at {@code srcOffset} to {@code dst} at {@code dstOffset}; both of one dtype. */
    public static void copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count) {
        if (src.dtype != dst.dtype) throw new IllegalArgumentException("copy: " + src.dtype + " into " + dst.dtype);
        System.arraycopy(src.data, Math.toIntExact(srcOffset), dst.data, Math.toIntExact(dstOffset), Math.toIntExact(count));
    }

    public static Tensor zeros(DType dtype, int... shape) {
        int n = checkedCount("zeros", shape);
        switch (dtype) {
            case F32: return new Tensor(dtype, shape, new float[n]);
            case F64: return new Tensor(dtype, shape, new double[n]);
            case I64: return new Tensor(dtype, shape, new long[n]);
            case I32: return new Tensor(dtype, shape, new int[n]);
            default: throw new AssertionError(dtype);
        }
    }

    public static Tensor of(float[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(DType.F32, shape, data);
    }

    public static Tensor of(double[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(DType.F64, shape, data);
    }

    public static Tensor of(long[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(DType.I64, shape, data);
    }

    public static Tensor ofInts(int[] data, int... shape) {
        checkLength(data.length, shape);
        return new Tensor(DType.I32, shape, data);
    }

    private static void checkLength(int length, int[] shape) {
        long n = elementCount(shape);
        if (n != length) {
            throw new IllegalArgumentException("data has " + length + " elements but shape "
                    + Arrays.toString(shape) + " needs " + n);
        }
    }

    public DType dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i];
    }

    public int size() {
        switch (dtype) {
            case F32: return ((float[]) data).length;
            case F64: return ((double[]) data).length;
            case I64: return ((long[]) data).length;
            case I32: return ((int[]) data).length;
            default: throw new AssertionError(dtype);
        }
    }

    public float[] f32() {
        requireDType(DType.F32);
        return (float[]) data;
    }

    public double[] f64() {
        requireDType(DType.F64);
        return (double[]) data;
    }

    public long[] i64() {
        requireDType(DType.I64);
        return (long[]) data;
    }

    public int[] i32() {
        requireDType(DType.I32);
        return (int[]) data;
    }

    private void requireDType(DType expected) {
        if (dtype != expected) throw new IllegalStateException("tensor is " + dtype + ", not " + expected);
    }

    public double getDouble(int flatIndex) {
        switch (dtype) {
            case F32: return ((float[]) data)[flatIndex];
            case F64: return ((double[]) data)[flatIndex];
            case I64: return ((long[]) data)[flatIndex];
            case I32: return ((int[]) data)[flatIndex];
            default: throw new AssertionError(dtype);
        }
    }

    public void setDouble(int flatIndex, double value) {
        switch (dtype) {
            case F32: ((float[]) data)[flatIndex] = (float) value; break;
            case F64: ((double[]) data)[flatIndex] = value; break;
            case I64: ((long[]) data)[flatIndex] = (long) value; break;
            case I32: ((int[]) data)[flatIndex] = (int) value; break;
            default: throw new AssertionError(dtype);
        }
    }

    /** All elements widened to double (a copy). */
    public double[] toDoubleArray() {
        double[] out = new double[size()];
        for (int i = 0; i < out.length; i++) out[i] = getDouble(i);
        return out;
    }

    /** A copy converted to {@code target} (floating-point types only round; integers truncate). */
    public Tensor to(DType target) {
        if (target == dtype) return copy();
        Tensor out = zeros(target, shape);
        for (int i = 0; i < size(); i++) out.setDouble(i, getDouble(i));
        return out;
    }

    public Tensor copy() {
        switch (dtype) {
            case F32: return new Tensor(dtype, shape, ((float[]) data).clone());
            case F64: return new Tensor(dtype, shape, ((double[]) data).clone());
            case I64: return new Tensor(dtype, shape, ((long[]) data).clone());
            case I32: return new Tensor(dtype, shape, ((int[]) data).clone());
            default: throw new AssertionError(dtype);
        }
    }

    /** The same elements under another shape with the same element count. */
    public Tensor reshape(int... newShape) {
        if (elementCount(newShape) != size()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new Tensor(dtype, newShape, data);
    }

    /** Frobenius norm computed in double. */
    public double norm() {
        double s = 0;
        for (int i = 0; i < size(); i++) {
            double v = getDouble(i);
            s += v * v;
        }
        return Math.sqrt(s);
    }

    /** ‖this − expected‖ / ‖expected‖ in double; the absolute difference norm when expected is zero. */
    public double relativeError(Tensor expected) {
        if (!Arrays.equals(shape, expected.shape)) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " vs expected " + Arrays.toString(expected.shape));
        }
        double diff = 0, ref = 0;
        for (int i = 0; i < size(); i++) {
            double a = getDouble(i), e = expected.getDouble(i);
            diff += (a - e) * (a - e);
            ref += e * e;
        }
        return ref == 0 ? Math.sqrt(diff) : Math.sqrt(diff / ref);
    }

    @Override
    public String toString() {
        return "Tensor(" + dtype + ", " + Arrays.toString(shape) + ")";
    }
}
