package dev.bptt4j.algo;

import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.StepTensor;
import dev.bptt4j.tensor.DType;

/**
 * The backend memory a pass's workspace will hold, worked out from the shapes alone, before
 * anything is allocated (and without building the layout, which for a huge batch is itself large):
 * the same buffers {@link LayerStorage}, {@link StackBptt}, {@link BatchPacking} and
 * {@link StepwiseForward} take from the {@link BufferPool}, each counted at its size. Where a
 * buffer is taken only on some paths (a padded copy of x for a partial batch, dL/dx's own buffer)
 * it is counted as the path taken would take it; where a size depends on more than the shapes
 * (an index map grown by doubling) its bound is counted, so the estimate errs high, by a few
 * percent at most on small shapes and less on large ones (WorkspaceEstimateTest).
 */
public final class WorkspaceEstimate {
    private WorkspaceEstimate() {
    }

    /**
     * The slot layout's row offsets ({@link BatchLayout#slotOffset}, τ = 0..T+1) from the lengths
     * alone: slot 0 holds B rows, slot τ the alive(τ − 1) sequences, alive(τ) = #{b : length_b > τ}.
     */
    static long[] slotOffsets(int steps, int batch, int[] lengths) {
        long[] longer = new long[steps + 1]; // longer[τ]: sequences longer than τ
        if (lengths == null) {
            java.util.Arrays.fill(longer, 0, steps, batch);
        } else {
            for (int l : lengths) longer[l - 1]++;
            for (int t = steps - 1; t >= 0; t--) longer[t] += longer[t + 1];
        }
        long[] offsets = new long[steps + 2];
        for (int tau = 0; tau <= steps; tau++) offsets[tau + 1] = offsets[tau] + (tau == 0 ? batch : longer[tau - 1]);
        return offsets;
    }

    /**
     * Bytes of workspace a training forward of (T, B) with these lengths (null: all T) holds, x
     * given on the host, and with {@code backward} its backward as well (with dL/dx when
     * {@code inputGradient}).
     */
    public static long trainingBytes(StackShape shape, int steps, int batch, int[] lengths, boolean backward, boolean inputGradient) {
        Cell cell = shape.cell();
        int dirs = shape.directions(), layers = shape.layers();
        long[] slots = slotOffsets(steps, batch, lengths);
        long packed = slots[steps], hidden = slots[steps + 1], padded = (long) steps * batch;
        int interval = shape.checkpointInterval(steps);
        if (interval > 0) return checkpointedBytes(shape, steps, batch, slots, interval, backward);
        // A full time-major batch's slot layout is the padded one (BatchPacking.full()).
        boolean full = (lengths == null || allFull(steps, lengths)) && !shape.batchFirst();
        // One time-major direction moves x, y, dy and dL/dx between the host and its slot layout directly;
        // otherwise they go through padded copies on the device, gathered with row maps.
        boolean gathered = dirs > 1 || shape.batchFirst();
        boolean dropout = shape.dropout() > 0 && layers > 1;
        long elements = 0, indices = 0;
        for (int l = 0; l < layers; l++) {
            elements += dirs * layerElements(cell, packed, hidden, shape.layerInputSize(l), l > 0 && dropout, backward);
        }
        long stateWidths = 0;
        for (StateSpec s : cell.states()) stateWidths += s.width();
        long stateTensor = (long) shape.stateRows() * batch * stateWidths;
        elements += 2 * stateTensor;                                            // initial and final states
        indices += 2L * batch;                                                  // sorted order, final rows
        if (dropout) indices += dirs * packed;                                  // each packed row's time and sequence
        if (layers > 1) indices += (long) dirs * dirs * packed;                 // a layer's input from the directions below
        if (gathered) {
            if (!full) elements += padded * shape.inputSize();                  // x's padded copy
            elements += padded * shape.outputWidth();                           // y
            indices += dirs * (packed + padded);                                // padded rows of the packed ones, and back for y
        }
        if (backward) {
            elements += 2 * stateTensor + (long) batch * stateWidths;           // final and initial state gradients, the carries
            if (cell.hasBias()) elements += packed + (cell.separateRecurrentGates() ? 0 : cell.gateWidth()); // ones, and Σ δ shared by both biases
            indices += batch;                                                   // sorted order back to batch order
            if (layers > 1) indices += (long) dirs * dirs * packed;             // dL/dh from the directions above
            if (gathered) {
                elements += padded * shape.outputWidth();                       // dy's padded copy
                if (inputGradient) {
                    elements += padded * shape.inputSize();                     // dL/dx, the directions summed
                    indices += dirs * padded;
                }
            }
        }
        return elements * shape.dtype().byteSize() + indices * DType.I32.byteSize();
    }

