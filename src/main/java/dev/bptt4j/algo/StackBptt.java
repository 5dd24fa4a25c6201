package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.KernelArgs;
import dev.bptt4j.backend.PackedOperand;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.cell.Sweep;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Backpropagation through time for a stack of recurrent layers, written once over
 * {@link Backend}; what differs between cells is the {@link Cell}.
 *
 * <p>{@link #forward}, per layer and direction: the layer input in the packed slot layout
 * ({@link BatchLayout}, moved there by {@link BatchPacking}); one GEMM {@code gates = X·W_ihᵀ} over
 * all steps; then per step one GEMM {@code h_{τ−1}·W_hhᵀ} for all gates over the live rows and
 * the cell's pointwise step, which writes the states of slot τ+1. Everything stays on the device
 * for {@link #backward}, which sweeps τ = T−1..0 with the cell's pointwise backward (gate deltas
 * over the gate storage) and one GEMM {@code carry_h = δ_hh·W_hh} per step, then forms each
 * weight gradient with a single GEMM over all steps: {@code dW_ih = δ_ihᵀ·X},
 * {@code dW_hh = δ_hhᵀ·H}, {@code db = Σ δ}, and {@code dX = δ_ih·W_ih}.
 *
 * <p>States travel as one value ({@link States}): every state of the cell (h; h and c) goes in,
 * comes out, and has its gradient carried, in the same code.
 *
 * <p>A backend may run a full batch's time loops as lanes ({@link Backend#lanes}): each lane takes
 * a contiguous range of every slot's rows through the whole loop (rows of a batch do not interact
 * within a layer-direction), with its own packed weight, carries and {@link StepContext}.
 *
 * <p>Parameter gradients are accumulated (beta = 1) so that truncated BPTT and gradient
 * accumulation need no extra pass; gradients of activations are assigned. No host transfer or
 * synchronisation happens inside either time loop, and nothing is allocated there.
 */
public final class StackBptt {
    /**
     * Sees the gradient carried back through the recurrence at every step of the backward, for
     * diagnostics. Setting one makes the backward download the carry at each step (a host sync
     * per step); with none set (the default) the time loop never touches the host.
     */
    @FunctionalInterface
    public interface CarryObserver {
        /**
         * After step τ of the backward of layer {@code layer}, direction {@code direction}: {@code carry}
         * (alive(τ) × width of h, sorted rows) is dL/dh_{τ−1} through the recurrence.
         */
        void afterStep(int layer, int direction, int tau, Tensor carry);
    }

    /** y (T, B, D·W) and every final state (L·D, B, width) of a forward pass. */
    public record Outputs(Tensor output, States finalStates) {
    }

    /** Gradients of the inputs: dL/dx (null when not asked for) and of every initial state. */
    public record InputGradients(Tensor input, States initialStates) {
    }

    private final StackShape shape;
    private final Cell cell;
    private final Backend backend;
    private final LayerParameters[][] parameters;
    private final BufferPool pool;
    private final DType dtype;
    private final List<StateSpec> states;
    private final LayerStorage[][] storage;
    private final BatchPacking packing;
    private final HostResults results;
    private final List<StepContext> lanes = new ArrayList<>();
    /** Per state: the padded initial and final states, and their gradients, (L·D, B, width) each. */
    private final String[] initialRoles, finalRoles, initialGradRoles, finalGradRoles, carryRoles;

    private BatchLayout layout;
    /** Step boundaries of the blocks the whole-sequence GEMMs run over ({@link TimeBlocks}). */
    private int[] blocks;
    /**
     * With activation checkpointing, the step boundaries of the segments (whole blocks) between
     * which states are kept; null when every step's activations are kept.
     */
    private int[] segments;
    /** The steps [loopFrom, loopTo) the next time loop runs, and the slot row its per-step storage starts at (0 for a whole pass). */
    private int loopFrom, loopTo;
    private long loopBase;
    /** A checkpointed pass's x, read again by its backward (on the host, or on the device). */
    private Tensor passInput;
    private DeviceSlice passInputOnDevice;
    /** A checkpointed host forward's y, written segment by segment (null otherwise). */
    private Tensor streamedOutput;
    private boolean backwardPending;
    private boolean outputGathered;
    /** Per direction, where the last forward's layer 0 read its input: its own buffer, or a caller's x in place. */
    private DeviceSlice[] firstLayerInput;
    private CarryObserver carryObserver;
    /** The opt-in NaN/Inf check after every step ({@link FiniteChecks}); off by default. */
    private boolean checkFinite;
    private DeviceBuffer ones;
    /** Dropout: training mode, the mask seed, and the count of training forwards (the masks' stream). */
    private boolean training = true;
    private long dropoutSeed, dropoutStream;
    /** Whether the last forward dropped (its backward must apply the same masks), and its stream. */
    private boolean passDropped;
    private long passStream;
    private final KernelArgs dropoutArgs, dropoutBackArgs;
    /** One argument block for the fills of a pass (zero states, the ones row), which run one after another. */
    private final KernelArgs fillArgs;

    public StackBptt(StackShape shape, Backend backend, LayerParameters[][] parameters, BufferPool pool) {
        this.shape = shape;
        this.cell = shape.cell();
        this.backend = backend;
        this.parameters = parameters;
        this.pool = pool;
        this.dtype = shape.dtype();
        this.states = cell.states();
        this.storage = new LayerStorage[shape.layers()][shape.directions()];
        for (int l = 0; l < shape.layers(); l++) {
            for (int d = 0; d < shape.directions(); d++) storage[l][d] = new LayerStorage(pool, cell, dtype, l, d, shape.layerInputSize(l));
        }
        this.packing = new BatchPacking(backend, pool, dtype);
        this.results = new HostResults(backend, dtype);
        this.fillArgs = Packing.FILL.args(dtype);
        this.dropoutArgs = Dropout.FORWARD.args(dtype);
        this.dropoutBackArgs = Dropout.BACKWARD.args(dtype);
        int n = states.size();
        initialRoles = new String[n];
        finalRoles = new String[n];
        initialGradRoles = new String[n];
        finalGradRoles = new String[n];
        carryRoles = new String[n];
        for (int i = 0; i < n; i++) {
            StateSpec s = states.get(i);
            initialRoles[i] = s.initialName();
            finalRoles[i] = s.finalName();
            initialGradRoles[i] = "d" + s.initialName();
            finalGradRoles[i] = "d" + s.finalName();
            carryRoles[i] = "carry." + s.name();
        }
    }

    /** Installs (or with null removes) the observer of the backward's carried gradient. */
    public void setCarryObserver(CarryObserver observer) {
        this.carryObserver = observer;
    }

    /** Checks activations and gradients for NaN/Inf after every step (a host sync per step). */
    public void setCheckFinite(boolean on) {
        checkFinite = on;
    }

