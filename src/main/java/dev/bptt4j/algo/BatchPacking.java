package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.SliceCursor;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.function.Supplier;

/**
 * The index maps of one {@link BatchLayout} and the row moves between the padded (T, B, ·)
 * tensors a caller holds and the packed slot layout the time loops work in: x into each
 * direction's layer-0 input, layer outputs into the next layer's input, initial and final states,
 * y out, dy in, dL/dx out, and the output gradients handed down between layers. This is where the
 * layout's cases live (a full batch of one direction needs no gather at all); {@link StackBptt}
 * only says what moves where.
 *
 * <p>Maps are made on first use and kept while the layout stays the same (same T, B, lengths and
 * order), so repeated steps of a training loop upload none.
 */
final class BatchPacking {
    private final Backend backend;
    private final BufferPool pool;
    private BatchLayout layout;

    // Device maps (I32), by what they index.
    private DeviceBuffer originalOfSorted, sortedOfOriginal, finalOfOriginal;
    private final DeviceBuffer[] packedOfPadded = new DeviceBuffer[2];
    private final DeviceBuffer[] paddedOfPacked = new DeviceBuffer[2];
    private final DeviceBuffer[] outputOfPadded = new DeviceBuffer[2];
    private final DeviceBuffer[] timeRowOfPacked = new DeviceBuffer[2];
    private final DeviceBuffer[][] hiddenAcross = new DeviceBuffer[2][2];
    private final DeviceBuffer[][] packedAcross = new DeviceBuffer[2][2];
    // Host maps, for row transfers straight between host tensors and the slot layout.
    private final int[][] packedOfPaddedHost = new int[2][];
    private final int[][] paddedOfPackedHost = new int[2][];
    private final int[][] outputOfPaddedHost = new int[2][];

    /** One argument block for every gather of a pass (they run one after another), and a cursor for the rows of one state. */
    private final KernelArgs gatherArgs;
    private SliceCursor stateRows;

    BatchPacking(Backend backend, BufferPool pool, DType dtype) {
        this.backend = backend;
        this.pool = pool;
        this.gatherArgs = Packing.GATHER_ROWS.args(dtype);
    }

    /** Switches to {@code next}, forgetting the maps unless it packs the same way as the last layout. */
    void use(BatchLayout next) {
        if (layout == null || !layout.sameAs(next)) {
            originalOfSorted = sortedOfOriginal = finalOfOriginal = null;
            for (int d = 0; d < 2; d++) {
                packedOfPadded[d] = paddedOfPacked[d] = outputOfPadded[d] = timeRowOfPacked[d] = null;
                packedOfPaddedHost[d] = paddedOfPackedHost[d] = outputOfPaddedHost[d] = null;
                for (int e = 0; e < 2; e++) hiddenAcross[d][e] = packedAcross[d][e] = null;
            }
        }
        layout = next;
    }

    BatchLayout layout() {
        return layout;
    }

    /**
     * True when the slot layout of the forward direction is the caller's padded layout row for row:
     * every sequence has length T and the tensors are time-major. Then x, dy, y and dL/dx move
     * without a gather.
     */
    boolean full() {
        return layout.isFull() && !layout.batchFirst();
    }

    private DeviceBuffer upload(String role, int[] values) {
        DeviceBuffer b = pool.get("index." + role, DType.I32, values.length);
        backend.upload(Tensor.ofInts(values, values.length), pool.whole(b));
        return b;
    }

    private DeviceBuffer cached(DeviceBuffer held, String role, Supplier<int[]> values, java.util.function.Consumer<DeviceBuffer> keep) {
        if (held != null) return held;
        DeviceBuffer b = upload(role, values.get());
        keep.accept(b);
        return b;
    }

    // ---- device maps ----

    /** For sorted row j: its original batch index (initial states and final-state gradients into sorted order). */
    DeviceBuffer originalOfSorted() {
        return cached(originalOfSorted, "originalOfSorted", layout::originalOfSorted, b -> originalOfSorted = b);
    }

