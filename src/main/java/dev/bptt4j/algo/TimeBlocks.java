package dev.bptt4j.algo;

/**
 * The blocks of whole steps the whole-sequence GEMMs run over (the input projection before the
 * time loop; dW_ih, dW_hh, the bias sums, a cell's own gradients and dL/dx after the sweep), and
 * the segments activation checkpointing keeps states between.
 *
 * <p>A GEMM's rows are not independent of how many rows it is given (a BLAS picks its blocking
 * and kernels by size), and a sum over the rows split in two is not the same sum. Running every
 * whole-sequence GEMM over the same blocks, in the same order, whether or not the activations
 * are checkpointed, is what makes a checkpointed pass recompute the same bits and accumulate the
 * same gradients. Blocks hold about {@link #TARGET_ROWS} rows: big enough that a GEMM over one
 * keeps the BLAS's speed, small enough that checkpoints can be about √T steps apart (segments are
 * whole blocks); a sequence that short is one block, one GEMM.
 */
final class TimeBlocks {
    /** Rows (steps × B) a block is sized for. */
    static final long TARGET_ROWS = 2048;

    /** {@link #TARGET_ROWS}, or {@code -Dbptt4j.blockRows} (the tests make blocks of a few rows to exercise many). */
    static long targetRows() {
        long rows = Long.getLong("bptt4j.blockRows", TARGET_ROWS);
        return rows >= 1 ? rows : TARGET_ROWS;
    }

    private TimeBlocks() {
    }

    /** Block boundaries in steps, 0 = b_0 < b_1 < … < b_n = T, the blocks as equal as whole steps allow. */
    static int[] of(int steps, int batch) {
        long target = targetRows();
        long perBlock = Math.max(1, Math.min(steps, (target + batch - 1) / batch));
        int n = Math.toIntExact((steps + perBlock - 1) / perBlock);
        int[] bounds = new int[n + 1];
        for (int i = 0; i <= n; i++) bounds[i] = (int) ((long) i * steps / n);
        return bounds;
    }

    /**
     * Segment boundaries for checkpoints about every {@code k} steps: block boundaries, each
     * segment the fewest whole blocks holding at least k steps (the last may hold fewer).
     */
    static int[] segments(int[] blocks, int k) {
        int[] out = new int[blocks.length];
        int n = 0, start = 0;
        out[n++] = 0;
        for (int i = 1; i < blocks.length; i++) {
            if (blocks[i] - start >= k || i == blocks.length - 1) {
                out[n++] = blocks[i];
                start = blocks[i];
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** Slot rows of the largest segment's per-step tensors, or with {@code stateSlot} of its state storage (one slot more). */
    static long segmentRows(BatchLayout layout, int[] segments, boolean stateSlot) {
        long rows = 0;
        for (int i = 0; i + 1 < segments.length; i++) {
            rows = Math.max(rows, layout.slotOffset(segments[i + 1] + (stateSlot ? 1 : 0)) - layout.slotOffset(segments[i]));
        }
        return rows;
    }
}