    /**
     * A checkpointed pass ({@code StackBptt}'s forwardCheckpointed and sweepCheckpointed), x, y, dy and
     * dL/dx on the host: per-step storage for the largest segment only, each state at every segment's
     * start, h of every step for the layer above, and the layer inputs and dL/dh above layer 0 whole.
     */
    private static long checkpointedBytes(StackShape shape, int steps, int batch, long[] slots, int interval, boolean backward) {
        Cell cell = shape.cell();
        int dirs = shape.directions(), layers = shape.layers(), width = cell.outputSize();
        long packed = slots[steps], hidden = slots[steps + 1];
        int[] segments = TimeBlocks.segments(TimeBlocks.of(steps, batch), interval);
        long segmentRows = 0, segmentStateRows = 0;
        for (int i = 0; i + 1 < segments.length; i++) {
            segmentRows = Math.max(segmentRows, slots[segments[i + 1]] - slots[segments[i]]);
            segmentStateRows = Math.max(segmentStateRows, slots[segments[i + 1] + 1] - slots[segments[i]]);
        }
        long count = segments.length - 1, stateWidths = 0;
        for (StateSpec s : cell.states()) stateWidths += s.width();
        boolean dropout = shape.dropout() > 0 && layers > 1;
        // The batch-order maps, and the identity map of the row copies, grown by doubling: at most twice the
        // largest copy, a segment's h for the layer above, else B rows of states.
        long elements = 0, indices = 3L * batch + 2 * (layers > 1 ? segmentStateRows : batch);
        for (int l = 0; l < layers; l++) {
            long in = shape.layerInputSize(l);
            long n = segmentRows * cell.gateWidth() * (cell.separateRecurrentGates() ? 2 : 1) + segmentStateRows * stateWidths;
            for (StepTensor t : cell.stepTensors()) n += segmentRows * t.width();
            n += (count + 1) * batch * stateWidths;                                // the checkpoints and the final states, sorted
            if (l == 0) n += segmentRows * in;                                     // a segment of x
            else n += packed * in * (dropout ? 2 : 1);                             // the input whole (and its dropout mask)
            if (l < layers - 1) n += hidden * width + (backward ? packed * width : 0);  // h kept for the layer above; dL/dh from it
            elements += dirs * n;
        }
        if (layers > 1) indices += (long) dirs * dirs * packed * (backward ? 2 : 1);
        if (dropout) indices += dirs * packed;
        long stateTensor = (long) shape.stateRows() * batch * stateWidths;
        elements += 2 * stateTensor;
        if (backward) {
            elements += 2 * stateTensor + (long) batch * stateWidths;
            elements += segmentRows * (width + shape.inputSize());                  // a segment of dy and of dL/dx
            if (cell.hasBias()) elements += packed + (cell.separateRecurrentGates() ? 0 : cell.gateWidth());
        }
        return elements * shape.dtype().byteSize() + indices * DType.I32.byteSize();
    }

    private static boolean allFull(int steps, int[] lengths) {
        for (int l : lengths) if (l != steps) return false;
        return true;
    }

    /** One layer-direction's storage ({@link LayerStorage}): its input, gates, states, per-step tensors, dropout mask and dL/dh. */
    private static long layerElements(Cell cell, long packed, long hidden, long inputWidth, boolean dropout, boolean backward) {
        long n = packed * inputWidth + packed * cell.gateWidth() * (cell.separateRecurrentGates() ? 2 : 1);
        for (StateSpec s : cell.states()) n += hidden * s.width();
        for (StepTensor t : cell.stepTensors()) n += packed * t.width();
        if (dropout) n += packed * inputWidth;
        if (backward) n += packed * cell.outputSize();
        return n;
    }

    /**
     * Bytes of workspace {@code infer} of (T, B) with these lengths holds: a unidirectional stack's step-wise forward
     * (two rows of states per layer and a chunk of at most {@code chunk} steps of x and y, whatever
     * T is); a bidirectional one runs the evaluation-mode forward.
     */
    public static long inferenceBytes(StackShape shape, int steps, int batch, int[] lengths, int chunk) {
        if (shape.directions() > 1) return trainingBytes(shape, steps, batch, lengths, false, false);
        Cell cell = shape.cell();
        long c = Math.min(steps, chunk), elements = 0;
        long stateWidths = 0;
        for (StateSpec s : cell.states()) stateWidths += s.width();
        for (int l = 0; l < shape.layers(); l++) elements += layerElements(cell, batch, 2L * batch, shape.layerInputSize(l), false, false);
        elements += 2L * shape.layers() * batch * stateWidths;             // initial and final states
        elements += c * batch * (shape.inputSize() + cell.outputSize());    // a chunk of x and of y
        long indices = 2L * batch + 2 * c * batch;                         // sorted order, final rows; a chunk's x and y rows
        return elements * shape.dtype().byteSize() + indices * DType.I32.byteSize();
    }
}
