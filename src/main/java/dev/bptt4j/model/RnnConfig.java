package dev.bptt4j.model;

import dev.bptt4j.tensor.DType;

import java.util.ArrayList;
import java.util.List;

/**
 * The shape of a recurrent stack, with {@code torch.nn.RNN}'s meaning for every field.
 *
 * @param residual the residual Elman cell {@code h_t = h_{t−1} + f(z_t)} (not a PyTorch option)
 */
public record RnnConfig(RnnMode mode, int inputSize, int hiddenSize, int numLayers, boolean bidirectional,
                        boolean bias, DType dtype, boolean residual) {

    public RnnConfig {
        if (mode == null) throw new IllegalArgumentException("mode: must not be null");
        if (dtype == null || !dtype.isFloatingPoint()) throw new IllegalArgumentException("dtype: expected F32 or F64, got " + dtype);
        if (inputSize < 1) throw new IllegalArgumentException("inputSize: expected >= 1, got " + inputSize);
        if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize: expected >= 1, got " + hiddenSize);
        if (numLayers < 1) throw new IllegalArgumentException("numLayers: expected >= 1, got " + numLayers);
        if (residual && !mode.isElman()) throw new IllegalArgumentException("residual: only the Elman cells (RNN_TANH, RNN_RELU) have a residual form, not " + mode);
        if ((long) mode.gates() * hiddenSize > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("hiddenSize: " + hiddenSize + " is too large for " + mode);
        }
    }

    /** A one-layer, unidirectional, biased float64 stack; refine with the {@code with…} methods. */
    public static RnnConfig of(RnnMode mode, int inputSize, int hiddenSize) {
        return new RnnConfig(mode, inputSize, hiddenSize, 1, false, true, DType.F64, false);
    }

    public RnnConfig withLayers(int layers) {
        return new RnnConfig(mode, inputSize, hiddenSize, layers, bidirectional, bias, dtype, residual);
    }

    public RnnConfig withBidirectional(boolean bi) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bi, bias, dtype, residual);
    }

    public RnnConfig withBias(boolean b) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, b, dtype, residual);
    }

    public RnnConfig withDType(DType d) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, d, residual);
    }

    public RnnConfig withResidual(boolean r) {
        return new RnnConfig(mode, inputSize, hiddenSize, numLayers, bidirectional, bias, dtype, r);
    }

    /** D: 2 when bidirectional. */
    public int directions() {
        return bidirectional ? 2 : 1;
    }

    /** Input width of layer {@code layer}: I for the first, D·H above it. */
    public int layerInputSize(int layer) {
        return layer == 0 ? inputSize : directions() * hiddenSize;
    }

    /** Rows of one weight matrix: gates·H. */
    public int gateRows() {
        return mode.gates() * hiddenSize;
    }

    /** PyTorch's suffix for a layer and direction: {@code _l0}, {@code _l1_reverse}. */
    public static String suffix(int layer, int direction) {
        return "_l" + layer + (direction == 1 ? "_reverse" : "");
    }

    /** Every parameter in PyTorch's state_dict order, with its shape. */
    public List<ParameterSpec> parameters() {
        List<ParameterSpec> out = new ArrayList<>();
        for (int l = 0; l < numLayers; l++) {
            for (int d = 0; d < directions(); d++) {
                String s = suffix(l, d);
                out.add(new ParameterSpec("weight_ih" + s, l, d, ParameterSpec.Kind.WEIGHT_IH, new int[]{gateRows(), layerInputSize(l)}));
                out.add(new ParameterSpec("weight_hh" + s, l, d, ParameterSpec.Kind.WEIGHT_HH, new int[]{gateRows(), hiddenSize}));
                if (bias) {
                    out.add(new ParameterSpec("bias_ih" + s, l, d, ParameterSpec.Kind.BIAS_IH, new int[]{gateRows()}));
                    out.add(new ParameterSpec("bias_hh" + s, l, d, ParameterSpec.Kind.BIAS_HH, new int[]{gateRows()}));
                }
            }
        }
        return out;
    }
}