    /** Training mode (dropout between layers applies) or evaluation mode (it does not). */
    public void setTraining(boolean on) {
        training = on;
    }

    public boolean isTraining() {
        return training;
    }

    /** The seed of the dropout masks. */
    public void setDropoutSeed(long seed) {
        dropoutSeed = seed;
    }

    public long dropoutSeed() {
        return dropoutSeed;
    }

    /** How many forwards have dropped so far: the next one draws its masks from this stream. */
    public long dropoutStream() {
        return dropoutStream;
    }

    /** Sets the stream of the next dropping forward (to replay one, or to resume a run). */
    public void setDropoutStream(long stream) {
        dropoutStream = stream;
    }

    private boolean dropping() {
        return training && shape.dropout() > 0 && shape.layers() > 1;
    }

    /** See {@link HostResults}: the host tensors of y, the states and dL/dx reused call after call. */
    public void setReuseResults(boolean on) {
        results.setReuse(on);
    }

    /** T and B of the last forward. */
    public int steps() {
        return layout.steps();
    }

    public int batch() {
        return layout.batch();
    }

    private long stateElements(int i) {
        return (long) shape.stateRows() * layout.batch() * states.get(i).width();
    }

    // ======================================================================================
    // forward
    // ======================================================================================

    /** Runs the stack over x (T, B, I) on the host and returns y and the final states as host tensors. */
    public Outputs forward(Tensor x, States initial, int[] lengths) {
        run(x, null, steps(x), batch(x), initial, lengths, true);
        return outputs();
    }

    /** {@link #forward} without the downloads: y and the final states stay on the device. */
    public void forwardOnDevice(Tensor x, States initial, int[] lengths) {
        run(x, null, steps(x), batch(x), initial, lengths, false);
    }

    /** T of a padded tensor: dim 0, or dim 1 batch-first. */
    private int steps(Tensor padded) {
        return padded.dim(shape.batchFirst() ? 1 : 0);
    }

    private int batch(Tensor padded) {
        return padded.dim(shape.batchFirst() ? 0 : 1);
    }

    /**
     * {@link #forwardOnDevice} with x (T, B, I) padded on the device, read in place: with every
     * sequence of length T the forward direction's GEMMs (the input projection now, dW_ih in the
     * backward) read it directly, so it must stay unchanged until the backward.
     */
    public void forwardOnDevice(DeviceSlice x, int steps, int batch, States initial, int[] lengths) {
        run(null, x, steps, batch, initial, lengths, false);
    }

    /** y and the final states of the last forward, downloaded (into reused tensors when reuse is on). */
    public Outputs outputs() {
        final int steps = layout.steps(), batch = layout.batch(), dirs = shape.directions(), width = cell.outputSize();
        Tensor y;
        DeviceSlice[] top = streamedOutput == null ? topStates() : null;
        if (streamedOutput != null) {
            y = streamedOutput;
        } else if (packing.full() && dirs == 1) {
            // The top layer's states are in padded order one slot after h0: y is one copy.
            y = results.download("y", top[0].plus((long) batch * width), steps, batch, width);
        } else if (dirs == 1 && !shape.batchFirst()) {
            y = results.tensor("y", steps, batch, width);
            packing.downloadOutput(y, top[0], width);
        } else {
            // Two directions fill y's two column halves on the device (or a batch-first y is gathered
            // there), so y crosses to the host once.
            y = shape.batchFirst() ? results.download("y", paddedOutput(), batch, steps, dirs * width)
                    : results.download("y", paddedOutput(), steps, batch, dirs * width);
        }
        Tensor[] finals = new Tensor[states.size()];
        for (int i = 0; i < finals.length; i++) {
            finals[i] = results.download(finalRoles[i], finalStates(i), shape.stateRows(), batch, states.get(i).width());
        }
        return new Outputs(y, results.states("final", states, finals));
    }

    /** The top layer's h of every step in its slot layout: its state storage, or a checkpointed pass's kept output. */
    private DeviceSlice[] topStates() {
        int top = shape.layers() - 1;
        DeviceSlice[] s = new DeviceSlice[shape.directions()];
        for (int d = 0; d < s.length; d++) s[d] = hiddenOfPass(top, d);
        return s;
    }

    private DeviceSlice hiddenOfPass(int l, int d) {
        return segments == null ? pool.whole(storage[l][d].states[Cell.H]) : storage[l][d].output(layout.hiddenRows());
    }

    /** y of the last forward on the device: (T, B, D·W) padded, zero past each length; gathered on first use after each forward. */
    public DeviceSlice paddedOutput() {
        DeviceSlice y = pool.whole(pool.get("y", dtype, (long) layout.steps() * layout.batch() * shape.outputWidth()));
        if (!outputGathered) {
            // A checkpointed host forward kept no h on the device: its y crosses back.
            if (streamedOutput != null) backend.upload(streamedOutput, y);
            else packing.output(y, topStates(), shape.directions(), cell.outputSize());
            outputGathered = true;
        }
        return y;
    }

    /** Final state {@code i} of the last forward on the device: (L·D, B, width). */
    public DeviceSlice finalStates(int i) {
        return pool.whole(pool.get(finalRoles[i], dtype, stateElements(i)));
    }

    /**
     * y of the last forward on the device, without a copy where the layout allows it: a full,
     * one-direction batch's top-layer states are y row for row. Read-only; valid until the next forward.
     */
    public DeviceSlice outputInPlace() {
        if (packing.full() && shape.directions() == 1 && streamedOutput == null) return topStates()[0].plus((long) layout.batch() * cell.outputSize());
        return paddedOutput();
    }