    /** For original b: its sorted row (gradients of initial states back to batch order). */
    DeviceBuffer sortedOfOriginal() {
        return cached(sortedOfOriginal, "sortedOfOriginal", layout::sortedOfOriginal, b -> sortedOfOriginal = b);
    }

    /** For original b: the state-storage row of its final state. */
    DeviceBuffer finalOfOriginal() {
        return cached(finalOfOriginal, "finalOfOriginal", layout::finalHiddenRowOfOriginal, b -> finalOfOriginal = b);
    }

    /** For each packed row of direction d: t·B + b of its sequence and real time, −1 if dead (dropout's mask index). */
    DeviceBuffer timeRowOfPacked(int d) {
        return cached(timeRowOfPacked[d], "timeRowOfPacked" + d, () -> layout.timeRowOfPacked(d == 1), b -> timeRowOfPacked[d] = b);
    }

    /** For each packed row of direction d: its padded row, −1 if dead (x and dy into the slot layout). */
    private DeviceBuffer paddedRowOfPacked(int d) {
        return cached(paddedOfPacked[d], "paddedOfPacked" + d, () -> layout.paddedRowOfPacked(d == 1), b -> paddedOfPacked[d] = b);
    }

    /** For each padded row: its packed row in direction d, −1 past the length (dL/dx out of the slot layout). */
    private DeviceBuffer packedRowOfPadded(int d) {
        return cached(packedOfPadded[d], "packedOfPadded" + d, () -> layout.packedRowOfPadded(d == 1), b -> packedOfPadded[d] = b);
    }

    /** For each padded row: its state-storage row in direction d (y out of the states). */
    private DeviceBuffer hiddenRowOfPadded(int d) {
        return cached(outputOfPadded[d], "outputOfPadded" + d, () -> layout.hiddenRowOfPadded(d == 1), b -> outputOfPadded[d] = b);
    }

    /** For each packed row of direction {@code to}: the state row of direction {@code from} at the same time. */
    private DeviceBuffer hiddenAcross(int from, int to) {
        return cached(hiddenAcross[from][to], "hidden" + from + "to" + to, () -> layout.crossDirectionRows(from == 1, to == 1, 1),
                b -> hiddenAcross[from][to] = b);
    }

    /** For each packed row of direction {@code to}: the packed row of direction {@code from} at the same time. */
    private DeviceBuffer packedAcross(int from, int to) {
        return cached(packedAcross[from][to], "packed" + from + "to" + to, () -> layout.crossDirectionRows(from == 1, to == 1, 0),
                b -> packedAcross[from][to] = b);
    }

    private int[] paddedRowOfPackedHost(int d) {
        if (paddedOfPackedHost[d] == null) paddedOfPackedHost[d] = layout.paddedRowOfPacked(d == 1);
        return paddedOfPackedHost[d];
    }

    private int[] packedRowOfPaddedHost(int d) {
        if (packedOfPaddedHost[d] == null) packedOfPaddedHost[d] = layout.packedRowOfPadded(d == 1);
        return packedOfPaddedHost[d];
    }

    private int[] hiddenRowOfPaddedHost(int d) {
        if (outputOfPaddedHost[d] == null) outputOfPaddedHost[d] = layout.hiddenRowOfPadded(d == 1);
        return outputOfPaddedHost[d];
    }

    private int packedRows() {
        return Math.toIntExact(layout.packedRows());
    }

    private int paddedRows() {
        return layout.steps() * layout.batch();
    }

    private void gather(DeviceSlice dst, int dstStride, int dstColumn, DeviceSlice src, int srcStride, int srcColumn,
                        DeviceBuffer index, int rows, int width, boolean accumulate) {
        gather(dst, dstStride, dstColumn, src, srcStride, srcColumn, pool.whole(index), rows, width, accumulate);
    }

