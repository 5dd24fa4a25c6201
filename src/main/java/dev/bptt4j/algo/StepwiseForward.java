package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.backend.SliceCursor;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The forward without saved activations, for inference and streaming: one time step at a time
 * through every layer, keeping only each layer's running states (two rows of B per state, used in
 * turn), so its workspace is O(B·(gates + states)) per layer whatever T is. Per step and layer it
 * runs the same work as the training forward's time loop for one slot, with the input projection
 * of that step alone ({@code x_t·W_ihᵀ}, B rows) instead of one GEMM over all steps: so a
 * sequence given whole, in chunks or one step at a time gives the same bits, and the training
 * forward's within rounding (its one big GEMM may add in another order).
 *
 * <p>x arrives and y leaves a chunk of steps at a time (time-major or batch-first, as the stack's
 * shape says). Sequences run sorted longest first, as in {@link BatchLayout}; with lengths, a
 * sequence stops at its own and keeps the states after its last step. Unidirectional stacks only:
 * a reverse direction needs each sequence's end first.
 */
public final class StepwiseForward {
    private final StackShape shape;
    private final Cell cell;
    private final Backend backend;
    private final LayerParameters[][] parameters;
    private final BufferPool pool;
    private final DType dtype;
    private final List<StateSpec> states;
    private final LayerStorage[] storage;
    private final StepContext step;
    private final KernelArgs gatherArgs;
    /** Cursors over a step's rows (the layer below's states, the top layer's, y, an index's step), so a step creates no objects. */
    private SliceCursor below, top, yRow, indexRows;

    private int batch;
    private BatchLayout layout;
    /** Steps run so far; the states after step t − 1 are in rows (t % 2)·B of each state storage. */
    private int done;
    private int[] sortedOf, originalOf;

    public StepwiseForward(StackShape shape, Backend backend, LayerParameters[][] parameters, BufferPool pool) {
        if (shape.directions() != 1) {
            throw new IllegalArgumentException("step-wise forward: a bidirectional stack's reverse direction needs each sequence's end first");
        }
        this.shape = shape;
        this.cell = shape.cell();
        this.backend = backend;
        this.parameters = parameters;
        this.pool = pool;
        this.dtype = shape.dtype();
        this.states = cell.states();
        this.storage = new LayerStorage[shape.layers()];
        for (int l = 0; l < storage.length; l++) storage[l] = new LayerStorage(pool, cell, dtype, "infer.l" + l + ".", shape.layerInputSize(l));
        this.step = new StepContext(backend, cell, dtype);
        this.gatherArgs = Packing.GATHER_ROWS.args(dtype);
    }