    /**
     * The forward. Lengths and the workspace's size are checked before anything changes, so a
     * refused forward leaves the last pass differentiable.
     */
    private void run(Tensor x, DeviceSlice xOnDevice, int steps, int batch, States initial, int[] lengths, boolean hostOutput) {
        BatchLayout next = BatchLayout.of(steps, batch, lengths, shape.batchFirst());
        int[] nextBlocks = TimeBlocks.of(steps, batch);
        int interval = shape.checkpointInterval(steps);
        int[] nextSegments = interval == 0 ? null : TimeBlocks.segments(nextBlocks, interval);
        WorkspaceLimits.check(shape, next, backend, nextSegments);
        layout = next;
        blocks = nextBlocks;
        segments = nextSegments;
        streamedOutput = null;
        passInput = null;
        passInputOnDevice = null;
        packing.use(layout);
        outputGathered = false;
        backwardPending = false;
        passDropped = dropping();
        if (passDropped) passStream = dropoutStream++;
        final int dirs = shape.directions(), layers = shape.layers();
        final long packedRows = layout.packedRows(), stateRows = layout.hiddenRows();

        if (xOnDevice != null && checkFinite) {
            FiniteChecks.require(backend, xOnDevice, (long) steps * batch * shape.inputSize(), "input x");
        }
        if (segments != null) {
            passInput = x;
            passInputOnDevice = xOnDevice;
            forwardCheckpointed(uploadStates(initial, initialRoles), hostOutput);
            backwardPending = true;
            return;
        }
        firstLayerInput = packing.firstLayerInputs(x, xOnDevice, dirs, shape.inputSize(), d -> storage[0][d].input(packedRows), dtype);
        DeviceSlice[] initialStates = uploadStates(initial, initialRoles);

        for (int l = 0; l < layers; l++) {
            DeviceSlice[] below = l == 0 ? null : new DeviceSlice[dirs];
            if (below != null) for (int d = 0; d < dirs; d++) below[d] = pool.whole(storage[l - 1][d].states[Cell.H]);
            for (int d = 0; d < dirs; d++) {
                LayerStorage s = storage[l][d];
                s.take(packedRows, stateRows);
                DeviceSlice in;
                if (l == 0) {
                    in = firstLayerInput[d];
                } else {
                    in = pool.whole(s.input(packedRows));
                    packing.nextLayerInput(in, dirs, d, below, cell.outputSize());
                    if (passDropped) dropout(l, d, s, in, packedRows);
                }
                for (int i = 0; i < states.size(); i++) {
                    packing.initialState(pool.whole(s.states[i]), initialStates[i], l * dirs + d, states.get(i).width());
                }
                forwardLayer(l, d, s, in);
            }
        }
        for (int i = 0; i < states.size(); i++) {
            for (int l = 0; l < layers; l++) {
                for (int d = 0; d < dirs; d++) {
                    packing.finalState(finalStates(i), l * dirs + d, pool.whole(storage[l][d].states[i]), states.get(i).width());
                }
            }
        }
        backwardPending = true;
    }

    /** Layer l−1's output as layer l reads it (direction d's slot layout), dropped in place; the mask kept for the backward. */
    private void dropout(int l, int d, LayerStorage s, DeviceSlice in, long packedRows) {
        double p = shape.dropout();
        dropoutArgs.on(backend).pointer(in).pointer(s.dropoutMask(packedRows)).pointer(pool.whole(packing.timeRowOfPacked(d)))
                .int32(Math.toIntExact(packedRows)).int32(s.inputWidth()).int32(cell.outputSize()).int32(l - 1)
                .int64(dropoutSeed).int64(passStream).float64(p).real(1.0 / (1.0 - p))
                .launch();
    }

    // ---- activation checkpointing: the forward ----


    /**
     * The forward of a checkpointed pass, layer by layer: each layer-direction runs segment by
     * segment through per-step storage for one segment, keeping every state at each segment's start
     * (its checkpoints), the final states, and h of every step where something reads it later (the
     * next layer's input; y on the device). A host forward's y goes to the host segment by segment.
     */
    private void forwardCheckpointed(DeviceSlice[] initialStates, boolean hostOutput) {
        final int dirs = shape.directions(), layers = shape.layers(), batch = layout.batch(), hidden = cell.outputSize();
        final long packedRows = layout.packedRows(), segmentRows = TimeBlocks.segmentRows(layout, segments, false);
        final long segmentStateRows = TimeBlocks.segmentRows(layout, segments, true);
        final int count = segments.length - 1;
        if (hostOutput) {
            streamedOutput = shape.batchFirst() ? results.tensor("y", batch, layout.steps(), shape.outputWidth())
                    : results.tensor("y", layout.steps(), batch, shape.outputWidth());
            zero(streamedOutput);
        }
        for (int l = 0; l < layers; l++) {
            for (int d = 0; d < dirs; d++) {
                LayerStorage s = storage[l][d];
                s.take(segmentRows, segmentStateRows);
                DeviceSlice in = null;
                if (l > 0) {
                    in = pool.whole(s.input(packedRows));
                    DeviceSlice[] below = new DeviceSlice[dirs];
                    for (int e = 0; e < dirs; e++) below[e] = storage[l - 1][e].output(layout.hiddenRows());
                    packing.nextLayerInput(in, dirs, d, below, hidden);
                    if (passDropped) dropout(l, d, s, in, packedRows);
                }
                boolean keepOutput = l < layers - 1 || !hostOutput;
                DeviceSlice output = keepOutput ? s.output(layout.hiddenRows()) : null;
                for (int i = 0; i < count; i++) {
                    int a = segments[i], b = segments[i + 1];
                    long base = layout.slotOffset(a);
                    for (int k = 0; k < states.size(); k++) {
                        int width = states.get(k).width();
                        DeviceSlice stored = pool.whole(s.states[k]);
                        if (i == 0) {
                            packing.initialState(stored, initialStates[k], l * dirs + d, width);
                        } else {
                            // The state after the last segment's last step, from its slot into slot 0.
                            long previousBase = layout.slotOffset(segments[i - 1]);
                            packing.copyRows(stored, stored.plus((base - previousBase) * width), layout.slotRows(a), width);
                        }
                        packing.copyRows(s.checkpoints(k, count, batch).plus((long) i * batch * width), stored, layout.slotRows(a), width);
                    }
                    long inBase = 0;
                    if (l == 0) {
                        in = segmentInput(s, d, a, b);
                        inBase = in == passInputOnDevice ? 0 : base;
                    }
                    forwardSteps(l, d, s, in, inBase, a, b, base);
                    keepFinalStates(s, a, b, base);
                    // h after each step of the segment: slots a+1 .. b.
                    long firstState = layout.slotOffset(a + 1);
                    int stateRows = Math.toIntExact(layout.slotOffset(b + 1) - firstState);
                    DeviceSlice h = pool.whole(s.states[Cell.H]).plus((firstState - base) * hidden);
                    if (output != null) packing.copyRows(output.plus(firstState * hidden), h, stateRows, hidden);
                    if (streamedOutput != null && l == layers - 1) {
                        Tensor rows = backend.download(h, stateRows, hidden);
                        packing.scatterOutputToHost(streamedOutput, dirs, d, rows, a, b, hidden);
                    }
                }
                for (int k = 0; k < states.size(); k++) {
                    packing.sortedToBatch(finalStates(k), l * dirs + d, s.finalSorted(k, batch), states.get(k).width());
                }
            }
        }
    }

    private static void zero(Tensor t) {
        switch (t.dtype()) {
            case F32 -> java.util.Arrays.fill(t.f32(), 0f);
            case F64 -> java.util.Arrays.fill(t.f64(), 0.0);
            default -> throw new AssertionError(t.dtype());
        }
    }