    private void gather(DeviceSlice dst, int dstStride, int dstColumn, DeviceSlice src, int srcStride, int srcColumn,
                        DeviceSlice index, int rows, int width, boolean accumulate) {
        gatherArgs.on(backend).pointer(dst).pointer(src).pointer(index)
                .int32(rows).int32(width).int32(dstStride).int32(dstColumn).int32(srcStride).int32(srcColumn).int32(accumulate ? 1 : 0)
                .launch();
    }

    // ---- forward: inputs in ----

    /**
     * Where layer 0 of direction d reads x from, given x on the host ({@code x}) or already on the
     * device ({@code padded}, (T, B, I) padded): a full forward direction reads the padded x in
     * place; otherwise its live rows are gathered into {@code own}. With x on the host, a full
     * batch, two directions or a batch-first x first upload it once ({@code own} for a full
     * forward direction, else a shared padded copy) and gather on the device; one partial
     * time-major direction takes its rows straight from the host.
     */
    DeviceSlice[] firstLayerInputs(Tensor x, DeviceSlice padded, int directions, int width, java.util.function.IntFunction<DeviceBuffer> own,
                                   DType dtype) {
        DeviceSlice[] in = new DeviceSlice[directions];
        DeviceSlice source = padded;
        if (source == null && (full() || directions > 1 || layout.batchFirst())) {
            DeviceBuffer b = full() ? own.apply(0) : pool.get("input.padded", dtype, x.size());
            backend.upload(x, pool.whole(b));
            source = pool.whole(b);
        }
        for (int d = 0; d < directions; d++) {
            if (source == null) {
                DeviceBuffer b = own.apply(d);
                backend.uploadRows(pool.whole(b), x, width, 0, paddedRowOfPackedHost(d), packedRows(), width);
                in[d] = pool.whole(b);
            } else if (full() && d == 0) {
                in[d] = source;
            } else {
                DeviceBuffer b = own.apply(d);
                gather(pool.whole(b), width, 0, source, width, 0, paddedRowOfPacked(d), packedRows(), width, false);
                in[d] = pool.whole(b);
            }
        }
        return in;
    }

    /** Layer l+1's input in direction d: the states (h) of layer l's directions side by side, at the same real time. */
    void nextLayerInput(DeviceSlice target, int directions, int d, DeviceSlice[] hiddenBelow, int hidden) {
        for (int src = 0; src < directions; src++) {
            gather(target, directions * hidden, src * hidden, hiddenBelow[src], hidden, 0, hiddenAcross(src, d), packedRows(), hidden, false);
        }
    }

    /** Row {@code stateRow} of a (L·D, B, W) state tensor: the cursor, moved there. */
    private DeviceSlice rowsOf(DeviceSlice states, int stateRow, int width) {
        long offset = states.offset() + (long) stateRow * layout.batch() * width;
        if (stateRows == null) stateRows = new SliceCursor(states.buffer(), offset);
        return stateRows.moveTo(states.buffer(), offset);
    }

    /** Rows [stateRow·B, (stateRow+1)·B) of a (L·D, B, W) state tensor into slot 0 of a state storage, sorted. */
    void initialState(DeviceSlice storage, DeviceSlice states, int stateRow, int width) {
        gather(storage, width, 0, rowsOf(states, stateRow, width), width, 0, originalOfSorted(), layout.batch(), width, false);
    }

    /** Each sequence's final state from a state storage into row stateRow of a (L·D, B, W) tensor, batch order. */
    void finalState(DeviceSlice states, int stateRow, DeviceSlice storage, int width) {
        gather(rowsOf(states, stateRow, width), width, 0, storage, width, 0, finalOfOriginal(), layout.batch(), width, false);
    }

    // ---- forward: y out ----

    /** y (T, B, D·W) padded, gathered from the top layer's state storages into {@code y}. */
    void output(DeviceSlice y, DeviceSlice[] topStates, int directions, int width) {
        for (int d = 0; d < directions; d++) {
            gather(y, directions * width, d * width, topStates[d], width, 0, hiddenRowOfPadded(d), paddedRows(), width, false);
        }
    }

