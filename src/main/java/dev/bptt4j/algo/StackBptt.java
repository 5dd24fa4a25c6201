package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.PackedOperand;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Backpropagation through time for a stack of recurrent layers (Elman, LSTM, GRU), written once
 * over {@link Backend}; what differs between cells is the {@link CellKind}.
 *
 * <p>Per layer and direction the forward is: gather the layer input into the packed slot layout
 * ({@link BatchLayout}); one GEMM {@code pre = X·W_ihᵀ} over all steps and gates; then per step
 * one GEMM {@code h_{τ−1}·W_hhᵀ} for all gates over the alive rows (accumulated onto pre_τ, or
 * into its own storage for the GRU) and one fused kernel that writes h_τ (and c_τ). The gates and
 * states stay on the device for the backward, which sweeps τ = T−1..0 with one fused kernel
 * (gate deltas over the gate storage) and one GEMM {@code dh_{τ−1} = δ_hh·W_hh} per step, then
 * forms each weight gradient with a single GEMM over all steps: {@code dW_ih = δ_ihᵀX},
 * {@code dW_hh = δ_hhᵀH}, {@code db = Σ δ} (δ_ih = δ_hh except for the GRU).
 *
 * <p>A backend may ask for a full batch's time loops to run as lanes ({@link Backend#lanes}): each
 * lane takes a contiguous range of every slot's rows through the whole loop (rows of a batch do
 * not interact within a layer-direction), with its own packed weight and carry rows. The loop is
 * the same method either way; the CPU backend runs two lanes on two threads.
 *
 * <p>Parameter gradients are accumulated (beta = 1) so that truncated BPTT and gradient
 * accumulation need no extra pass; gradients of activations are assigned. No host transfer or
 * synchronisation happens inside either time loop: inputs are uploaded before it and results
 * downloaded after it.
 */
public final class StackBptt {
    private final RnnConfig config;
    private final Backend backend;
    private final LayerWeights[][] weights;
    private final BufferPool pool;
    private final DType dtype;
    private final CellKind cell;

    private BatchLayout layout;
    private boolean backwardPending;
    /** Whether {@link #paddedOutput()} has been gathered since the last forward. */
    private boolean paddedOutputFormed;
    private BatchLayout indexLayout;
    private final Map<String, DeviceBuffer> uploadedIndexes = new HashMap<>();
    private final Map<String, int[]> hostIndexes = new HashMap<>();
    private DeviceBuffer onesBuffer;
    /** Per direction, where the last forward's layer 0 read its input: its own buffer, or a caller's x in place. */
    private final DeviceSlice[] firstLayerInput = new DeviceSlice[2];
    private CarryObserver carryObserver;

    /**
     * Sees the gradient carried back through the recurrence at every step of the backward, for
     * diagnostics. Setting one makes the backward download the carry at each step (a host sync
     * per step); with none set (the default) the time loop never touches the host.
     */
    @FunctionalInterface
    public interface CarryObserver {
        /**
         * Called after step τ of the backward of layer {@code layer}, direction {@code direction}:
         * {@code carry} (alive(τ) × H, sorted rows) is dL/dh_{τ−1} through the recurrence, i.e. the
         * gradient of the loss terms at steps ≥ τ with respect to the state before step τ.
         */
        void afterStep(int layer, int direction, int tau, Tensor carry);
    }

    /** Installs (or with null removes) the observer of the backward's carried gradient. */
    public void setCarryObserver(CarryObserver observer) {
        this.carryObserver = observer;
    }
    /** The opt-in NaN/Inf check after every step ({@link FiniteChecks}); off by default. */
    private boolean checkFinite;

    public StackBptt(RnnConfig config, Backend backend, LayerWeights[][] weights, BufferPool pool) {
        this.cell = CellKind.of(config);
        this.config = config;
        this.backend = backend;
        this.weights = weights;
        this.pool = pool;
        this.dtype = config.dtype();
    }

    /** y (T, B, D·H), hn (L·D, B, H) and, for the LSTM, cn (L·D, B, H; else null) of a forward pass. */
    public record Outputs(Tensor output, Tensor finalHidden, Tensor finalCell) {
    }

    /** Gradients of the inputs; {@code input} is null when it was not asked for, {@code initialCell} without a cell state. */
    public record InputGradients(Tensor input, Tensor initialHidden, Tensor initialCell) {
    }

    private String role(int layer, int direction, String what) {
        return "l" + layer + "d" + direction + "." + what;
    }

    /**
     * The device copy of one of the layout's index maps. Maps are uploaded once per distinct
     * layout: repeated steps with the same lengths (the common training loop) reuse them.
     */
    private DeviceBuffer indexBuffer(String role, Supplier<int[]> index) {
        forgetMapsOfOtherLayouts();
        DeviceBuffer cached = uploadedIndexes.get(role);
        if (cached != null) return cached;
        int[] values = index.get();
        DeviceBuffer b = pool.get("index." + role, DType.I32, values.length);
        backend.upload(Tensor.ofInts(values, values.length), b, 0);
        uploadedIndexes.put(role, b);
        return b;
    }

