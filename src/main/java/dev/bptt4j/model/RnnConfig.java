package dev.bptt4j.model;

import dev.bptt4j.algo.StackShape;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.tensor.DType;

import java.util.ArrayList;
import java.util.List;

/**
 * The shape of a recurrent stack, with {@code torch.nn.RNN}'s meaning for every field.
 *
 * @param residual the residual Elman cell {@code h_t = h_{t−1} + f(z_t)} (not a PyTorch option)
 * @param projSize PyTorch's {@code proj_size} of an LSTM: h is projected to this width (0: no projection)
 * @param batchFirst PyTorch's {@code batch_first}: x, y and their gradients are (B, T, ·) instead of
 *                   (T, B, ·); states keep their (L·D, B, ·) layout
 * @param dropout    PyTorch's {@code dropout}: applied to the output of every layer but the last, in
 *                   training mode only, kept values scaled by 1/(1−p); 0 ≤ p &lt; 1
 * @param activationCheckpoints activation checkpointing (not a PyTorch option): 0 keeps every step's
 *                   activations for the backward; k ≥ 1 keeps the states only about every k steps and
 *                   recomputes each segment in the backward ({@link #AUTO_CHECKPOINTS}: k = ⌈√T⌉)
 */
public record RnnConfig(RnnMode mode, int inputSize, int hiddenSize, int numLayers, boolean bidirectional,
                        boolean bias, DType dtype, boolean residual, int projSize, boolean batchFirst, double dropout,
                        int activationCheckpoints) {

    /** {@link #activationCheckpoints}: a checkpoint every ⌈√T⌉ steps, T the pass's length. */
    public static final int AUTO_CHECKPOINTS = -1;

    public RnnConfig {
        if (mode == null) throw new IllegalArgumentException("mode: must not be null");
        if (dtype == null || !dtype.isFloatingPoint()) throw new IllegalArgumentException("dtype: expected F32 or F64, got " + dtype);
        if (inputSize < 1) throw new IllegalArgumentException("inputSize: expected >= 1, got " + inputSize);
        if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize: expected >= 1, got " + hiddenSize);
        if (numLayers < 1) throw new IllegalArgumentException("numLayers: expected >= 1, got " + numLayers);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("dropout: expected 0 <= p < 1, got " + dropout);
        if (activationCheckpoints < AUTO_CHECKPOINTS) {
            throw new IllegalArgumentException("activationCheckpoints: expected k >= 1 steps, 0 (off) or AUTO_CHECKPOINTS, got " + activationCheckpoints);
        }
        Cell cell = mode.cell(hiddenSize, bias, residual, projSize);
        if ((long) cell.gateWidth() > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("hiddenSize: " + hiddenSize + " is too large for " + mode);
        }
    }

    /** Without activation checkpointing. */
    public RnnConfig(RnnMode mode, int inputSize, int hiddenSize, int numLayers, boolean bidirectional, boolean bias, DType dtype,
                     boolean residual, int projSize, boolean batchFirst, double dropout) {
        this(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, projSize, batchFirst, dropout, 0);
    }

    /** A time-major stack without projection or dropout. */
    public RnnConfig(RnnMode mode, int inputSize, int hiddenSize, int numLayers, boolean bidirectional, boolean bias, DType dtype,
                     boolean residual) {
        this(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, 0);
    }

    /** A time-major stack without dropout. */
    public RnnConfig(RnnMode mode, int inputSize, int hiddenSize, int numLayers, boolean bidirectional, boolean bias, DType dtype,
                     boolean residual, int projSize) {
        this(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, projSize, false, 0.0);
    }

    /** A one-layer, unidirectional, biased float64 stack; refine with the {@code with…} methods. */
    public static RnnConfig of(RnnMode mode, int inputSize, int hiddenSize) {
        return new RnnConfig(mode, inputSize, hiddenSize, 1, false, true, DType.F64, false, 0, false, 0.0);
    }

    /** An LSTM's h projected to {@code p} units ({@code proj_size}; 0 removes the projection). */
    public RnnConfig withProjection(int p) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, p, batchFirst, dropout, activationCheckpoints);
    }

    /** x, y and their gradients batch-first, (B, T, ·), as {@code batch_first=True}. */
    public RnnConfig withBatchFirst(boolean b) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, projSize, b, dropout, activationCheckpoints);
    }

    /** Dropout p on the output of every layer but the last, in training mode ({@code Rnn.train()}). */
    public RnnConfig withDropout(double p) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, projSize, batchFirst, p, activationCheckpoints);
    }

    /**
     * Activation checkpointing: keep the states only about every {@code k} steps (at the blocks the
     * whole-sequence GEMMs run over, so k is rounded up to whole blocks) and recompute each segment
     * in the backward; gradients bit for bit the same as without, memory about O(T/k + k) instead
     * of O(T). 0 turns it off.
     */
    public RnnConfig withActivationCheckpoints(int k) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, residual, projSize, batchFirst, dropout, k);
    }

    /** {@link #withActivationCheckpoints(int)} with k = ⌈√T⌉ for each pass's T. */
    public RnnConfig withActivationCheckpoints() {
        return withActivationCheckpoints(AUTO_CHECKPOINTS);
    }

    public RnnConfig withLayers(int layers) {
        return new RnnConfig(mode, inputSize, hiddenSize, layers, bidirectional, bias, dtype, residual, projSize, batchFirst, dropout, activationCheckpoints);
    }

    public RnnConfig withBidirectional(boolean bi) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bi, bias, dtype, residual, projSize, batchFirst, dropout, activationCheckpoints);
    }

    public RnnConfig withBias(boolean b) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, b, dtype, residual, projSize, batchFirst, dropout, activationCheckpoints);
    }

    public RnnConfig withDType(DType d) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, d, residual, projSize, batchFirst, dropout, activationCheckpoints);
    }

    public RnnConfig withResidual(boolean r) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, r, projSize, batchFirst, dropout, activationCheckpoints);
    }

    /** D: 2 when bidirectional. */
    public int directions() {
        return bidirectional ? 2 : 1;
    }

    /** The cell of every layer and direction. */
    public Cell cell() {
        return mode.cell(hiddenSize, bias, residual, projSize);
    }

    /** The shape as the algorithm takes it. */
    public StackShape stackShape() {
        return new StackShape(cell(), inputSize, numLayers, directions(), dtype, batchFirst, dropout, activationCheckpoints);
    }

    /** Input width of layer {@code layer}: I for the first, D·(width of h) above it. */
    public int layerInputSize(int layer) {
        return layer == 0 ? inputSize : directions() * cell().outputSize();
    }

    /** Width of y: D·(width of h). */
    public int outputSize() {
        return directions() * cell().outputSize();
    }

    /** Rows of one weight matrix: gates·H. */
    public int gateRows() {
        return cell().gateWidth();
    }

    /** PyTorch's suffix for a layer and direction: {@code _l0}, {@code _l1_reverse}. */
    public static String suffix(int layer, int direction) {
        return "_l" + layer + (direction == 1 ? "_reverse" : "");
    }

    /** Every parameter in PyTorch's state_dict order, with its shape: the cell's, per layer and direction. */
    public List<ParameterSpec> parameters() {
        Cell cell = cell();
        List<ParameterSpec> out = new ArrayList<>();
        for (int l = 0; l < numLayers; l++) {
            for (int d = 0; d < directions(); d++) {
                for (Cell.Parameter p : cell.parameters(layerInputSize(l))) {
                    out.add(new ParameterSpec(p.name() + suffix(l, d), l, d, p.slot(), p.shape()));
                }
            }
        }
        return out;
    }
}