    /** y of one direction straight from its state storage into a host tensor (T, B, W). */
    void downloadOutput(Tensor y, DeviceSlice topStates, int width) {
        backend.downloadRows(y, width, 0, topStates, hiddenRowOfPaddedHost(0), paddedRows(), width);
    }

    // ---- backward: gradients in ----

    /** dy of one direction from the host into its slot layout (a full batch's slot layout is the padded one: one copy). */
    void uploadOutputGrad(Tensor dy, DeviceSlice target, int width) {
        if (full()) backend.upload(dy, target);
        else backend.uploadRows(target, dy, width, 0, paddedRowOfPackedHost(0), packedRows(), width);
    }

    /** Direction d's columns of a padded dy (T, B, D·W) gathered into its slot layout. */
    void outputGrad(DeviceSlice target, DeviceSlice paddedDy, int directions, int d, int width) {
        gather(target, width, 0, paddedDy, directions * width, d * width, paddedRowOfPacked(d), packedRows(), width, false);
    }

    /** The gradient of layer l's output in direction d: the sum of what layer l+1's directions gave their inputs. */
    void outputGradFromAbove(DeviceSlice target, DeviceSlice[] inputGradsAbove, int directions, int d, int width) {
        for (int src = 0; src < directions; src++) {
            gather(target, width, 0, inputGradsAbove[src], directions * width, d * width, packedAcross(src, d), packedRows(), width, src > 0);
        }
    }

    /** Rows of a (L·D, B, W) gradient of final states into a carry, sorted. */
    void finalStateGrad(DeviceSlice carry, DeviceSlice stateGrads, int stateRow, int width) {
        initialState(carry, stateGrads, stateRow, width);
    }

    /** A carry (sorted rows) into row stateRow of a (L·D, B, W) gradient of initial states, batch order. */
    void initialStateGrad(DeviceSlice stateGrads, int stateRow, DeviceSlice carry, int width) {
        gather(rowsOf(stateGrads, stateRow, width), width, 0, carry, width, 0, sortedOfOriginal(), layout.batch(), width, false);
    }

    // ---- backward: dL/dx out ----

    /**
     * dL/dx (T, B, I) padded, zero past each length, into {@code target} from each direction's
     * slot-layout gradient (the directions' contributions summed on the device).
     */
    void inputGrad(DeviceSlice target, DeviceSlice[] packedGrads, int directions, int width) {
        for (int d = 0; d < directions; d++) {
            gather(target, width, 0, packedGrads[d], width, 0, packedRowOfPadded(d), paddedRows(), width, d > 0);
        }
    }

    /** dL/dx of one partial direction straight from its slot layout into a host tensor (T, B, I). */
    void downloadInputGrad(Tensor dx, DeviceSlice packedGrad, int width) {
        backend.downloadRows(dx, width, 0, packedGrad, packedRowOfPaddedHost(0), paddedRows(), width);
    }

    // ---- checkpointed passes: one segment of packed rows [first, end) at a time ----

    /** An index 0, 1, 2, … of at least {@code rows} entries: a gather through it copies rows. */
    private DeviceBuffer identity;

    /** Copies {@code rows} dense rows of {@code width} from {@code src} to {@code dst} (regions apart). */
    void copyRows(DeviceSlice dst, DeviceSlice src, int rows, int width) {
        if (rows == 0) return;
        if (identity == null || identity.elements() < rows) {
            int[] values = new int[Math.max(rows, identity == null ? 0 : (int) Math.min(Integer.MAX_VALUE, 2 * identity.elements()))];
            for (int i = 0; i < values.length; i++) values[i] = i;
            identity = upload("identity", values);
        }
        gather(dst, width, 0, src, width, 0, identity, rows, width, false);
    }

    /** Packed rows [first, end) of direction d from a host x (padded) into dense rows of {@code dst}. */
    void uploadInputRows(DeviceSlice dst, Tensor x, int d, long first, long end, int width) {
        int[] rows = java.util.Arrays.copyOfRange(paddedRowOfPackedHost(d), Math.toIntExact(first), Math.toIntExact(end));
        backend.uploadRows(dst, x, width, 0, rows, rows.length, width);
    }