    /** A host index map for the backend's row transfers, kept like {@link #indexBuffer} per layout. */
    private int[] hostIndex(String role, Supplier<int[]> index) {
        forgetMapsOfOtherLayouts();
        return hostIndexes.computeIfAbsent(role, r -> index.get());
    }

    private void forgetMapsOfOtherLayouts() {
        if (indexLayout == null || !indexLayout.sameAs(layout)) {
            indexLayout = layout;
            uploadedIndexes.clear();
            hostIndexes.clear();
        }
    }

    private Supplier<int[]> reverse(int direction, java.util.function.Function<Boolean, int[]> map) {
        return () -> map.apply(direction == 1);
    }

    private Supplier<int[]> paddedRowsOfPacked(int direction) {
        BatchLayout l = layout;
        return () -> l.paddedRowOfPacked(direction == 1);
    }

    private Supplier<int[]> crossRows(int fromDirection, int toDirection, int slotShift) {
        BatchLayout l = layout;
        return () -> l.crossDirectionRows(fromDirection == 1, toDirection == 1, slotShift);
    }

    /** A row of at least {@code n} ones, for column sums as GEMMs; filled only when it grows. */
    private DeviceBuffer ones(long n) {
        DeviceBuffer b = pool.get("ones", dtype, n);
        if (b != onesBuffer) {
            backend.fill(b, 0, b.elements(), 1.0);
            onesBuffer = b;
        }
        return b;
    }

    private DeviceBuffer input(int l, int d, long rows) {
        return pool.get(role(l, d, "input"), dtype, rows * config.layerInputSize(l));
    }

    private DeviceBuffer preActivations(int l, int d, long rows) {
        return pool.get(role(l, d, "pre"), dtype, rows * config.gateRows());
    }

    private DeviceBuffer hiddenStates(int l, int d, long rows) {
        return pool.get(role(l, d, "hidden"), dtype, rows * config.hiddenSize());
    }

    /** The GRU's per-step h_{τ−1}·W_hhᵀ (slot layout, gates wide); the gate storage itself for other cells. */
    private DeviceBuffer recurrentGates(int l, int d, long rows) {
        if (!cell.separateRecurrentGates()) return preActivations(l, d, rows);
        return pool.get(role(l, d, "recurrentGates"), dtype, rows * config.gateRows());
    }

    /** LSTM cell states, laid out as the hidden states (c0 in slot 0); null for other cells. */
    private DeviceBuffer cellStates(int l, int d, long rows) {
        if (!cell.hasCellState()) return null;
        return pool.get(role(l, d, "cell"), dtype, rows * config.hiddenSize());
    }

    /**
     * With reuse on, the host tensors that forward and backward return (y, hn, cn, dL/dx, dL/dh0,
     * dL/dc0) are the same objects call after call, overwritten by the next call with the same
     * shape: a warmed-up training step then allocates almost nothing on the Java heap. Off by
     * default, when every call returns fresh tensors.
     */
    public void setReuseResults(boolean on) {
        reuseResults = on;
        if (!on) results.clear();
    }

    private boolean reuseResults;
    private final Map<String, Tensor> results = new HashMap<>();

    /** A downloaded result: into the kept tensor of this role when reuse is on and the shape matches. */
    private Tensor result(String role, DeviceBuffer source, long offset, int... shape) {
        if (!reuseResults) return backend.download(source, offset, shape);
        Tensor t = resultTensor(role, shape);
        backend.downloadInto(source, offset, t);
        return t;
    }

    /** The host tensor a result of this role is written into: the kept one when reuse is on, else a new one. */
    private Tensor resultTensor(String role, int... shape) {
        if (!reuseResults) return Tensor.zeros(dtype, shape);
        Tensor t = results.get(role);
        if (t == null || !sameShape(t, shape)) {
            t = Tensor.zeros(dtype, shape);
            results.put(role, t);
        }
        return t;
    }

    private static boolean sameShape(Tensor t, int[] shape) {
        if (t.rank() != shape.length) return false;
        for (int i = 0; i < shape.length; i++) if (t.dim(i) != shape[i]) return false;
        return true;
    }

    /**
     * One step's recurrent product {@code C = A·op(W_hh) + beta·C} over {@code alive} rows (A is
     * alive×k, C alive×n, W_hh stored gates×hidden): through the packed weight when it was
     * prepared for exactly these rows (the whole batch), else a plain GEMM.
     */
    private void recurrentProduct(PackedOperand packed, boolean transposeW, int alive, int n, int k, DeviceBuffer a, long aOffset,
                                  DeviceBuffer weight, double beta, DeviceBuffer c, long cOffset) {
        if (packed != null && alive == packed.rows()) {
            backend.gemmPacked(a, aOffset, k, packed, beta, c, cOffset, n);
        } else {
            backend.gemm(false, transposeW, alive, n, k, 1.0, a, aOffset, k, weight, 0, transposeW ? k : n, beta, c, cOffset, n);
        }
    }