    /**
     * Layer 0's input for steps [a, b) of direction d: the caller's x on the device read in place
     * (a full forward direction), else its rows gathered (from the device) or uploaded (from the
     * host) into dense rows starting at slot row slotOffset(a).
     */
    private DeviceSlice segmentInput(LayerStorage s, int d, int a, int b) {
        final int width = shape.inputSize();
        if (passInputOnDevice != null && packing.full() && d == 0) return passInputOnDevice;
        long first = layout.slotOffset(a), end = layout.slotOffset(b);
        DeviceSlice dst = s.segmentInput(TimeBlocks.segmentRows(layout, segments, false));
        if (passInputOnDevice != null) packing.gatherInputRows(dst, passInputOnDevice, d, first, end, width);
        else packing.uploadInputRows(dst, passInput, d, first, end, width);
        return dst;
    }

    /** The states of the sequences whose last step falls in [a, b), into their sorted rows of each state's final storage. */
    private void keepFinalStates(LayerStorage s, int a, int b, long base) {
        int batch = layout.batch();
        // Sorted longest first: the sequences ending in the segment are rows [j0, j1), grouped by length.
        int j = 0;
        while (j < batch && layout.lengthOfSorted(j) > b) j++;
        while (j < batch && layout.lengthOfSorted(j) > a) {
            int length = layout.lengthOfSorted(j), end = j;
            while (end < batch && layout.lengthOfSorted(end) == length) end++;
            for (int k = 0; k < states.size(); k++) {
                int width = states.get(k).width();
                DeviceSlice from = pool.whole(s.states[k]).plus((layout.slotOffset(length) - base + j) * width);
                packing.copyRows(s.finalSorted(k, batch).plus((long) j * width), from, end - j, width);
            }
            j = end;
        }
    }

    /** Uploads each state given (zeros for the rest) into its (L·D, B, width) buffer. */
    private DeviceSlice[] uploadStates(States given, String[] roles) {
        given = States.orZeros(given);
        DeviceSlice[] out = new DeviceSlice[states.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = pool.whole(pool.get(roles[i], dtype, stateElements(i)));
            Tensor t = given.get(states.get(i).name());
            if (t == null) fillArgs.on(backend).pointer(out[i]).real(0.0).int64(stateElements(i)).launch();
            else backend.upload(t, out[i]);
        }
        return out;
    }

    /** One layer-direction's forward: the input projection for all steps (a GEMM per block), then the time loop (as lanes). */
    private void forwardLayer(int l, int d, LayerStorage s, DeviceSlice in) {
        forwardSteps(l, d, s, in, 0, 0, layout.steps(), 0);
    }

    /**
     * Steps [a, b) of a layer-direction's forward: their input projection (a GEMM per block; row 0
     * of {@code in} is slot row {@code inBase}), then their time loop, from the states in the slot
     * of step a; the per-step storage starts at slot row {@code base}.
     */
    private void forwardSteps(int l, int d, LayerStorage s, DeviceSlice in, long inBase, int a, int b, long base) {
        final int gates = cell.gateWidth(), width = s.inputWidth();
        LayerParameters w = parameters[l][d];
        DeviceSlice preActivations = pool.whole(s.gates);
        for (int k = 0; k + 1 < blocks.length; k++) {
            if (blocks[k] < a || blocks[k + 1] > b) continue;
            long first = layout.slotOffset(blocks[k]);
            int rows = Math.toIntExact(layout.slotOffset(blocks[k + 1]) - first);
            if (rows == 0) continue;
            backend.gemm(false, true, rows, gates, width, 1.0, in.plus((first - inBase) * width), width, w.value(Cell.WEIGHT_IH), width, 0.0,
                    preActivations.plus((first - base) * gates), gates);
        }
        loopFrom = a;
        loopTo = b;
        loopBase = base;
        acrossLanes(l, d, s, true, null, null, this::forwardSteps);
    }

    /** One lane's time loop: rows [step.lo(), hi) of every slot, with the recurrent weight packed for the lane's rows (or null). */
    @FunctionalInterface
    private interface TimeLoop {
        void run(int layer, int direction, StepContext step, LayerParameters w, PackedOperand packed, int hi);
    }

    /**
     * Runs a layer-direction's time loop as the backend's lanes, each with its own step context
     * and its own W_hh packed once for the steps where all of the lane's rows are alive (op(W_hh)
     * is W_hhᵀ in the forward, W_hh in the backward; null where the backend gains nothing).
     */
    private void acrossLanes(int l, int d, LayerStorage s, boolean forward, DeviceBuffer[] carries, DeviceSlice outputGrad, TimeLoop loop) {
        final int gates = cell.gateWidth(), width = cell.outputSize();
        LayerParameters w = parameters[l][d];
        int lanes = lanes(layout.batch(), gates);
        int[] bounds = laneBounds(lanes);
        PackedOperand[] packs = forward ? packs(true, bounds, gates, width, w.value(Cell.WEIGHT_HH))
                : packs(false, bounds, width, gates, w.value(Cell.WEIGHT_HH));
        for (int i = 0; i < lanes; i++) lane(i).bind(s, w, bounds[i], carries, outputGrad);
        try {
            backend.runLanes(lanes, lane -> loop.run(l, d, lane(lane), w, packs[lane], bounds[lane + 1]));
        } finally {
            closeAll(packs);
        }
    }

    /**
     * The forward time loop over rows [lo, hi) of every slot (a lane; the whole batch is lane
     * [0, B)): at step τ the lane's live rows are those of the first alive(τ) it holds.
     */
    private void forwardSteps(int l, int d, StepContext step, LayerParameters w, PackedOperand packed, int hi) {
        final int lo = step.lo(), gates = cell.gateWidth(), width = cell.outputSize();
        final double recurrentBeta = cell.separateRecurrentGates() ? 0.0 : 1.0;
        for (int tau = loopFrom; tau < loopTo; tau++) {
            int alive = Math.min(layout.alive(tau), hi) - lo;
            if (alive <= 0) break;
            step.moveTo(layout.slotOffset(tau) - loopBase + lo, layout.slotOffset(tau + 1) - loopBase + lo, alive, alive);
            recurrentProduct(packed, true, alive, gates, width, step.previous(Cell.H), w.value(Cell.WEIGHT_HH), recurrentBeta, step.recurrentGates());
            cell.forward(step);
            if (checkFinite) {
                for (int i = 0; i < states.size(); i++) {
                    FiniteChecks.require(backend, step.next(i), (long) alive * states.get(i).width(),
                            stateLabel(i) + " " + FiniteChecks.at(l, d, tau));
                }
            }
        }
    }

    private String stateLabel(int i) {
        return states.get(i).name().equals("h") ? "hidden state h" : states.get(i).name().equals("c") ? "cell state c" : "state " + states.get(i).name();
    }

    // ======================================================================================
    // backward
    // ======================================================================================

