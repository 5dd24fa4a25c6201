package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.KernelSpec;
import dev.bptt4j.backend.SliceCursor;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.Step;
import dev.bptt4j.tensor.DType;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * One lane's view of the step a time loop is at, as its cell sees it ({@link Step}). Its slices
 * are cursors moved to each step's rows, and its kernel argument blocks are made once per kernel,
 * so a step creates no objects. A lane holds sorted rows [lo, hi) of every slot.
 */
final class StepContext implements Step {
    private final Backend backend;
    private final Cell cell;
    private final DType dtype;
    private final int gateWidth;
    private final int[] stateWidths, workspaceWidths;
    private final Map<KernelSpec, KernelArgs> kernels = new IdentityHashMap<>();

    private LayerStorage storage;
    private LayerParameters parameters;
    private DeviceBuffer[] carries;
    private DeviceSlice outputGradBase;
    private int lo;

    private int rows, slotRows;
    private SliceCursor gates, recurrentGates, outputGrad;
    private final SliceCursor[] previous, next, carry, workspace;

    StepContext(Backend backend, Cell cell, DType dtype) {
        this.backend = backend;
        this.cell = cell;
        this.dtype = dtype;
        this.gateWidth = cell.gateWidth();
        this.stateWidths = cell.states().stream().mapToInt(s -> s.width()).toArray();
        this.workspaceWidths = cell.stepTensors().stream().mapToInt(t -> t.width()).toArray();
        previous = new SliceCursor[stateWidths.length];
        next = new SliceCursor[stateWidths.length];
        carry = new SliceCursor[stateWidths.length];
        workspace = new SliceCursor[workspaceWidths.length];
    }

    private static SliceCursor point(SliceCursor c, DeviceBuffer buffer, long offset) {
        return c == null ? new SliceCursor(buffer, offset) : c.moveTo(buffer, offset);
    }

    /**
     * Binds the lane to a layer-direction's sweep: its storage and parameters, and in the backward
     * its carries (one per state, the lane's rows from row lo) and dL/dh (from {@code outputGradBase}).
     */
    void bind(LayerStorage storage, LayerParameters parameters, int lo, DeviceBuffer[] carries, DeviceSlice outputGradBase) {
        this.storage = storage;
        this.parameters = parameters;
        this.lo = lo;
        this.carries = carries;
        this.outputGradBase = outputGradBase;
        if (carries != null) {
            for (int i = 0; i < carry.length; i++) carry[i] = point(carry[i], carries[i], (long) lo * stateWidths[i]);
        }
    }

    /** Moves every slice to the step whose slot starts at row {@code slot} (the states after it at row {@code nextSlot}). */
    void moveTo(long slot, long nextSlot, int rows, int slotRows) {
        // A step with no live rows reads no state after it, whose slot may hold fewer rows than the
        // lane starts at: its cursors stay at this step's slot.
        moveTo(slot, slot, rows == 0 ? slot : nextSlot, rows, slotRows);
    }

    /**
     * Moves the per-step slices (gates, the cell's tensors, dL/dh) to row {@code stepRow}, the
     * states before the step to row {@code previousRow} and after it to row {@code nextRow}: the
     * time loops keep every step in its slot, the step-wise inference two state rows it alternates.
     */
    void moveTo(long stepRow, long previousRow, long nextRow, int rows, int slotRows) {
        this.rows = rows;
        this.slotRows = slotRows;
        gates = point(gates, storage.gates, stepRow * gateWidth);
        recurrentGates = storage.recurrentGates == storage.gates ? gates : point(recurrentGates, storage.recurrentGates, stepRow * gateWidth);
        for (int i = 0; i < stateWidths.length; i++) {
            previous[i] = point(previous[i], storage.states[i], previousRow * stateWidths[i]);
            next[i] = point(next[i], storage.states[i], nextRow * stateWidths[i]);
        }
        for (int i = 0; i < workspaceWidths.length; i++) workspace[i] = point(workspace[i], storage.workspace[i], stepRow * workspaceWidths[i]);
        if (outputGradBase != null) {
            outputGrad = point(outputGrad, outputGradBase.buffer(), outputGradBase.offset() + stepRow * stateWidths[Cell.H]);
        }
    }

    int lo() {
        return lo;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int slotRows() {
        return slotRows;
    }

    @Override
    public DeviceSlice gates() {
        return gates;
    }

    @Override
    public DeviceSlice recurrentGates() {
        return recurrentGates;
    }

    @Override
    public DeviceSlice previous(int state) {
        return previous[state];
    }

    @Override
    public DeviceSlice next(int state) {
        return next[state];
    }

    @Override
    public DeviceSlice carry(int state) {
        if (carries == null) throw new IllegalStateException("carry: the forward has no carries");
        return carry[state];
    }

    @Override
    public DeviceSlice outputGrad() {
        if (outputGradBase == null) throw new IllegalStateException("outputGrad: the forward has no output gradient");
        return outputGrad;
    }

    @Override
    public DeviceSlice workspace(int index) {
        return workspace[index];
    }

    @Override
    public DeviceSlice parameter(int slot) {
        return parameters.value(slot);
    }

    @Override
    public KernelArgs kernel(KernelSpec spec) {
        KernelArgs a = kernels.get(spec);
        if (a == null) {
            a = spec.args(dtype);
            kernels.put(spec, a);
        }
        return a.on(backend);
    }
}