    /**
     * Starts B sequences of {@code steps} steps at most (lengths: each one's, 1..steps, or null for
     * sequences that run as long as they are fed) from the initial states (null: zeros).
     */
    public void begin(int batch, int steps, int[] lengths, States initial) {
        this.batch = batch;
        this.layout = lengths == null ? null : BatchLayout.of(steps, batch, lengths);
        this.done = 0;
        this.sortedOf = layout == null ? identity(batch) : layout.sortedOfOriginal();
        this.originalOf = layout == null ? identity(batch) : layout.originalOfSorted();
        DeviceBuffer originalRows = index("infer.originalOfSorted", originalOf);
        States given = States.orZeros(initial);
        for (int l = 0; l < storage.length; l++) {
            storage[l].take(batch, 2L * batch);
            for (int i = 0; i < states.size(); i++) {
                int width = states.get(i).width();
                Tensor t = given.get(states.get(i).name());
                DeviceSlice initialRows = pool.whole(pool.get("infer.initial." + i, dtype, (long) shape.layers() * batch * width));
                if (t == null) Packing.fill(backend, initialRows, (long) shape.layers() * batch * width, 0.0);
                else backend.upload(t, initialRows);
                gather(pool.whole(storage[l].states[i]), width, 0, initialRows.plus((long) l * batch * width), width, 0, originalRows, batch, width);
            }
        }
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    private DeviceBuffer index(String role, int[] values) {
        DeviceBuffer b = pool.get(role, DType.I32, values.length);
        backend.upload(Tensor.ofInts(values, values.length), pool.whole(b));
        return b;
    }

    private void gather(DeviceSlice dst, int dstStride, int dstColumn, DeviceSlice src, int srcStride, int srcColumn, DeviceBuffer index,
                        int rows, int width) {
        gatherArgs.on(backend).pointer(dst).pointer(src).pointer(pool.whole(index))
                .int32(rows).int32(width).int32(dstStride).int32(dstColumn).int32(srcStride).int32(srcColumn).int32(0).launch();
    }

    /** Sequences alive at global step t. */
    private int alive(int t) {
        return layout == null ? batch : (t < layout.steps() ? layout.alive(t) : 0);
    }

    /**
     * The next {@code chunk} steps: x ((C, B, I), or (B, C, I) batch-first) in, y of the top layer
     * ((C, B, W) or (B, C, W), zero past each length) out.
     */
    public Tensor next(Tensor x) {
        boolean bf = shape.batchFirst();
        int chunk = x.dim(bf ? 1 : 0), inputWidth = shape.inputSize(), width = cell.outputSize();
        if (layout != null && done + chunk > layout.steps()) {
            throw new IllegalArgumentException("x: " + chunk + " more steps run past the " + layout.steps() + " the lengths were given for");
        }
        DeviceBuffer xs = pool.get("infer.x", dtype, x.size()), ys = pool.get("infer.y", dtype, (long) chunk * batch * width);
        backend.upload(x, pool.whole(xs));
        // Per step s of the chunk: the padded row of each sorted live sequence (x in), and the sorted
        // row of each sequence in batch order, −1 once it has ended (y out, zeros there).
        int[] xRows = new int[chunk * batch], yRows = new int[chunk * batch];
        for (int s = 0; s < chunk; s++) {
            int alive = alive(done + s);
            for (int j = 0; j < batch; j++) xRows[s * batch + j] = j < alive ? padded(s, originalOf[j], chunk) : -1;
            for (int b = 0; b < batch; b++) yRows[s * batch + b] = sortedOf[b] < alive ? sortedOf[b] : -1;
        }
        DeviceBuffer xIndex = index("infer.xRows", xRows), yIndex = index("infer.yRows", yRows);
        if (below == null) {
            below = new SliceCursor(ys, 0);
            top = new SliceCursor(ys, 0);
            yRow = new SliceCursor(ys, 0);
            indexRows = new SliceCursor(yIndex, 0);
        }
        for (int s = 0; s < chunk; s++, done++) {
            int alive = alive(done);
            long previous = (long) (done % 2) * batch, next = (long) ((done + 1) % 2) * batch;
            if (alive > 0) {
                for (int l = 0; l < storage.length; l++) {
                    LayerStorage st = storage[l];
                    int in = shape.layerInputSize(l);
                    DeviceSlice input;
                    if (l == 0) {
                        input = pool.whole(st.input(batch));
                        gather(input, in, 0, pool.whole(xs), in, 0, xIndex, alive, in, (long) s * batch);
                    } else {
                        input = below.moveTo(storage[l - 1].states[Cell.H], next * width);
                    }
                    layerStep(l, st, input, in, alive, previous, next, s);
                }
            }
            // y of step s: each sequence's top-layer state after it, zero once it has ended.
            gather(yRow.moveTo(ys, bf ? (long) s * width : (long) s * batch * width), bf ? chunk * width : width, 0,
                    top.moveTo(storage[storage.length - 1].states[Cell.H], next * width), width, 0, yIndex, batch, width, (long) s * batch);
        }
        return backend.download(pool.whole(ys), bf ? new int[]{batch, chunk, width} : new int[]{chunk, batch, width});
    }

    private void gather(DeviceSlice dst, int dstStride, int dstColumn, DeviceSlice src, int srcStride, int srcColumn, DeviceBuffer index,
                        int rows, int width, long indexOffset) {
        gatherArgs.on(backend).pointer(dst).pointer(src).pointer(indexRows.moveTo(index, indexOffset))
                .int32(rows).int32(width).int32(dstStride).int32(dstColumn).int32(srcStride).int32(srcColumn).int32(0).launch();
    }

    /** The padded row of local step s of sequence b in a chunk of x. */
    private int padded(int s, int b, int chunk) {
        return shape.batchFirst() ? b * chunk + s : s * batch + b;
    }

    /** One layer's step: x_t·W_ihᵀ, the recurrent product, the cell; states from row {@code previous} to row {@code next}. */
    private void layerStep(int l, LayerStorage st, DeviceSlice input, int inputWidth, int alive, long previous, long next, int s) {
        final int gates = cell.gateWidth(), width = cell.outputSize();
        LayerParameters w = parameters[l][0];
        DeviceSlice g = pool.whole(st.gates);
        backend.gemm(false, true, alive, gates, inputWidth, 1.0, input, inputWidth, w.value(Cell.WEIGHT_IH), inputWidth, 0.0, g, gates);
        step.bind(st, w, 0, null, null);
        step.moveTo(0, previous, next, alive, alive);
        double beta = cell.separateRecurrentGates() ? 0.0 : 1.0;
        backend.gemm(false, true, alive, gates, width, 1.0, step.previous(Cell.H), width, w.value(Cell.WEIGHT_HH), width, beta,
                step.recurrentGates(), gates);
        cell.forward(step);
    }

    /** Every state after each sequence's last step so far, (L, B, width) by name. */
    public States states() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        int[] rows = new int[batch];
        for (int b = 0; b < batch; b++) {
            int j = sortedOf[b], steps = layout == null ? done : Math.min(done, layout.lengthOfSorted(j));
            rows[b] = (steps % 2) * batch + j;
        }
        DeviceBuffer rowIndex = index("infer.finalRows", rows);
        for (int i = 0; i < states.size(); i++) {
            int width = states.get(i).width();
            DeviceSlice finals = pool.whole(pool.get("infer.final." + i, dtype, (long) shape.layers() * batch * width));
            for (int l = 0; l < storage.length; l++) {
                gather(finals.plus((long) l * batch * width), width, 0, pool.whole(storage[l].states[i]), width, 0, rowIndex, batch, width);
            }
            out.put(states.get(i).name(), backend.download(finals, shape.layers(), batch, width));
        }
        return States.of(out);
    }

    /** Steps run since {@link #begin}. */
    public int stepsDone() {
        return done;
    }

    public int batch() {
        return batch;
    }
}
