package dev.bptt4j.algo;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Backpropagation through time for a stack of Elman layers, written once over {@link Backend}.
 *
 * <p>Per layer and direction the forward is: gather the layer input into the packed slot layout
 * ({@link BatchLayout}); one GEMM {@code pre = X·W_ihᵀ} over all steps; then per step one GEMM
 * {@code pre_τ += h_{τ−1}·W_hhᵀ} over the alive rows and one fused kernel
 * {@code h_τ = f(pre_τ + b_ih + b_hh)}. The pre-activations and hidden states stay on the device
 * for the backward, which sweeps τ = T−1..0 with one fused kernel
 * {@code δ_τ = f'(h_τ)·(dy_τ + dh_τ)} (written over pre_τ) and one GEMM {@code dh_{τ−1} = δ_τ·W_hh}
 * per step, then forms each weight gradient with a single GEMM over all steps.
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

    private BatchLayout layout;
    private boolean backwardPending;
    private BatchLayout indexLayout;
    private final Map<String, DeviceBuffer> uploadedIndexes = new HashMap<>();
    private DeviceBuffer onesBuffer;

    public StackBptt(RnnConfig config, Backend backend, LayerWeights[][] weights, BufferPool pool) {
        if (!config.mode().isElman()) {
            throw new UnsupportedOperationException("mode " + config.mode() + " is not supported yet (Elman RNN_TANH/RNN_RELU only)");
        }
        this.config = config;
        this.backend = backend;
        this.weights = weights;
        this.pool = pool;
        this.dtype = config.dtype();
    }

    /** y (T, B, D·H) and hn (L·D, B, H) of a forward pass. */
    public record Outputs(Tensor output, Tensor finalHidden) {
    }

    /** Gradients of the inputs; {@code input} is null when it was not asked for. */
    public record InputGradients(Tensor input, Tensor initialHidden) {
    }

    private String role(int layer, int direction, String what) {
        return "l" + layer + "d" + direction + "." + what;
    }

    /**
     * The device copy of one of the layout's index maps. Maps are uploaded once per distinct
     * layout: repeated steps with the same lengths (the common training loop) reuse them.
     */
    private DeviceBuffer indexBuffer(String role, Supplier<int[]> index) {
        if (indexLayout == null || !indexLayout.sameAs(layout)) {
            indexLayout = layout;
            uploadedIndexes.clear();
        }
        DeviceBuffer cached = uploadedIndexes.get(role);
        if (cached != null) return cached;
        int[] values = index.get();
        DeviceBuffer b = pool.get("index." + role, DType.I32, values.length);
        backend.upload(Tensor.ofInts(values, values.length), b, 0);
        uploadedIndexes.put(role, b);
        return b;
    }

    private Supplier<int[]> reverseOf(int direction, java.util.function.Function<Boolean, int[]> map) {
        return () -> map.apply(direction == 1);
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

    /**
     * Runs the stack on already-validated inputs.
     *
     * @param x  (T, B, I) in the stack's dtype
     * @param h0 (L·D, B, H) or null for zeros
     */
    public Outputs forward(Tensor x, Tensor h0, BatchLayout batchLayout) {
        this.layout = batchLayout;
        final int steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        final int dirs = config.directions(), layers = config.numLayers(), gates = config.gateRows();
        final int packedRows = Math.toIntExact(layout.packedRows());
        final long hiddenRows = layout.hiddenRows();
        final Activation act = config.mode().activation();
        final boolean residual = config.residual();

        // With every sequence of length T, the forward direction's slot layout is the padded (T, B, ·)
        // layout row for row: x goes straight into layer 0's input and y comes straight out of the
        // hidden states, with no gather.
        final boolean padded = layout.isFull();
        DeviceBuffer inputPadded = padded ? input(0, 0, packedRows) : pool.get("input.padded", dtype, x.size());
        backend.upload(x, inputPadded, 0);
        DeviceBuffer initial = pool.get("h0", dtype, (long) layers * dirs * batch * hidden);
        if (h0 == null) backend.fill(initial, 0, (long) layers * dirs * batch * hidden, 0.0);
        else backend.upload(h0, initial, 0);

        DeviceBuffer sortedRows = indexBuffer("originalOfSorted", layout::originalOfSorted);
        for (int l = 0; l < layers; l++) {
            final int inWidth = config.layerInputSize(l);
            for (int d = 0; d < dirs; d++) {
                LayerWeights w = weights[l][d];
                DeviceBuffer in = input(l, d, packedRows);
                if (l == 0) {
                    if (!(padded && d == 0)) {
                        DeviceBuffer rows = indexBuffer("packed" + d, reverseOf(d, layout::paddedRowOfPacked));
                        backend.gatherRows(in, 0, inWidth, 0, inputPadded, 0, config.inputSize(), 0, rows, 0, packedRows, inWidth, false);
                    }
                } else {
                    for (int src = 0; src < dirs; src++) {
                        DeviceBuffer rows = indexBuffer("hiddenFor" + src + "to" + d, crossRows(src, d, 1));
                        backend.gatherRows(in, 0, inWidth, src * hidden, hiddenStates(l - 1, src, hiddenRows), 0, hidden, 0,
                                rows, 0, packedRows, hidden, false);
                    }
                }
                DeviceBuffer pre = preActivations(l, d, packedRows);
                backend.gemm(false, true, packedRows, gates, inWidth, 1.0, in, 0, inWidth, w.weightIh(), 0, inWidth, 0.0, pre, 0, gates);

                DeviceBuffer hs = hiddenStates(l, d, hiddenRows);
                backend.gatherRows(hs, 0, hidden, 0, initial, (long) (l * dirs + d) * batch * hidden, hidden, 0,
                        sortedRows, 0, batch, hidden, false);
                for (int tau = 0; tau < steps; tau++) {
                    int alive = layout.alive(tau);
                    long slot = layout.slotOffset(tau), next = layout.slotOffset(tau + 1);
                    backend.gemm(false, true, alive, gates, hidden, 1.0, hs, slot * hidden, hidden, w.weightHh(), 0, hidden,
                            1.0, pre, slot * gates, gates);
                    backend.rnnForward(hs, next * hidden, pre, slot * gates, w.biasIh(), w.biasHh(), hs, slot * hidden,
                            alive, hidden, act, residual);
                }
            }
        }

        DeviceBuffer output;
        long outputOffset = 0;
        if (padded && dirs == 1) {
            output = hiddenStates(layers - 1, 0, hiddenRows);
            outputOffset = (long) batch * hidden;  // past h0's slot
        } else {
            output = pool.get("output.padded", dtype, (long) steps * batch * dirs * hidden);
            for (int d = 0; d < dirs; d++) {
                DeviceBuffer rows = indexBuffer("outputOf" + d, reverseOf(d, layout::hiddenRowOfPadded));
                backend.gatherRows(output, 0, dirs * hidden, d * hidden, hiddenStates(layers - 1, d, hiddenRows), 0, hidden, 0,
                        rows, 0, steps * batch, hidden, false);
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
        backwardPending = true;
        return new Outputs(backend.download(output, outputOffset, steps, batch, dirs * hidden),
                backend.download(finals, 0, layers * dirs, batch, hidden));
    }

    /**
     * Backward of the last forward; consumes it (the pre-activations are overwritten by deltas).
     *
     * @param dy       (T, B, D·H)
     * @param dhn      (L·D, B, H) or null for zeros
     * @param inputGrad whether to form dL/dx (skipping saves one GEMM over all steps)
     */
    public InputGradients backward(Tensor dy, Tensor dhn, boolean inputGrad) {
        if (!backwardPending) throw new IllegalStateException("backward: no forward pass to differentiate (each forward can be differentiated once)");
        backwardPending = false;
        final int steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        final int dirs = config.directions(), layers = config.numLayers(), gates = config.gateRows();
        final int packedRows = Math.toIntExact(layout.packedRows());
        final long hiddenRows = layout.hiddenRows();
        final Activation act = config.mode().activation();
        final boolean residual = config.residual();

        // As in the forward: a full, unidirectional batch needs no gather of dy or of dL/dx.
        final boolean padded = layout.isFull() && dirs == 1;
        DeviceBuffer outputGradPadded = padded ? pool.get(role(layers - 1, 0, "outputGrad"), dtype, (long) packedRows * hidden)
                : pool.get("outputGrad.padded", dtype, dy.size());
        backend.upload(dy, outputGradPadded, 0);
        long stateElements = (long) layers * dirs * batch * hidden;
        DeviceBuffer finalGrad = pool.get("dhn", dtype, stateElements);
        if (dhn == null) backend.fill(finalGrad, 0, stateElements, 0.0);
        else backend.upload(dhn, finalGrad, 0);
        DeviceBuffer initialGrad = pool.get("dh0", dtype, stateElements);
        DeviceBuffer carry = pool.get("hiddenGradCarry", dtype, (long) batch * hidden);
        DeviceBuffer ones = config.bias() ? ones(packedRows) : null;
        DeviceBuffer biasGradSum = config.bias() ? pool.get("biasGradSum", dtype, gates) : null;
        DeviceBuffer sortedRows = indexBuffer("originalOfSorted", layout::originalOfSorted);
        DeviceBuffer originalRows = indexBuffer("sortedOfOriginal", layout::sortedOfOriginal);

        for (int l = layers - 1; l >= 0; l--) {
            final int inWidth = config.layerInputSize(l);
            for (int d = 0; d < dirs; d++) {
                LayerWeights w = weights[l][d];
                DeviceBuffer outGrad = pool.get(role(l, d, "outputGrad"), dtype, (long) packedRows * hidden);
                if (l == layers - 1) {
                    if (!padded) {
                        DeviceBuffer rows = indexBuffer("packed" + d, reverseOf(d, layout::paddedRowOfPacked));
                        backend.gatherRows(outGrad, 0, hidden, 0, outputGradPadded, 0, dirs * hidden, d * hidden, rows, 0,
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
                backend.gatherRows(carry, 0, hidden, 0, finalGrad, (long) (l * dirs + d) * batch * hidden, hidden, 0,
                        sortedRows, 0, batch, hidden, false);

                DeviceBuffer delta = preActivations(l, d, packedRows);
                DeviceBuffer hs = hiddenStates(l, d, hiddenRows);
                for (int tau = steps - 1; tau >= 0; tau--) {
                    int alive = layout.alive(tau);
                    long slot = layout.slotOffset(tau), next = layout.slotOffset(tau + 1);
                    backend.rnnBackward(delta, slot * gates, carry, 0, hs, next * hidden, outGrad, slot * hidden,
                            w.biasIh(), w.biasHh(), alive, layout.slotRows(tau), hidden, act, residual);
                    backend.gemm(false, false, alive, hidden, gates, 1.0, delta, slot * gates, gates, w.weightHh(), 0, hidden,
                            residual ? 1.0 : 0.0, carry, 0, hidden);
                }
                backend.gatherRows(initialGrad, (long) (l * dirs + d) * batch * hidden, hidden, 0, carry, 0, hidden, 0,
                        originalRows, 0, batch, hidden, false);

                DeviceBuffer in = input(l, d, packedRows);
                backend.gemm(true, false, gates, hidden, packedRows, 1.0, delta, 0, gates, hs, 0, hidden, 1.0, w.gradWeightHh(), 0, hidden);
                backend.gemm(true, false, gates, inWidth, packedRows, 1.0, delta, 0, gates, in, 0, inWidth, 1.0, w.gradWeightIh(), 0, inWidth);
                if (config.bias()) {
                    // Both bias gradients are Σ_rows δ: one pass over δ, then two (1×1)·(1×G) GEMMs to accumulate it.
                    backend.gemm(false, false, 1, gates, packedRows, 1.0, ones, 0, packedRows, delta, 0, gates, 0.0, biasGradSum, 0, gates);
                    backend.gemm(false, false, 1, gates, 1, 1.0, ones, 0, 1, biasGradSum, 0, gates, 1.0, w.gradBiasIh(), 0, gates);
                    backend.gemm(false, false, 1, gates, 1, 1.0, ones, 0, 1, biasGradSum, 0, gates, 1.0, w.gradBiasHh(), 0, gates);
                }
                if (l > 0 || inputGrad) {
                    // The layer input is no longer needed: its buffer receives dL/d(input).
                    backend.gemm(false, false, packedRows, inWidth, gates, 1.0, delta, 0, gates, w.weightIh(), 0, inWidth, 0.0, in, 0, inWidth);
                }
            }
        }

        Tensor inputGradient = null;
        if (inputGrad) {
            DeviceBuffer dx = padded ? input(0, 0, packedRows) : pool.get("inputGrad.padded", dtype, (long) steps * batch * config.inputSize());
            for (int d = 0; d < dirs && !padded; d++) {
                DeviceBuffer rows = indexBuffer("paddedOf" + d, reverseOf(d, layout::packedRowOfPadded));
                backend.gatherRows(dx, 0, config.inputSize(), 0, input(0, d, packedRows), 0, config.inputSize(), 0, rows, 0,
                        steps * batch, config.inputSize(), d > 0);
            }
            inputGradient = backend.download(dx, 0, steps, batch, config.inputSize());
        }
        return new InputGradients(inputGradient, backend.download(initialGrad, 0, layers * dirs, batch, hidden));
    }
}
