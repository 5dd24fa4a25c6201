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
 * same gradients. Blocks hold about {@link #TARGET_ROWS} rows, so a GEMM over one is as fast as
 * over the whole sequence; a sequence that short is one block, one GEMM.
 */
final class TimeBlocks {
    /** Rows (steps × B) a block is sized for: large enough that splitting costs no GEMM efficiency. */
    static final long TARGET_ROWS = 8192;

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
}