    /**
     * The forward time loop over rows [lo, hi) of every slot (a lane; the whole batch is lane
     * [0, B)): at step τ the lane's alive rows are those of the first alive(τ) it holds.
     */
    private void forwardSteps(int l, int d, LayerWeights w, CellKind.Storage s, PackedOperand packed, int lo, int hi, double recurrentBeta) {
        final int hidden = config.hiddenSize(), gates = config.gateRows();
        for (int tau = 0; tau < layout.steps(); tau++) {
            int alive = Math.min(layout.alive(tau), hi) - lo;
            if (alive <= 0) break;
            long slot = layout.slotOffset(tau) + lo, next = layout.slotOffset(tau + 1) + lo;
            recurrentProduct(packed, true, alive, gates, hidden, s.hiddenStates(), slot * hidden, w.weightHh(), recurrentBeta,
                    s.recurrentGates(), slot * gates);
            cell.forward(backend, w, s, slot, next, alive, hidden);
            if (checkFinite) {
                FiniteChecks.require(backend, s.hiddenStates(), next * hidden, (long) alive * hidden, "hidden state h " + FiniteChecks.at(l, d, tau));
                if (s.cellStates() != null) {
                    FiniteChecks.require(backend, s.cellStates(), next * hidden, (long) alive * hidden, "cell state c " + FiniteChecks.at(l, d, tau));
                }
            }
        }
    }

    /** The backward time loop over rows [lo, hi) of every slot, their carried gradients at rows [lo, hi) of the carries. */
    private void backwardSteps(int l, int d, LayerWeights w, CellKind.Storage s, PackedOperand packed, int lo, int hi) {
        final int hidden = config.hiddenSize(), gates = config.gateRows();
        for (int tau = layout.steps() - 1; tau >= 0; tau--) {
            int alive = Math.max(0, Math.min(layout.alive(tau), hi) - lo), slotRows = Math.min(layout.slotRows(tau), hi) - lo;
            if (slotRows <= 0) continue;
            long slot = layout.slotOffset(tau) + lo, next = layout.slotOffset(tau + 1) + lo;
            if (alive == 0) {
                // Every row of this lane in the slot is dead (its sequences ended): the deltas are zero.
                s.zeroRows(backend, slot, slotRows, gates);
                continue;
            }
            cell.backward(backend, w, s, slot, next, alive, slotRows, hidden, lo);
            recurrentProduct(packed, false, alive, hidden, gates, s.recurrentGates(), slot * gates, w.weightHh(), cell.carryBeta(),
                    s.hiddenGradCarry(), (long) lo * hidden);
            if (carryObserver != null) carryObserver.afterStep(l, d, tau, backend.download(s.hiddenGradCarry(), 0, alive, hidden));
            if (checkFinite) {
                FiniteChecks.require(backend, s.hiddenGradCarry(), 0, (long) alive * hidden, "gradient of hidden state h " + FiniteChecks.at(l, d, tau));
                if (s.cellGradCarry() != null) {
                    FiniteChecks.require(backend, s.cellGradCarry(), 0, (long) alive * hidden, "gradient of cell state c " + FiniteChecks.at(l, d, tau));
                }
            }
        }
    }

    /** One packed right operand per lane (shared between lanes of equal rows), null entries where the backend packs nothing. */
    private PackedOperand[] packs(boolean transposeW, int[] bounds, int n, int k, DeviceBuffer weight) {
        PackedOperand[] packs = new PackedOperand[bounds.length - 1];
        try {
            for (int i = 0; i < packs.length; i++) {
                int rows = bounds[i + 1] - bounds[i];
                packs[i] = i > 0 && rows == bounds[1] - bounds[0] ? packs[0]
                        : backend.packRightOperand(transposeW, rows, n, k, weight, 0, config.hiddenSize());
            }
            return packs;
        } catch (RuntimeException e) {
            closeAll(packs);
            throw e;
        }
    }

    /**
     * Lanes for a time loop: the backend's choice, unless a per-step host check or observer needs
     * the steps in order.
     */
    private int lanes(int batch, int gates) {
        if (checkFinite || carryObserver != null) return 1;
        return Math.max(1, Math.min(backend.lanes(batch, gates), batch));
    }

    /**
     * Row bounds of contiguous lanes, lane i holding sorted rows [b[i], b[i+1]), that share the
     * live rows of all steps about equally: halves of the batch when it is full; with varying
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

    private static void closeAll(PackedOperand[] packs) {
        for (int i = 0; i < packs.length; i++) {
            if (packs[i] != null && (i == 0 || packs[i] != packs[0])) packs[i].close();
        }
    }

    /** Checks activations and gradients for NaN/Inf after every step (a host sync per step). */
    public void setCheckFinite(boolean on) {
        checkFinite = on;
    }

    /** Whether the cell has a cell state (c0, cn): the LSTM. */
    public boolean hasCellState() {
        return cell.hasCellState();
    }