    /**
     * Backward of the last forward; consumes it (the gates are overwritten by deltas).
     *
     * @param dy         (T, B, D·W) on the host
     * @param finalGrads gradients of the final states, (L·D, B, width) each; absent ones are zeros
     * @param inputGrad  whether to form dL/dx (skipping saves one GEMM over all steps)
     */
    public InputGradients backward(Tensor dy, States finalGrads, boolean inputGrad) {
        requirePending();
        final int dirs = shape.directions(), width = cell.outputSize();
        if (segments != null) return sweepCheckpointed(dy, null, finalGrads, inputGrad, null);
        if (dirs == 1 && !shape.batchFirst()) {
            // One direction takes dy's rows straight into its slot layout.
            LayerStorage top = storage[shape.layers() - 1][0];
            DeviceSlice target = top.outputGrad(layout.packedRows());
            packing.uploadOutputGrad(dy, target, width);
            return sweep(null, target, finalGrads, inputGrad, null);
        }
        // Both directions (or a batch-first dy) gather their rows from one padded copy of dy on the device.
        DeviceSlice padded = pool.whole(pool.get("dy.padded", dtype, dy.size()));
        backend.upload(dy, padded);
        return sweep(padded, null, finalGrads, inputGrad, null);
    }

    /** {@link #backward} with dy (T, B, D·W) padded on the device (read only); dL/dx comes back as a host tensor. */
    public InputGradients backwardOnDevice(DeviceSlice dy, States finalGrads, boolean inputGrad) {
        requirePending();
        if (segments != null) return sweepCheckpointed(null, dy, finalGrads, inputGrad, null);
        return sweep(dy, null, finalGrads, inputGrad, null);
    }

    /**
     * {@link #backward} with dy (T, B, D·W) read in place on the device and dL/dx (T, B, I) written
     * into {@code inputGrad} (null: not formed); the result holds the initial states' gradients only.
     * A full one-direction batch reads dy and writes dL/dx without a copy.
     */
    public InputGradients backwardOnDevice(DeviceSlice dy, States finalGrads, DeviceSlice inputGrad) {
        requirePending();
        if (segments != null) return sweepCheckpointed(null, dy, finalGrads, inputGrad != null, inputGrad);
        return sweep(dy, null, finalGrads, inputGrad != null, inputGrad);
    }

    private void requirePending() {
        if (!backwardPending) throw new IllegalStateException("backward: no forward pass to differentiate (each forward can be differentiated once)");
    }

    /**
     * The backward sweep, top layer first. The top layer's dL/dh is gathered from {@code paddedDy}
     * ((T, B, D·W)), or with null is already in its slot layout in {@code packedDy}.
     */
    private InputGradients sweep(DeviceSlice paddedDy, DeviceSlice packedDy, States finalGrads, boolean inputGrad, DeviceSlice inputGradTarget) {
        backwardPending = false;
        final int dirs = shape.directions(), layers = shape.layers(), width = cell.outputSize();
        final int batch = layout.batch(), packedRows = Math.toIntExact(layout.packedRows());
        // A full one-direction batch's slot layout is the padded one: dy is read and dL/dx written in place.
        final boolean inPlace = packing.full() && dirs == 1;

        SweepStates sweepStates = sweepStates(finalGrads);
        DeviceSlice[] finalStateGrads = sweepStates.finalGrads(), initialStateGrads = sweepStates.initialGrads();
        DeviceBuffer[] carries = sweepStates.carries();

        for (int l = layers - 1; l >= 0; l--) {
            DeviceSlice[] inputGradsAbove = inputGradsAbove(l);
            for (int d = 0; d < dirs; d++) {
                LayerStorage s = storage[l][d];
                // dL/dh of this layer's output: dy (in place, or the workspace's copy), or what the layer above gave its input.
                DeviceSlice outputGrad;
                if (l < layers - 1) {
                    outputGrad = s.outputGrad(packedRows);
                    packing.outputGradFromAbove(outputGrad, inputGradsAbove, dirs, d, width);
                } else if (packedDy != null) {
                    outputGrad = packedDy;
                } else if (inPlace) {
                    outputGrad = paddedDy;
                } else {
                    outputGrad = s.outputGrad(packedRows);
                    packing.outputGrad(outputGrad, paddedDy, dirs, d, width);
                }
                if (checkFinite && l == layers - 1) {
                    FiniteChecks.require(backend, outputGrad, (long) packedRows * width, "output gradient dy (direction " + d + ")");
                }
                for (int i = 0; i < states.size(); i++) {
                    packing.finalStateGrad(pool.whole(carries[i]), finalStateGrads[i], l * dirs + d, states.get(i).width());
                }
                backwardLayer(l, d, s, outputGrad, carries);
                for (int i = 0; i < states.size(); i++) {
                    packing.initialStateGrad(initialStateGrads[i], l * dirs + d, pool.whole(carries[i]), states.get(i).width());
                }
                // dL/d(input) goes into the input's own buffer (no longer needed), or straight into
                // the caller's dL/dx, or nowhere (layer 0 without dL/dx).
                DeviceSlice inputGradient = null;
                if (l > 0) inputGradient = pool.whole(s.input);
                else if (inputGradTarget != null && inPlace) inputGradient = inputGradTarget;
                else if (inputGrad) inputGradient = pool.whole(s.input(packedRows));
                parameterGradients(l, d, s, l == 0 ? firstLayerInput[d] : pool.whole(s.input), inputGradient);
            }
        }
        Tensor dx = inputGrad ? inputGradient(inputGradTarget, inPlace) : null;
        Tensor[] initialGrads = new Tensor[states.size()];
        for (int i = 0; i < initialGrads.length; i++) {
            initialGrads[i] = results.download(initialGradRoles[i], initialStateGrads[i], shape.stateRows(), batch, states.get(i).width());
        }
        return new InputGradients(dx, results.states("initialGrads", states, initialGrads));
    }

    /** A sweep's state gradients: the final ones uploaded, the initial ones' buffers, and the carries (B rows each). */
    private record SweepStates(DeviceSlice[] finalGrads, DeviceSlice[] initialGrads, DeviceBuffer[] carries) {
    }

    private SweepStates sweepStates(States finalGrads) {
        DeviceSlice[] finals = uploadStates(finalGrads, finalGradRoles), initials = new DeviceSlice[states.size()];
        DeviceBuffer[] carries = new DeviceBuffer[states.size()];
        for (int i = 0; i < states.size(); i++) {
            initials[i] = pool.whole(pool.get(initialGradRoles[i], dtype, stateElements(i)));
            carries[i] = pool.get(carryRoles[i], dtype, (long) layout.batch() * states.get(i).width());
        }
        return new SweepStates(finals, initials, carries);
    }

