package dev.bptt4j.cell;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.KernelSpec;

/**
 * What one step of one lane of a time loop hands its cell: the rows it works on, the slices of the
 * step's gates, states, carries and parameters, and reusable kernel arguments. The algorithm
 * moves every slice before each step, so a step creates no objects; a cell reads them during the
 * step and keeps none.
 *
 * <p>In the forward, {@link #gates()} holds {@code x·W_ihᵀ + h·W_hhᵀ} without bias (the recurrent
 * product in {@link #recurrentGates()} instead, for a cell that keeps it apart); in the backward
 * it holds what the forward left there, and the cell replaces it with the gate deltas δ_ih
 * (δ_hh over {@link #recurrentGates()}), zero in the slot's dead rows.
 */
public interface Step {
    Backend backend();

    /** Rows live at this step: sequences still running (the lane's share of them). */
    int rows();

    /**
     * Rows of this step's slot (backward): the live ones first, then rows of sequences that have
     * ended, whose deltas the cell must zero. Equal to {@link #rows()} in the forward.
     */
    int slotRows();

    /** The step's gate rows, {@code slotRows × gates·H}. */
    DeviceSlice gates();

    /** The recurrent product's rows; the same slice as {@link #gates()} unless the cell keeps it apart. */
    DeviceSlice recurrentGates();

    /** State {@code state} (an index into {@link Cell#states()}) before this step. */
    DeviceSlice previous(int state);

    /** State {@code state} after this step (written by the forward, read by the backward). */
    DeviceSlice next(int state);

    /** Backward: dL/d(state) flowing back into this step from the steps after it, for the live rows. */
    DeviceSlice carry(int state);

    /** Backward: dL/dh of this step from above (the loss, or the layer above), for the live rows. */
    DeviceSlice outputGrad();

    /** The cell's per-step tensor {@code index} ({@link Cell#stepTensors()}) at this step's slot. */
    DeviceSlice workspace(int index);

    /** Parameter {@code slot} of this layer and direction ({@link Cell#WEIGHT_IH}, …), or null when it is absent (no bias). */
    DeviceSlice parameter(int slot);

    /** The lane's argument block for {@code spec}, emptied and bound to the backend: fill it in signature order, then launch. */
    KernelArgs kernel(KernelSpec spec);
}