    /**
     * Runs the stack on already-validated inputs.
     *
     * @param x  (T, B, I) in the stack's dtype
     * @param h0 (L·D, B, H) or null for zeros
     * @param c0 (L·D, B, H) or null for zeros; ignored without a cell state
     */
    public Outputs forward(Tensor x, Tensor h0, Tensor c0, BatchLayout batchLayout) {
        run(x, null, h0, c0, batchLayout);
        final int steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        final int dirs = config.directions(), layers = config.numLayers();
        Tensor finalCell = cell.hasCellState()
                ? result("cn", paddedFinalCell(), 0, layers * dirs, batch, hidden) : null;
        Tensor y;
        if (layout.isFull() && dirs == 1) {
            // The top layer's states are in padded order one slot after h0: y is one copy.
            y = result("y", hiddenStates(layers - 1, 0, layout.hiddenRows()), (long) batch * hidden, steps, batch, hidden);
        } else if (dirs == 1) {
            // The states go straight from the slot layout into the rows of y.
            y = resultTensor("y", steps, batch, hidden);
            backend.downloadRows(y, hidden, 0, hiddenStates(layers - 1, 0, layout.hiddenRows()), 0,
                    hostIndex("outputOf0", reverse(0, layout::hiddenRowOfPadded)), steps * batch, hidden);
        } else {
            // Two directions fill y's two column halves on the device, so y crosses to the host once.
            y = result("y", paddedOutput(), 0, steps, batch, dirs * hidden);
        }
        return new Outputs(y, result("hn", paddedFinalHidden(), 0, layers * dirs, batch, hidden), finalCell);
    }

    /**
     * y of the last forward on the device: (T, B, D·H) padded, row t·B + b, zero past each length;
     * gathered from the hidden states on first use after each forward.
     */
    public DeviceBuffer paddedOutput() {
        final int steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        final int dirs = config.directions(), layers = config.numLayers();
        DeviceBuffer output = pool.get("output.padded", dtype, (long) steps * batch * dirs * hidden);
        if (!paddedOutputFormed) {
            for (int d = 0; d < dirs; d++) {
                DeviceBuffer rows = indexBuffer("outputOf" + d, reverse(d, layout::hiddenRowOfPadded));
                backend.gatherRows(output, 0, dirs * hidden, d * hidden, hiddenStates(layers - 1, d, layout.hiddenRows()), 0, hidden, 0,
                        rows, 0, steps * batch, hidden, false);
            }
            paddedOutputFormed = true;
        }
        return output;
    }

    /** hn of the last forward on the device: (L·D, B, H). */
    public DeviceBuffer paddedFinalHidden() {
        return pool.get("hn", dtype, (long) config.numLayers() * config.directions() * layout.batch() * config.hiddenSize());
    }

    /** cn of the last forward on the device: (L·D, B, H); only for cells with a cell state. */
    public DeviceBuffer paddedFinalCell() {
        return pool.get("cn", dtype, (long) config.numLayers() * config.directions() * layout.batch() * config.hiddenSize());
    }

    /** {@link #forward} without the downloads: y, hn (and cn) stay on the device. */
    public void forwardOnDevice(Tensor x, Tensor h0, Tensor c0, BatchLayout batchLayout) {
        run(x, null, h0, c0, batchLayout);
    }

    /**
     * {@link #forwardOnDevice} with x (T, B, I) padded in a device buffer, read in place: with
     * every sequence of length T the forward direction's GEMMs (the input projection now, dW_ih in
     * the backward) read it directly, so it must stay unchanged until the backward; other layouts
     * gather its rows into the workspace.
     */
    public void forwardOnDevice(DeviceSlice x, Tensor h0, Tensor c0, BatchLayout batchLayout) {
        run(null, x, h0, c0, batchLayout);
    }

    /**
     * y of the last forward on the device without a copy where the layout allows it: a full,
     * one-direction batch's top-layer states are y row for row. Read-only (the backward reads
     * the states); valid until the next forward.
     */
    public DeviceSlice outputInPlace() {
        if (layout.isFull() && config.directions() == 1) {
            return new DeviceSlice(hiddenStates(config.numLayers() - 1, 0, layout.hiddenRows()), (long) layout.batch() * config.hiddenSize());
        }
        return new DeviceSlice(paddedOutput(), 0);
    }