    /** What layer l+1's directions gave their inputs (in those inputs' buffers, through their dropout), or null for the top layer. */
    private DeviceSlice[] inputGradsAbove(int l) {
        if (l == shape.layers() - 1) return null;
        long packedRows = layout.packedRows();
        DeviceSlice[] above = new DeviceSlice[shape.directions()];
        for (int d = 0; d < above.length; d++) {
            above[d] = pool.whole(storage[l + 1][d].input);
            if (passDropped) {
                // Through layer l+1's input dropout: the gradient of a dropped value is zero, a kept one's scaled.
                long count = packedRows * storage[l + 1][d].inputWidth();
                dropoutBackArgs.on(backend).pointer(above[d]).pointer(storage[l + 1][d].dropoutMask(packedRows)).int64(count).launch();
            }
        }
        return above;
    }

    // ---- activation checkpointing: the backward ----

    /**
     * The backward of a checkpointed pass, top layer first as {@link #sweep}: each layer-direction
     * goes through its segments from the last (the first for nothing: the reverse direction's
     * segments are in its own processing time), recomputing each from its checkpoint with the
     * forward's GEMMs and kernels (so the same bits), then running its backward steps and the
     * gradients of its blocks. dy (the top layer's) arrives and dL/dx leaves a segment at a time;
     * between layers the gradient is whole, as in a plain sweep.
     */
    private InputGradients sweepCheckpointed(Tensor hostDy, DeviceSlice paddedDy, States finalGrads, boolean inputGrad, DeviceSlice inputGradTarget) {
        backwardPending = false;
        final int dirs = shape.directions(), layers = shape.layers(), hidden = cell.outputSize(), inputWidth = shape.inputSize();
        final int batch = layout.batch(), count = segments.length - 1;
        final long packedRows = layout.packedRows(), segmentRows = TimeBlocks.segmentRows(layout, segments, false);
        final boolean full = packing.full() && dirs == 1;
        // dL/dx: to the host a segment at a time, straight into the caller's buffer (a full forward
        // direction), or into each direction's packed buffer, gathered into the caller's at the end.
        Tensor hostDx = null;
        if (inputGrad && inputGradTarget == null) {
            hostDx = shape.batchFirst() ? results.tensor("dx", batch, layout.steps(), inputWidth) : results.tensor("dx", layout.steps(), batch, inputWidth);
            zero(hostDx);
        }
        DeviceSlice[] packedDx = new DeviceSlice[dirs];

        SweepStates sweepStates = sweepStates(finalGrads);
        DeviceSlice[] finalStateGrads = sweepStates.finalGrads(), initialStateGrads = sweepStates.initialGrads();
        DeviceBuffer[] carries = sweepStates.carries();
        for (int l = layers - 1; l >= 0; l--) {
            DeviceSlice[] inputGradsAbove = inputGradsAbove(l);
            for (int d = 0; d < dirs; d++) {
                LayerStorage s = storage[l][d];
                DeviceSlice wholeOutputGrad = null;
                if (l < layers - 1) {
                    wholeOutputGrad = s.outputGrad(packedRows);
                    packing.outputGradFromAbove(wholeOutputGrad, inputGradsAbove, dirs, d, hidden);
                } else if (full && paddedDy != null) {
                    wholeOutputGrad = paddedDy;
                }
                for (int i = 0; i < states.size(); i++) {
                    packing.finalStateGrad(pool.whole(carries[i]), finalStateGrads[i], l * dirs + d, states.get(i).width());
                }
                if (l == 0 && inputGrad && hostDx == null && !full) packedDx[d] = pool.whole(s.input(packedRows));
                for (int i = count - 1; i >= 0; i--) {
                    int a = segments[i], b = segments[i + 1];
                    long base = layout.slotOffset(a), end = layout.slotOffset(b);
                    // The segment again, from its checkpoint.
                    for (int k = 0; k < states.size(); k++) {
                        int width = states.get(k).width();
                        packing.copyRows(pool.whole(s.states[k]), s.checkpoints(k, count, batch).plus((long) i * batch * width), layout.slotRows(a), width);
                    }
                    DeviceSlice in;
                    long inBase = 0;
                    if (l == 0) {
                        in = segmentInput(s, d, a, b);
                        inBase = in == passInputOnDevice ? 0 : base;
                    } else {
                        in = pool.whole(s.input);
                    }
                    forwardSteps(l, d, s, in, inBase, a, b, base);
                    // dL/dh of the segment's steps, row 0 at slot row base.
                    DeviceSlice outputGrad;
                    if (wholeOutputGrad != null) {
                        outputGrad = wholeOutputGrad.plus(base * hidden);
                    } else {
                        outputGrad = pool.whole(pool.get("outputGrad.segment", dtype, segmentRows * hidden));
                        if (hostDy != null) packing.uploadOutputGradRows(outputGrad, hostDy, dirs, d, base, end, hidden);
                        else packing.gatherOutputGradRows(outputGrad, paddedDy, dirs, d, base, end, hidden);
                    }
                    if (checkFinite && l == layers - 1) {
                        FiniteChecks.require(backend, outputGrad, (end - base) * hidden, "output gradient dy (direction " + d + ")");
                    }
                    loopFrom = a;
                    loopTo = b;
                    loopBase = base;
                    acrossLanes(l, d, s, false, carries, outputGrad, this::backwardSteps);
                    // dL/d(input) of the segment: into the input's own rows (layer l > 0: read by no earlier
                    // segment), the caller's dL/dx, a packed dL/dx, or a segment buffer bound for the host.
                    DeviceSlice inputGradient = null;
                    long gradientBase = 0;
                    if (l > 0) {
                        inputGradient = in;
                    } else if (inputGrad && full && inputGradTarget != null) {
                        inputGradient = inputGradTarget;
                    } else if (packedDx[d] != null) {
                        inputGradient = packedDx[d];
                    } else if (hostDx != null) {
                        inputGradient = pool.whole(pool.get("dx.segment", dtype, segmentRows * inputWidth));
                        gradientBase = base;
                    }
                    gradientsOfSteps(l, d, s, a, b, base, in, inBase, inputGradient, gradientBase);
                    if (hostDx != null && l == 0) {
                        Tensor rows = backend.download(inputGradient, Math.toIntExact(end - base), inputWidth);
                        packing.scatterInputGradToHost(hostDx, rows, d, base, end, inputWidth);
                    }
                }
                if (checkFinite) checkParameterGradients(parameters[l][d], l, d);
                for (int i = 0; i < states.size(); i++) {
                    packing.initialStateGrad(initialStateGrads[i], l * dirs + d, pool.whole(carries[i]), states.get(i).width());
                }
            }
        }
        if (inputGrad && inputGradTarget != null && !full) packing.inputGrad(inputGradTarget, packedDx, dirs, inputWidth);
        if (checkFinite && inputGrad && hostDx != null) {
            for (double v : hostDx.toDoubleArray()) {
                if (!Double.isFinite(v)) throw new NonFiniteException("gradient of input x: not finite");
            }
        }
        Tensor[] initialGrads = new Tensor[states.size()];
        for (int i = 0; i < initialGrads.length; i++) {
            initialGrads[i] = results.download(initialGradRoles[i], initialStateGrads[i], shape.stateRows(), batch, states.get(i).width());
        }
        return new InputGradients(hostDx, results.states("initialGrads", states, initialGrads));
    }

