package dev.bptt4j.algo;

import dev.bptt4j.cell.Cell;
import dev.bptt4j.tensor.DType;

/**
 * The shape of a recurrent stack as the algorithm needs it: the cell (every layer and direction
 * has one of the same kind), the input width, the layers, the directions and the dtype; whether
 * the caller's padded tensors are batch-first; the dropout between layers; and activation
 * checkpointing (0 off, k ≥ 1 about every k steps, −1 every ⌈√T⌉).
 */
public record StackShape(Cell cell, int inputSize, int layers, int directions, DType dtype, boolean batchFirst, double dropout,
                         int activationCheckpoints) {
    public StackShape {
        if (cell == null) throw new IllegalArgumentException("cell: must not be null");
        if (directions != 1 && directions != 2) throw new IllegalArgumentException("directions: expected 1 or 2, got " + directions);
    }

    public StackShape(Cell cell, int inputSize, int layers, int directions, DType dtype, boolean batchFirst, double dropout) {
        this(cell, inputSize, layers, directions, dtype, batchFirst, dropout, 0);
    }

    /** Steps between checkpoints for a pass of T steps, or 0 when every step's activations are kept. */
    public int checkpointInterval(int steps) {
        if (activationCheckpoints == 0) return 0;
        return activationCheckpoints > 0 ? activationCheckpoints : (int) Math.ceil(Math.sqrt(steps));
    }

    /** Input width of layer {@code layer}: I for the first, D·(width of h) above it. */
    public int layerInputSize(int layer) {
        return layer == 0 ? inputSize : directions * cell.outputSize();
    }

    /** Width of y: D·(width of h). */
    public int outputWidth() {
        return directions * cell.outputSize();
    }

    /** Rows of every initial or final state tensor: L·D. */
    public int stateRows() {
        return layers * directions;
    }
}