    private void run(Tensor x, DeviceSlice xOnDevice, Tensor h0, Tensor c0, BatchLayout batchLayout) {
        this.layout = batchLayout;
        this.paddedOutputFormed = false;
        final int steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        final int dirs = config.directions(), layers = config.numLayers(), gates = config.gateRows();
        final int packedRows = Math.toIntExact(layout.packedRows());
        final long hiddenRows = layout.hiddenRows();
        final boolean hasCell = cell.hasCellState();
        final double recurrentBeta = cell.separateRecurrentGates() ? 0.0 : 1.0;

        // With every sequence of length T the forward direction's slot layout is the padded (T, B, I)
        // layout row for row, so x is one copy into layer 0's input, or none when it is already on
        // the device (the reverse direction gathers from there). Otherwise one direction takes x's
        // live rows straight into its slot layout, and two directions share one padded copy of x on
        // the device and gather from it.
        final boolean full = layout.isFull();
        final DeviceSlice inputPadded;
        if (xOnDevice != null) {
            if (checkFinite) FiniteChecks.require(backend, xOnDevice.buffer(), xOnDevice.offset(), (long) steps * batch * config.inputSize(), "input x");
            inputPadded = xOnDevice;
        } else if (full || dirs > 1) {
            DeviceBuffer b = full ? input(0, 0, packedRows) : pool.get("input.padded", dtype, x.size());
            backend.upload(x, b, 0);
            inputPadded = new DeviceSlice(b, 0);
        } else {
            inputPadded = null;
        }
        DeviceBuffer initial = pool.get("h0", dtype, (long) layers * dirs * batch * hidden);
        if (h0 == null) backend.fill(initial, 0, (long) layers * dirs * batch * hidden, 0.0);
        else backend.upload(h0, initial, 0);
        DeviceBuffer initialCell = null;
        if (hasCell) {
            initialCell = pool.get("c0", dtype, (long) layers * dirs * batch * hidden);
            if (c0 == null) backend.fill(initialCell, 0, (long) layers * dirs * batch * hidden, 0.0);
            else backend.upload(c0, initialCell, 0);
        }

        DeviceBuffer sortedRows = indexBuffer("originalOfSorted", layout::originalOfSorted);
        for (int l = 0; l < layers; l++) {
            final int inWidth = config.layerInputSize(l);
            for (int d = 0; d < dirs; d++) {
                LayerWeights w = weights[l][d];
                DeviceBuffer in;
                long inOffset = 0;
                if (l == 0) {
                    if (inputPadded == null) {
                        in = input(l, d, packedRows);
                        backend.uploadRows(in, 0, x, inWidth, 0, hostIndex("packed" + d, paddedRowsOfPacked(d)), packedRows, inWidth);
                    } else if (full && d == 0) {
                        in = inputPadded.buffer();
                        inOffset = inputPadded.offset();
                    } else {
                        in = input(l, d, packedRows);
                        DeviceBuffer rows = indexBuffer("packed" + d, paddedRowsOfPacked(d));
                        backend.gatherRows(in, 0, inWidth, 0, inputPadded.buffer(), inputPadded.offset(), inWidth, 0, rows, 0,
                                packedRows, inWidth, false);
                    }
                    firstLayerInput[d] = new DeviceSlice(in, inOffset);
                } else {
                    in = input(l, d, packedRows);
                    for (int src = 0; src < dirs; src++) {
                        DeviceBuffer rows = indexBuffer("hiddenFor" + src + "to" + d, crossRows(src, d, 1));
                        backend.gatherRows(in, 0, inWidth, src * hidden, hiddenStates(l - 1, src, hiddenRows), 0, hidden, 0,
                                rows, 0, packedRows, hidden, false);
                    }
                }
                DeviceBuffer pre = preActivations(l, d, packedRows);
                backend.gemm(false, true, packedRows, gates, inWidth, 1.0, in, inOffset, inWidth, w.weightIh(), 0, inWidth, 0.0, pre, 0, gates);

                DeviceBuffer hs = hiddenStates(l, d, hiddenRows);
                DeviceBuffer cs = cellStates(l, d, hiddenRows);
                DeviceBuffer recurrent = recurrentGates(l, d, packedRows);
                long stateOffset = (long) (l * dirs + d) * batch * hidden;
                backend.gatherRows(hs, 0, hidden, 0, initial, stateOffset, hidden, 0, sortedRows, 0, batch, hidden, false);
                if (hasCell) backend.gatherRows(cs, 0, hidden, 0, initialCell, stateOffset, hidden, 0, sortedRows, 0, batch, hidden, false);
                CellKind.Storage storage = new CellKind.Storage(pre, recurrent, hs, cs, null, 0, null, null);
                // W_hhᵀ prepared once per lane for the steps where all of the lane's rows are alive
                // (null: the backend gains nothing); a full batch may run as several lanes of rows.
                int lanes = lanes(batch, gates);
                int[] bounds = laneBounds(lanes);
                PackedOperand[] packs = packs(true, bounds, gates, hidden, w.weightHh());
                final int layer = l, direction = d;
                try {
                    backend.runLanes(lanes, lane -> forwardSteps(layer, direction, w, storage, packs[lane], bounds[lane], bounds[lane + 1],
                            recurrentBeta));
                } finally {
                    closeAll(packs);
                }
            }
        }

        DeviceBuffer finals = pool.get("hn", dtype, (long) layers * dirs * batch * hidden);
        DeviceBuffer finalRows = indexBuffer("finalOfOriginal", layout::finalHiddenRowOfOriginal);
        for (int l = 0; l < layers; l++) {
            for (int d = 0; d < dirs; d++) {
                backend.gatherRows(finals, (long) (l * dirs + d) * batch * hidden, hidden, 0, hiddenStates(l, d, hiddenRows), 0,
                        hidden, 0, finalRows, 0, batch, hidden, false);
            }
        }
        if (hasCell) {
            DeviceBuffer cellFinals = paddedFinalCell();
            for (int l = 0; l < layers; l++) {
                for (int d = 0; d < dirs; d++) {
                    backend.gatherRows(cellFinals, (long) (l * dirs + d) * batch * hidden, hidden, 0, cellStates(l, d, hiddenRows), 0,
                            hidden, 0, finalRows, 0, batch, hidden, false);
                }
            }
        }
        backwardPending = true;
    }