    /** The time loop of one layer-direction's backward, as lanes. */
    private void backwardLayer(int l, int d, LayerStorage s, DeviceSlice outputGrad, DeviceBuffer[] carries) {
        loopFrom = 0;
        loopTo = layout.steps();
        loopBase = 0;
        acrossLanes(l, d, s, false, carries, outputGrad, this::backwardSteps);
    }

    /** The backward time loop over rows [lo, hi) of every slot, their carries at rows [lo, hi) of the carry buffers. */
    private void backwardSteps(int l, int d, StepContext step, LayerParameters w, PackedOperand packed, int hi) {
        final int lo = step.lo(), gates = cell.gateWidth(), width = cell.outputSize();
        for (int tau = loopTo - 1; tau >= loopFrom; tau--) {
            int alive = Math.max(0, Math.min(layout.alive(tau), hi) - lo), slotRows = Math.min(layout.slotRows(tau), hi) - lo;
            if (slotRows <= 0) continue;
            step.moveTo(layout.slotOffset(tau) - loopBase + lo, layout.slotOffset(tau + 1) - loopBase + lo, alive, slotRows);
            // With no live rows (every sequence of this lane has ended) the cell only zeroes the slot's deltas.
            cell.backward(step);
            if (alive == 0) continue;
            recurrentProduct(packed, false, alive, width, gates, step.recurrentGates(), w.value(Cell.WEIGHT_HH), cell.carryBeta(), step.carry(Cell.H));
            if (carryObserver != null) carryObserver.afterStep(l, d, tau, backend.download(step.carry(Cell.H), alive, width));
            if (checkFinite) {
                for (int i = 0; i < states.size(); i++) {
                    FiniteChecks.require(backend, step.carry(i), (long) alive * states.get(i).width(),
                            "gradient of " + stateLabel(i) + " " + FiniteChecks.at(l, d, tau));
                }
            }
        }
    }

    /**
     * After a layer-direction's sweep: {@code dW_hh += δ_hhᵀ·H}, {@code dW_ih += δ_ihᵀ·X}, the bias
     * column sums, the cell's own gradients, and {@code dX = δ_ih·W_ih} into {@code inputGradient}
     * (skipped when null). One GEMM each per block, the last block first (the order a checkpointed
     * sweep reaches them in); dX may overwrite the input, as each block reads its own rows first.
     */
    private void parameterGradients(int l, int d, LayerStorage s, DeviceSlice input, DeviceSlice inputGradient) {
        gradientsOfSteps(l, d, s, 0, layout.steps(), 0, input, 0, inputGradient, 0);
        if (checkFinite) checkParameterGradients(parameters[l][d], l, d);
    }

    /**
     * {@link #parameterGradients} of steps [a, b), their blocks from the last: the per-step storage
     * starts at slot row {@code base}, row 0 of {@code input} is slot row {@code inputBase} and of
     * {@code inputGradient} slot row {@code gradientBase}.
     */
    private void gradientsOfSteps(int l, int d, LayerStorage s, int a, int b, long base, DeviceSlice input, long inputBase,
                                  DeviceSlice inputGradient, long gradientBase) {
        LayerParameters w = parameters[l][d];
        DeviceSlice ones = cell.hasBias() ? ones(layout.packedRows()) : null;
        final int width = s.inputWidth();
        for (int k = blocks.length - 2; k >= 0; k--) {
            if (blocks[k] < a || blocks[k + 1] > b) continue;
            long first = layout.slotOffset(blocks[k]);
            int rows = Math.toIntExact(layout.slotOffset(blocks[k + 1]) - first);
            // Steps past every length have empty slots: a block of them adds nothing.
            if (rows == 0) continue;
            blockGradients(s, w, first - base, rows, input.plus((first - inputBase) * width),
                    inputGradient == null ? null : inputGradient.plus((first - gradientBase) * width), ones);
        }
    }

    /** The gradients of one block of {@code rows} slot rows, from row {@code first} of the per-step storage. */
    private void blockGradients(LayerStorage s, LayerParameters w, long first, int rows, DeviceSlice blockInput, DeviceSlice blockInputGradient,
                                DeviceSlice ones) {
        final int gates = cell.gateWidth(), width = s.inputWidth(), hidden = cell.outputSize();
        DeviceSlice delta = pool.whole(s.gates).plus(first * gates);
        DeviceSlice recurrentDelta = s.gates == s.recurrentGates ? delta : pool.whole(s.recurrentGates).plus(first * gates);
        backend.gemm(true, false, gates, hidden, rows, 1.0, recurrentDelta, gates, pool.whole(s.states[Cell.H]).plus(first * hidden), hidden, 1.0,
                w.gradient(Cell.WEIGHT_HH), hidden);
        backend.gemm(true, false, gates, width, rows, 1.0, delta, gates, blockInput, width, 1.0, w.gradient(Cell.WEIGHT_IH), width);
        if (ones != null) {
            if (s.gates == s.recurrentGates) {
                // db_ih = db_hh = Σ_rows δ: one pass over δ (a memory-bound 1×N·N×G product), then two
                // 1×1·1×G products to accumulate it into both gradients.
                DeviceSlice columnSum = pool.whole(pool.get("biasGradSum", dtype, gates));
                backend.gemm(false, false, 1, gates, rows, 1.0, ones, rows, delta, gates, 0.0, columnSum, gates);
                backend.gemm(false, false, 1, gates, 1, 1.0, ones, 1, columnSum, gates, 1.0, w.gradient(Cell.BIAS_IH), gates);
                backend.gemm(false, false, 1, gates, 1, 1.0, ones, 1, columnSum, gates, 1.0, w.gradient(Cell.BIAS_HH), gates);
            } else {
                backend.gemm(false, false, 1, gates, rows, 1.0, ones, rows, delta, gates, 1.0, w.gradient(Cell.BIAS_IH), gates);
                backend.gemm(false, false, 1, gates, rows, 1.0, ones, rows, recurrentDelta, gates, 1.0, w.gradient(Cell.BIAS_HH), gates);
            }
        }
        cell.accumulateGradients(sweep.of(s, w, first, rows));
        if (blockInputGradient != null) {
            backend.gemm(false, false, rows, width, gates, 1.0, delta, gates, w.value(Cell.WEIGHT_IH), width, 0.0, blockInputGradient, width);
        }
    }

