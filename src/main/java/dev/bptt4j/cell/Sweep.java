package dev.bptt4j.cell;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;

/**
 * One layer and direction after its backward sweep, for the parameter gradients a cell forms
 * itself ({@link Cell#accumulateGradients}): a block of whole steps of its per-step tensors in the
 * slot layout (row r of every tensor is the same sequence and step), the states, and the gradient
 * accumulators. The algorithm calls it once per block, so a cell's gradient GEMMs run over the
 * same blocks as the algorithm's own.
 */
public interface Sweep {
    Backend backend();

    /** Rows of every per-step tensor in the block: its slots (dead rows included, zero in the deltas). */
    int rows();

    /** The cell's per-step tensor {@code index}, from the block's first slot. */
    DeviceSlice workspace(int index);

    /** Storage of state {@code state} from the block's first slot (the state before its first step), one slot per step after it. */
    DeviceSlice states(int state);

    /** Parameter {@code slot}, or null when absent. */
    DeviceSlice parameter(int slot);

    /** The gradient accumulator of parameter {@code slot}, or null when absent. */
    DeviceSlice gradient(int slot);
}