    /**
     * Backward of the last forward; consumes it (the pre-activations are overwritten by deltas).
     *
     * @param dy       (T, B, D·H)
     * @param dhn      (L·D, B, H) or null for zeros
     * @param dcn      (L·D, B, H) or null for zeros; ignored without a cell state
     * @param inputGrad whether to form dL/dx (skipping saves one GEMM over all steps)
     */
    public InputGradients backward(Tensor dy, Tensor dhn, Tensor dcn, boolean inputGrad) {
        requirePending();
        final int dirs = config.directions(), hidden = config.hiddenSize(), top = config.numLayers() - 1;
        final long packedRows = layout.packedRows();
        DeviceBuffer outputGrad = pool.get(role(top, 0, "outputGrad"), dtype, packedRows * hidden);
        if (layout.isFull() && dirs == 1) {
            // A full, one-direction batch has the padded layout in slot order: dy is one copy.
            backend.upload(dy, outputGrad, 0);
        } else if (dirs == 1) {
            backend.uploadRows(outputGrad, 0, dy, hidden, 0, hostIndex("packed0", paddedRowsOfPacked(0)), Math.toIntExact(packedRows), hidden);
        } else {
            // Both directions gather their columns from one padded copy of dy on the device.
            DeviceBuffer outputGradPadded = pool.get("outputGrad.padded", dtype, dy.size());
            backend.upload(dy, outputGradPadded, 0);
            return sweepBack(outputGradPadded, 0, dhn, dcn, inputGrad, null);
        }
        return sweepBack(null, 0, dhn, dcn, inputGrad, null);
    }

    /** {@link #backward} with dy (T, B, D·H) read from a device buffer at {@code dyOffset}. */
    public InputGradients backwardOnDevice(DeviceBuffer outputGradPadded, long dyOffset, Tensor dhn, Tensor dcn, boolean inputGrad) {
        requirePending();
        return sweepBack(outputGradPadded, dyOffset, dhn, dcn, inputGrad, null);
    }

    /**
     * {@link #backward} with dy (T, B, D·H) read in place from a device buffer and dL/dx (T, B, I)
     * written into one ({@code inputGrad} null: not formed); the returned gradients hold dL/dh0
     * (and dL/dc0) only. A full one-direction batch reads dy and writes dL/dx without a copy.
     */
    public InputGradients backwardOnDevice(DeviceSlice outputGrad, Tensor dhn, Tensor dcn, DeviceSlice inputGrad) {
        requirePending();
        return sweepBack(outputGrad.buffer(), outputGrad.offset(), dhn, dcn, inputGrad != null, inputGrad);
    }

    private void requirePending() {
        if (!backwardPending) throw new IllegalStateException("backward: no forward pass to differentiate (each forward can be differentiated once)");
    }