    /** Packed rows [first, end) of direction d gathered from a padded x on the device into dense rows of {@code dst}. */
    void gatherInputRows(DeviceSlice dst, DeviceSlice paddedX, int d, long first, long end, int width) {
        gather(dst, width, 0, paddedX, width, 0, pool.whole(paddedRowOfPacked(d)).plus(first), Math.toIntExact(end - first), width, false);
    }

    /** Direction d's columns of dy (padded, on the host) for packed rows [first, end) into dense rows of {@code dst}. */
    void uploadOutputGradRows(DeviceSlice dst, Tensor dy, int directions, int d, long first, long end, int width) {
        int[] rows = java.util.Arrays.copyOfRange(paddedRowOfPackedHost(d), Math.toIntExact(first), Math.toIntExact(end));
        backend.uploadRows(dst, dy, directions * width, d * width, rows, rows.length, width);
    }

    /** Direction d's columns of dy (padded, on the device) for packed rows [first, end) into dense rows of {@code dst}. */
    void gatherOutputGradRows(DeviceSlice dst, DeviceSlice paddedDy, int directions, int d, long first, long end, int width) {
        gather(dst, width, 0, paddedDy, directions * width, d * width, pool.whole(paddedRowOfPacked(d)).plus(first),
                Math.toIntExact(end - first), width, false);
    }

    /**
     * dL/dx of packed rows [first, end) of direction d, downloaded as the dense rows of
     * {@code segment}, into the padded host dx (rows of {@code width}): written for the first
     * direction, added for the second (the sum the device forms in {@link #inputGrad}).
     */
    void scatterInputGradToHost(Tensor dx, Tensor segment, int d, long first, long end, int width) {
        int[] padded = paddedRowOfPackedHost(d);
        for (long r = first; r < end; r++) {
            int p = padded[Math.toIntExact(r)];
            if (p >= 0) copyRow(dx, (long) p * width, segment, (r - first) * width, width, d > 0);
        }
    }

    /**
     * y of steps [a, b) of direction d into the padded host y (rows of D·W): {@code segment} holds
     * the state rows from slot a+1 (h after step a) on, dense.
     */
    void scatterOutputToHost(Tensor y, int directions, int d, Tensor segment, int a, int b, int width) {
        int[] padded = paddedRowOfPackedHost(d);
        long firstState = layout.slotOffset(a + 1);
        for (int tau = a; tau < b; tau++) {
            long slot = layout.slotOffset(tau), next = layout.slotOffset(tau + 1);
            for (int j = 0; j < layout.alive(tau); j++) {
                int p = padded[Math.toIntExact(slot + j)];
                copyRow(y, (long) p * directions * width + (long) d * width, segment, (next + j - firstState) * width, width, false);
            }
        }
    }

    private static void copyRow(Tensor target, long to, Tensor source, long from, int width, boolean accumulate) {
        int t0 = Math.toIntExact(to), s0 = Math.toIntExact(from);
        switch (target.dtype()) {
            case F32 -> {
                float[] t = target.f32(), v = source.f32();
                if (accumulate) for (int k = 0; k < width; k++) t[t0 + k] += v[s0 + k];
                else System.arraycopy(v, s0, t, t0, width);
            }
            case F64 -> {
                double[] t = target.f64(), v = source.f64();
                if (accumulate) for (int k = 0; k < width; k++) t[t0 + k] += v[s0 + k];
                else System.arraycopy(v, s0, t, t0, width);
            }
            default -> throw new AssertionError(target.dtype());
        }
    }

    /** Sorted rows of {@code sorted} into row stateRow of a (L·D, B, W) tensor, batch order (final states gathered per segment). */
    void sortedToBatch(DeviceSlice states, int stateRow, DeviceSlice sorted, int width) {
        initialStateGrad(states, stateRow, sorted, width);
    }
}
