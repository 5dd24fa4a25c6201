package dev.bptt4j.algo;

import dev.bptt4j.cell.Cell;
import dev.bptt4j.tensor.DType;

/**
 * The shape of a recurrent stack as the algorithm needs it: the cell (every layer and direction
 * has one of the same kind), the input width, the layers, the directions and the dtype; whether
 * the caller's padded tensors are batch-first; and the dropout between layers.
 */
public record StackShape(Cell cell, int inputSize, int layers, int directions, DType dtype, boolean batchFirst, double dropout) {
    public StackShape {
        if (cell == null) throw new IllegalArgumentException("cell: must not be null");
        if (directions != 1 && directions != 2) throw new IllegalArgumentException("directions: expected 1 or 2, got " + directions);
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
