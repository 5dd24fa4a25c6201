package dev.bptt4j.backend;

import static dev.bptt4j.backend.KernelSpec.Element.I32;
import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * The kernels of {@code cuda/packing.cu}, which move rows between the padded (T, B, ·) layout and
 * the packed slot layout, and fill memory; and {@code cuda/finite.cu}'s count of non-finite values.
 */
public final class Packing {
    private Packing() {
    }

    /**
     * Row gather: for r in [0, rows), {@code dst[r·dstStride + dstColumn + c] (+)= src[rowIndex[r]·srcStride + srcColumn + c]}
     * for c in [0, width), or 0 (nothing, when accumulating) where {@code rowIndex[r] < 0}.
     */
    public static final KernelSpec GATHER_ROWS = KernelSpec.kernel("gather_rows", "packing")
            .pointer("dst", REAL, "(rows − 1)·dstStride + dstColumn + width",
                    a -> a.integer(3) == 0 || a.integer(4) == 0 ? 0 : (a.integer(3) - 1) * a.integer(5) + a.integer(6) + a.integer(4))
            .unboundedPointer("src", REAL) // the rows it reads come from the index, which lives on the device
            .pointer("rowIndex", I32, "rows")
            .int32("rows").int32("width").int32("dstStride").int32("dstColumn").int32("srcStride").int32("srcColumn").int32("accumulate")
            .grid("rows", "width").build();

    public static final KernelSpec FILL = KernelSpec.kernel("fill", "packing")
            .pointer("dst", REAL, "count").real("value").int64("count")
            .grid("count").build();

    /** {@code dst = a + b} over aliveRows × width, 0 over the rest of the slot's rows (dst may be a or b). */
    public static final KernelSpec SUM_ROWS = KernelSpec.kernel("sum_rows", "packing")
            .pointer("dst", REAL, "slotRows", "width")
            .pointer("a", REAL, "aliveRows", "width")
            .pointer("b", REAL, "aliveRows", "width")
            .int32("aliveRows").int32("slotRows").int32("width")
            .atMost("aliveRows", "slotRows")
            .grid("slotRows", "width").build();

    /** Adds the number of NaN and ±Inf among {@code n} values to an unsigned long long the host zeroed. */
    public static final KernelSpec COUNT_NON_FINITE = KernelSpec.kernel("count_non_finite", "finite")
            .pointer("x", REAL, "n").int64("n").pointer("count", KernelSpec.Element.I64, 1)
            .grid("n").build();

    /** {@code count} elements of {@code dst} set to {@code value}: one launch (allocates its argument block; not for time loops). */
    public static void fill(Backend backend, DeviceSlice dst, long count, double value) {
        FILL.args(dst.buffer().dtype()).on(backend).pointer(dst).real(value).int64(count).launch();
    }

    /** One {@link #GATHER_ROWS} launch (allocates its argument block; not for time loops). */
    public static void gatherRows(Backend backend, DeviceSlice dst, int dstStride, int dstColumn, DeviceSlice src, int srcStride,
                                  int srcColumn, DeviceSlice rowIndex, int rows, int width, boolean accumulate) {
        GATHER_ROWS.args(dst.buffer().dtype()).on(backend).pointer(dst).pointer(src).pointer(rowIndex)
                .int32(rows).int32(width).int32(dstStride).int32(dstColumn).int32(srcStride).int32(srcColumn).int32(accumulate ? 1 : 0)
                .launch();
    }
}
