package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Row gathers on host tensors, for {@link Backend#uploadRows} and {@link Backend#downloadRows}:
 * the argument checks every backend shares, and the host half of their default implementations.
 */
public final class HostRows {
    private HostRows() {
    }

    /**
     * Checks a row map against a tensor viewed as rows of {@code stride} with {@code width}
     * columns used from {@code column}: every entry is −1 or a whole row inside the tensor.
     */
    public static void checkTensorRows(String op, Tensor t, int stride, int column, int[] rows, int count, int width) {
        checkRowView(op, t, stride, column, rows, count, width);
        long available = t.size() / stride;
        for (int r = 0; r < count; r++) {
            if (rows[r] < -1 || rows[r] >= available) {
                throw new IndexOutOfBoundsException(op + ": row map entry " + r + " is " + rows[r] + ", the tensor has "
                        + available + " rows of " + stride);
            }
        }
    }

    /**
     * Checks a gather into {@code count} rows of a tensor (rows of {@code stride}, columns from
     * {@code column}) through a map of at least {@code count} entries, none below −1.
     */
    public static void checkTarget(String op, Tensor t, int stride, int column, int[] rows, int count, int width) {
        checkRowView(op, t, stride, column, rows, count, width);
        if ((long) count * stride > t.size()) {
            throw new IllegalArgumentException(op + ": " + count + " rows of " + stride + " do not fit a tensor of " + t.size() + " elements");
        }
        for (int r = 0; r < count; r++) {
            if (rows[r] < -1) throw new IndexOutOfBoundsException(op + ": row map entry " + r + " is " + rows[r]);
        }
    }

    /** The checks both directions share: map length and sizes, a float tensor, the columns inside a row. */
    private static void checkRowView(String op, Tensor t, int stride, int column, int[] rows, int count, int width) {
        checkShape(op, rows, count, width);
        if (!t.dtype().isFloatingPoint()) throw new IllegalArgumentException(op + ": expected an F32 or F64 tensor, got " + t.dtype());
        if (column < 0 || stride < column + width) {
            throw new IllegalArgumentException(op + ": columns [" + column + ", " + (column + width) + ") do not fit rows of " + stride);
        }
    }

    /** Checks the map's length and the sizes (the device side is checked by the backend). */
    public static void checkShape(String op, int[] rows, int count, int width) {
        if (count < 0 || width < 0 || rows.length < count) {
            throw new IllegalArgumentException(op + ": " + count + " rows of width " + width + " with a map of " + rows.length + " entries");
        }
    }

    /** The largest row index in the first {@code count} entries, −1 if none. */
    public static int maxRow(int[] rows, int count) {
        int max = -1;
        for (int r = 0; r < count; r++) max = Math.max(max, rows[r]);
        return max;
    }

    /**
     * {@code dst} row r (of {@code dstStride}, from {@code dstColumn}) = {@code src} row
     * {@code rows[r]} (of {@code srcStride}, from {@code srcColumn}), or zeros for −1; both tensors
     * of one floating-point dtype.
     */
    public static void gather(Tensor dst, int dstStride, int dstColumn, Tensor src, int srcStride, int srcColumn,
                              int[] rows, int count, int width) {
        if (dst.dtype() != src.dtype()) throw new IllegalArgumentException("row gather: " + src.dtype() + " into " + dst.dtype());
        boolean f32 = dst.dtype() == DType.F32;
        for (int r = 0; r < count; r++) {
            int to = r * dstStride + dstColumn;
            int row = rows[r];
            if (row < 0) {
                if (f32) Arrays.fill(dst.f32(), to, to + width, 0f);
                else Arrays.fill(dst.f64(), to, to + width, 0.0);
                continue;
            }
            int from = row * srcStride + srcColumn;
            if (f32) System.arraycopy(src.f32(), from, dst.f32(), to, width);
            else System.arraycopy(src.f64(), from, dst.f64(), to, width);
        }
    }
}