    /** dL/dx of the last sweep as the caller wants it: written to its device slice already, or as a host tensor. */
    private Tensor inputGradient(DeviceSlice target, boolean inPlace) {
        final int steps = layout.steps(), batch = layout.batch(), dirs = shape.directions(), width = shape.inputSize();
        final long packedRows = layout.packedRows();
        // Layer 0's input buffers hold each direction's dL/dx in its slot layout (none where dL/dx went straight to the caller).
        DeviceSlice[] packed = new DeviceSlice[dirs];
        for (int d = 0; d < dirs; d++) packed[d] = storage[0][d].input == null ? null : pool.whole(storage[0][d].input);
        if (checkFinite) {
            for (int d = 0; d < dirs; d++) {
                DeviceSlice g = d == 0 && target != null && inPlace ? target : packed[d];
                FiniteChecks.require(backend, g, packedRows * width, "gradient of input x from direction " + d);
            }
        }
        if (target != null) {
            // Each direction's rows from its slot layout into the caller's padded dL/dx (zero past the lengths).
            if (!inPlace) packing.inputGrad(target, packed, dirs, width);
            return null;
        }
        if (packing.full() && dirs == 1) {
            // Slot order is padded order: layer 0's input buffer already holds dL/dx as (T, B, I).
            return results.download("dx", packed[0], steps, batch, width);
        }
        if (dirs == 1 && !shape.batchFirst()) {
            Tensor dx = results.tensor("dx", steps, batch, width);
            packing.downloadInputGrad(dx, packed[0], width);
            return dx;
        }
        // The two directions' contributions are summed (or a batch-first dL/dx gathered) on the device,
        // so dL/dx crosses to the host once.
        DeviceSlice dx = pool.whole(pool.get("dx.padded", dtype, (long) steps * batch * width));
        packing.inputGrad(dx, packed, dirs, width);
        return shape.batchFirst() ? results.download("dx", dx, batch, steps, width) : results.download("dx", dx, steps, batch, width);
    }

    private final LayerSweep sweep = new LayerSweep();

    /** The {@link Sweep} a cell sees for its own parameter gradients: one object, pointed at each layer-direction's blocks in turn. */
    private final class LayerSweep implements Sweep {
        private LayerStorage s;
        private LayerParameters w;
        private long first;
        private int rows;

        LayerSweep of(LayerStorage storage, LayerParameters parameters, long firstRow, int blockRows) {
            this.s = storage;
            this.w = parameters;
            this.first = firstRow;
            this.rows = blockRows;
            return this;
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
        public DeviceSlice workspace(int index) {
            return pool.whole(s.workspace[index]).plus(first * cell.stepTensors().get(index).width());
        }

        @Override
        public DeviceSlice states(int state) {
            return pool.whole(s.states[state]).plus(first * states.get(state).width());
        }

        @Override
        public DeviceSlice parameter(int slot) {
            return w.value(slot);
        }

        @Override
        public DeviceSlice gradient(int slot) {
            return w.gradient(slot);
        }
    }

    // ======================================================================================
    // shared pieces
    // ======================================================================================

    /**
     * One step's recurrent product {@code C = A·op(W_hh) + beta·C} over {@code alive} rows (A is
     * alive×k, C alive×n, W_hh stored gates×width): through the packed weight when it was prepared
     * for exactly these rows, else a plain GEMM.
     */
    private void recurrentProduct(PackedOperand packed, boolean transposeW, int alive, int n, int k, DeviceSlice a, DeviceSlice weight,
                                  double beta, DeviceSlice c) {
        if (packed != null && alive == packed.rows()) {
            backend.gemmPacked(a, k, packed, beta, c, n);
        } else {
            backend.gemm(false, transposeW, alive, n, k, 1.0, a, k, weight, transposeW ? k : n, beta, c, n);
        }
    }

    /** The lane's step context, made on first use and kept. */
    private StepContext lane(int i) {
        synchronized (lanes) {
            while (lanes.size() <= i) lanes.add(new StepContext(backend, cell, dtype));
            return lanes.get(i);
        }
    }

    /** One packed right operand per lane (shared between lanes of equal rows), null entries where the backend packs nothing. */
    private PackedOperand[] packs(boolean transposeW, int[] bounds, int n, int k, DeviceSlice weight) {
        PackedOperand[] packs = new PackedOperand[bounds.length - 1];
        try {
            for (int i = 0; i < packs.length; i++) {
                int rows = bounds[i + 1] - bounds[i];
                packs[i] = i > 0 && rows == bounds[1] - bounds[0] ? packs[0]
                        : backend.packRightOperand(transposeW, rows, n, k, weight, transposeW ? k : n);
            }
            return packs;
        } catch (RuntimeException e) {
            closeAll(packs);
            throw e;
        }
    }

    private static void closeAll(PackedOperand[] packs) {
        for (int i = 0; i < packs.length; i++) {
            if (packs[i] != null && (i == 0 || packs[i] != packs[0])) packs[i].close();
        }
    }

    /** Lanes for a time loop: the backend's choice, unless a per-step host check or observer needs the steps in order. */
    private int lanes(int batch, int gates) {
        if (checkFinite || carryObserver != null) return 1;
        return Math.max(1, Math.min(backend.lanes(batch, gates), batch));
    }

    /**
     * Row bounds of contiguous lanes, lane i holding sorted rows [b[i], b[i+1]), that share the
     * live rows of all steps about equally: equal parts of the batch when it is full; with varying
     * lengths the first lane (the longest sequences) gets fewer rows.
     */
    private int[] laneBounds(int lanes) {
        int batch = layout.batch();
        int[] bounds = new int[lanes + 1];
        bounds[lanes] = batch;
        long total = layout.validRows(), before = 0;
        int row = 0;
        for (int i = 1; i < lanes; i++) {
            // Sorted row j lives for lengthOfSorted(j) steps: advance until this lane holds its share.
            long share = total * i / lanes;
            while (row < batch - (lanes - i) && before + layout.lengthOfSorted(row) <= share) before += layout.lengthOfSorted(row++);
            bounds[i] = Math.max(row, bounds[i - 1] + 1);
            row = bounds[i];
        }
        return bounds;
    }

    /** A row of at least {@code n} ones, for column sums as GEMMs; filled only when it grows. */
    private DeviceSlice ones(long n) {
        DeviceBuffer b = pool.get("ones", dtype, n);
        if (b != ones) {
            fillArgs.on(backend).pointer(pool.whole(b)).real(1.0).int64(b.elements()).launch();
            ones = b;
        }
        return pool.whole(b);
    }

    private void checkParameterGradients(LayerParameters w, int layer, int direction) {
        String suffix = "_l" + layer + (direction == 1 ? "_reverse" : "");
        for (Cell.Parameter p : cell.parameters(shape.layerInputSize(layer))) {
            FiniteChecks.require(backend, w.gradient(p.slot()), p.elements(), "gradient of " + p.name() + suffix);
        }
    }
}
