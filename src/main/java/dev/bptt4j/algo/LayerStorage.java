package dev.bptt4j.algo;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.StepTensor;
import dev.bptt4j.tensor.DType;

import java.util.List;

/**
 * One layer-direction's workspace in the slot layout ({@link BatchLayout}), taken from the pool
 * for each pass: the layer input, the gates (pre-activations, then deltas), the GRU's separate
 * recurrent product, one storage per state (the initial state in slot 0, the state after step τ
 * in slot τ+1) and the cell's own per-step tensors. The roles are named once here.
 */
final class LayerStorage {
    private final BufferPool pool;
    private final Cell cell;
    private final DType dtype;
    private final int inputWidth;
    private final String inputRole, gatesRole, recurrentRole, outputGradRole, dropoutRole, outputRole;
    private final String[] stateRoles, workspaceRoles, checkpointRoles, finalRoles;

    DeviceBuffer input, gates, recurrentGates, outputGrad;
    final DeviceBuffer[] states;
    final DeviceBuffer[] workspace;

    LayerStorage(BufferPool pool, Cell cell, DType dtype, int layer, int direction, int inputWidth) {
        this(pool, cell, dtype, "l" + layer + "d" + direction + ".", inputWidth);
    }

    /** A storage whose pool roles start with {@code prefix} (inference keeps its own, apart from the training pass's). */
    LayerStorage(BufferPool pool, Cell cell, DType dtype, String prefix, int inputWidth) {
        this.pool = pool;
        this.cell = cell;
        this.dtype = dtype;
        this.inputWidth = inputWidth;
        inputRole = prefix + "input";
        gatesRole = prefix + "gates";
        recurrentRole = prefix + "recurrentGates";
        outputGradRole = prefix + "outputGrad";
        dropoutRole = prefix + "dropoutMask";
        outputRole = prefix + "output";
        List<StateSpec> stateSpecs = cell.states();
        stateRoles = new String[stateSpecs.size()];
        checkpointRoles = new String[stateSpecs.size()];
        finalRoles = new String[stateSpecs.size()];
        for (int i = 0; i < stateRoles.length; i++) {
            stateRoles[i] = prefix + "state." + stateSpecs.get(i).name();
            checkpointRoles[i] = prefix + "checkpoints." + stateSpecs.get(i).name();
            finalRoles[i] = prefix + "finalSorted." + stateSpecs.get(i).name();
        }
        List<StepTensor> tensors = cell.stepTensors();
        workspaceRoles = new String[tensors.size()];
        for (int i = 0; i < workspaceRoles.length; i++) workspaceRoles[i] = prefix + "step." + tensors.get(i).name();
        states = new DeviceBuffer[stateRoles.length];
        workspace = new DeviceBuffer[workspaceRoles.length];
    }

    int inputWidth() {
        return inputWidth;
    }

    /** The layer input's buffer (packed rows × input width). */
    DeviceBuffer input(long packedRows) {
        input = pool.get(inputRole, dtype, packedRows * inputWidth);
        return input;
    }

    /** Takes every per-pass buffer for a layout of {@code packedRows} step rows and {@code stateRows} state rows. */
    void take(long packedRows, long stateRows) {
        gates = pool.get(gatesRole, dtype, packedRows * cell.gateWidth());
        recurrentGates = cell.separateRecurrentGates() ? pool.get(recurrentRole, dtype, packedRows * cell.gateWidth()) : gates;
        List<StateSpec> stateSpecs = cell.states();
        for (int i = 0; i < states.length; i++) states[i] = pool.get(stateRoles[i], dtype, stateRows * stateSpecs.get(i).width());
        List<StepTensor> tensors = cell.stepTensors();
        for (int i = 0; i < workspace.length; i++) workspace[i] = pool.get(workspaceRoles[i], dtype, packedRows * tensors.get(i).width());
    }

    /** The dropout mask on this layer's input (packed rows × input width), kept from the forward for the backward. */
    DeviceSlice dropoutMask(long packedRows) {
        return pool.whole(pool.get(dropoutRole, dtype, packedRows * inputWidth));
    }

    /** The workspace's own copy of dL/dh for this layer (packed rows × width of h). */
    DeviceSlice outputGrad(long packedRows) {
        outputGrad = pool.get(outputGradRole, dtype, packedRows * cell.outputSize());
        return pool.whole(outputGrad);
    }

    // ---- checkpointed passes: the per-step buffers above hold one segment; these span the pass ----

    /** h of every step in the slot layout of the whole pass (B + packed rows × width of h): the layer's output. */
    DeviceSlice output(long hiddenRows) {
        return pool.whole(pool.get(outputRole, dtype, hiddenRows * cell.outputSize()));
    }

    /** Layer 0's input for one segment (its rows × input width), apart from {@link #input} (which may hold dL/dx of the whole pass). */
    DeviceSlice segmentInput(long rows) {
        return pool.whole(pool.get(inputRole + ".segment", dtype, rows * inputWidth));
    }

    /** State {@code i} at the start of each of {@code segments} segments, B rows apiece. */
    DeviceSlice checkpoints(int i, int segments, int batch) {
        return pool.whole(pool.get(checkpointRoles[i], dtype, (long) segments * batch * cell.states().get(i).width()));
    }

    /** State {@code i} after each sequence's last step, in sorted row order (B rows), gathered segment by segment. */
    DeviceSlice finalSorted(int i, int batch) {
        return pool.whole(pool.get(finalRoles[i], dtype, (long) batch * cell.states().get(i).width()));
    }
}