    /**
     * The backward sweep. The top layer's output gradients are gathered from {@code outputGradPadded}
     * ((T, B, D·H) at {@code dyOffset}), or with null are already in place in the slot layout.
     */
    private InputGradients sweepBack(DeviceBuffer outputGradPadded, long dyOffset, Tensor dhn, Tensor dcn, boolean inputGrad,
                                     DeviceSlice inputGradTarget) {
        backwardPending = false;
        final int steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        final int dirs = config.directions(), layers = config.numLayers(), gates = config.gateRows();
        final int packedRows = Math.toIntExact(layout.packedRows());
        final long hiddenRows = layout.hiddenRows();
        final boolean hasCell = cell.hasCellState();

        long stateElements = (long) layers * dirs * batch * hidden;
        DeviceBuffer finalGrad = pool.get("dhn", dtype, stateElements);
        if (dhn == null) backend.fill(finalGrad, 0, stateElements, 0.0);
        else backend.upload(dhn, finalGrad, 0);
        DeviceBuffer initialGrad = pool.get("dh0", dtype, stateElements);
        DeviceBuffer carry = pool.get("hiddenGradCarry", dtype, (long) batch * hidden);
        DeviceBuffer finalCellGrad = null, initialCellGrad = null, cellCarry = null;
        if (hasCell) {
            finalCellGrad = pool.get("dcn", dtype, stateElements);
            if (dcn == null) backend.fill(finalCellGrad, 0, stateElements, 0.0);
            else backend.upload(dcn, finalCellGrad, 0);
            initialCellGrad = pool.get("dc0", dtype, stateElements);
            cellCarry = pool.get("cellGradCarry", dtype, (long) batch * hidden);
        }
        DeviceBuffer ones = config.bias() ? ones(packedRows) : null;
        DeviceBuffer sortedRows = indexBuffer("originalOfSorted", layout::originalOfSorted);
        DeviceBuffer originalRows = indexBuffer("sortedOfOriginal", layout::sortedOfOriginal);
        // A full one-direction batch's slot layout is the padded one: dy is read and dL/dx written in place.
        final boolean inPlace = layout.isFull() && dirs == 1;

        for (int l = layers - 1; l >= 0; l--) {
            final int inWidth = config.layerInputSize(l);
            for (int d = 0; d < dirs; d++) {
                LayerWeights w = weights[l][d];
                // The workspace's copy of dL/dy is only made where dy cannot be read in place.
                boolean dyInPlace = l == layers - 1 && outputGradPadded != null && inPlace;
                DeviceBuffer outGrad = dyInPlace ? outputGradPadded : pool.get(role(l, d, "outputGrad"), dtype, (long) packedRows * hidden);
                long outGradOffset = dyInPlace ? dyOffset : 0;
                if (l == layers - 1) {
                    if (outputGradPadded != null && !dyInPlace) {
                        DeviceBuffer rows = indexBuffer("packed" + d, paddedRowsOfPacked(d));
                        backend.gatherRows(outGrad, 0, hidden, 0, outputGradPadded, dyOffset, dirs * hidden, d * hidden, rows, 0,
                                packedRows, hidden, false);
                    }
                } else {
                    // The layer above consumed this layer's outputs through both of its directions.
                    for (int src = 0; src < dirs; src++) {
                        DeviceBuffer rows = indexBuffer("packedFor" + src + "to" + d, crossRows(src, d, 0));
                        backend.gatherRows(outGrad, 0, hidden, 0, input(l + 1, src, packedRows), 0, dirs * hidden, d * hidden,
                                rows, 0, packedRows, hidden, src > 0);
                    }
                }
                if (checkFinite && l == layers - 1 && outputGradPadded != null) {
                    FiniteChecks.require(backend, outGrad, outGradOffset, (long) packedRows * hidden, "output gradient dy (direction " + d + ")");
                }
                long stateOffset = (long) (l * dirs + d) * batch * hidden;
                backend.gatherRows(carry, 0, hidden, 0, finalGrad, stateOffset, hidden, 0, sortedRows, 0, batch, hidden, false);
                if (hasCell) {
                    backend.gatherRows(cellCarry, 0, hidden, 0, finalCellGrad, stateOffset, hidden, 0, sortedRows, 0, batch, hidden, false);
                }

                // δ_ih replaces the gates, δ_hh the recurrent product (the same buffer except for the GRU).
                DeviceBuffer delta = preActivations(l, d, packedRows);
                DeviceBuffer recurrentDelta = recurrentGates(l, d, packedRows);
                DeviceBuffer hs = hiddenStates(l, d, hiddenRows);
                DeviceBuffer in = l == 0 ? firstLayerInput[d].buffer() : input(l, d, packedRows);
                long inOffset = l == 0 ? firstLayerInput[d].offset() : 0;
                // dL/d(input) goes to the workspace's input buffer (in place of the input, which is
                // no longer needed, unless that is a caller's x), or straight into the caller's dL/dx.
                boolean dxInPlace = l == 0 && inputGradTarget != null && inPlace;
                boolean formInputGrad = l > 0 || inputGrad;
                DeviceBuffer inGrad = dxInPlace ? inputGradTarget.buffer() : formInputGrad ? input(l, d, packedRows) : null;
                long inGradOffset = dxInPlace ? inputGradTarget.offset() : 0;
                CellKind.Storage storage = new CellKind.Storage(delta, recurrentDelta, hs, cellStates(l, d, hiddenRows),
                        outGrad, outGradOffset, carry, cellCarry);
                int lanes = lanes(batch, gates);
                int[] bounds = laneBounds(lanes);
                PackedOperand[] packs = packs(false, bounds, hidden, gates, w.weightHh());
                final int layer = l, direction = d;
                try {
                    backend.runLanes(lanes, lane -> backwardSteps(layer, direction, w, storage, packs[lane], bounds[lane], bounds[lane + 1]));
                } finally {
                    closeAll(packs);
                }
                backend.gatherRows(initialGrad, stateOffset, hidden, 0, carry, 0, hidden, 0, originalRows, 0, batch, hidden, false);
                if (hasCell) {
                    backend.gatherRows(initialCellGrad, stateOffset, hidden, 0, cellCarry, 0, hidden, 0, originalRows, 0, batch, hidden, false);
                }

                backend.gemm(true, false, gates, hidden, packedRows, 1.0, recurrentDelta, 0, gates, hs, 0, hidden, 1.0, w.gradWeightHh(), 0, hidden);
                backend.gemm(true, false, gates, inWidth, packedRows, 1.0, delta, 0, gates, in, inOffset, inWidth, 1.0, w.gradWeightIh(), 0, inWidth);
                if (config.bias() && delta == recurrentDelta) {
                    // db_ih = db_hh = Σ_rows δ: one pass over δ (a memory-bound 1×N·N×G product),
                    // then two 1×1·1×G products to accumulate it into both gradients.
                    DeviceBuffer columnSum = pool.get("biasGradSum", dtype, gates);
                    backend.gemm(false, false, 1, gates, packedRows, 1.0, ones, 0, packedRows, delta, 0, gates, 0.0, columnSum, 0, gates);
                    backend.gemm(false, false, 1, gates, 1, 1.0, ones, 0, 1, columnSum, 0, gates, 1.0, w.gradBiasIh(), 0, gates);
                    backend.gemm(false, false, 1, gates, 1, 1.0, ones, 0, 1, columnSum, 0, gates, 1.0, w.gradBiasHh(), 0, gates);
                } else if (config.bias()) {
                    backend.gemm(false, false, 1, gates, packedRows, 1.0, ones, 0, packedRows, delta, 0, gates, 1.0, w.gradBiasIh(), 0, gates);
                    backend.gemm(false, false, 1, gates, packedRows, 1.0, ones, 0, packedRows, recurrentDelta, 0, gates, 1.0, w.gradBiasHh(), 0, gates);
                }
                if (formInputGrad) {
                    backend.gemm(false, false, packedRows, inWidth, gates, 1.0, delta, 0, gates, w.weightIh(), 0, inWidth, 0.0,
                            inGrad, inGradOffset, inWidth);
                }
                if (checkFinite) checkParameterGradients(w, l, d, inWidth, gates);
            }
        }

        final int inputSize = config.inputSize();
        if (checkFinite && inputGrad) {
            for (int d = 0; d < dirs; d++) {
                boolean direct = d == 0 && inputGradTarget != null && inPlace;
                FiniteChecks.require(backend, direct ? inputGradTarget.buffer() : input(0, d, packedRows), direct ? inputGradTarget.offset() : 0,
                        (long) packedRows * inputSize, "gradient of input x from direction " + d);
            }
        }
        Tensor inputGradient = null;
        if (inputGradTarget != null && !inPlace) {
            // Each direction's rows go from its slot layout into the caller's padded dL/dx (zero past the lengths).
            for (int d = 0; d < dirs; d++) {
                DeviceBuffer rows = indexBuffer("paddedOf" + d, reverse(d, layout::packedRowOfPadded));
                backend.gatherRows(inputGradTarget.buffer(), inputGradTarget.offset(), inputSize, 0, input(0, d, packedRows), 0, inputSize, 0,
                        rows, 0, steps * batch, inputSize, d > 0);
            }
        } else if (inputGradTarget != null) {
            // Already written by layer 0's dL/dx GEMM.
        } else if (inputGrad && layout.isFull() && dirs == 1) {
            // Slot order is padded order: layer 0's input buffer already holds dL/dx as (T, B, I).
            inputGradient = result("dx", input(0, 0, packedRows), 0, steps, batch, config.inputSize());
        } else if (inputGrad && dirs == 1) {
            // The rows go straight from the slot layout into dL/dx.
            inputGradient = resultTensor("dx", steps, batch, config.inputSize());
            backend.downloadRows(inputGradient, config.inputSize(), 0, input(0, 0, packedRows), 0,
                    hostIndex("paddedOf0", reverse(0, layout::packedRowOfPadded)), steps * batch, config.inputSize());
        } else if (inputGrad) {
            // The two directions' contributions are summed on the device, so dL/dx crosses to the host once.
            DeviceBuffer dx = pool.get("inputGrad.padded", dtype, (long) steps * batch * config.inputSize());
            for (int d = 0; d < dirs; d++) {
                DeviceBuffer rows = indexBuffer("paddedOf" + d, reverse(d, layout::packedRowOfPadded));
                backend.gatherRows(dx, 0, config.inputSize(), 0, input(0, d, packedRows), 0, config.inputSize(), 0, rows, 0,
                        steps * batch, config.inputSize(), d > 0);
            }
            inputGradient = result("dx", dx, 0, steps, batch, config.inputSize());
        }
        return new InputGradients(inputGradient, result("dh0", initialGrad, 0, layers * dirs, batch, hidden),
                hasCell ? result("dc0", initialCellGrad, 0, layers * dirs, batch, hidden) : null);
    }

    private void checkParameterGradients(LayerWeights w, int layer, int direction, int inWidth, int gates) {
        String suffix = RnnConfig.suffix(layer, direction);
        FiniteChecks.require(backend, w.gradWeightIh(), 0, (long) gates * inWidth, "gradient of weight_ih" + suffix);
        FiniteChecks.require(backend, w.gradWeightHh(), 0, (long) gates * config.hiddenSize(), "gradient of weight_hh" + suffix);
        if (config.bias()) {
            FiniteChecks.require(backend, w.gradBiasIh(), 0, gates, "gradient of bias_ih" + suffix);
            FiniteChecks.require(backend, w.gradBiasHh(), 0, gates, "gradient of bias_hh" + suffix);
        }
    }
}
