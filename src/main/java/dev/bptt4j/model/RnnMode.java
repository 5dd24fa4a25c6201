package dev.bptt4j.model;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.Elman;
import dev.bptt4j.cell.Gru;
import dev.bptt4j.cell.Lstm;

/**
 * The recurrent cell, named as PyTorch's cuDNN-style mode strings (the case files' {@code mode}),
 * and the {@link Cell} each names: everything else about a cell lives in its class.
 */
public enum RnnMode {
    RNN_TANH,
    RNN_RELU,
    LSTM,
    GRU;

    /** The cell of this mode, H units wide, with or without biases; {@code residual} only for the Elman modes. */
    public Cell cell(int hiddenSize, boolean bias, boolean residual) {
        return cell(hiddenSize, bias, residual, 0);
    }

    /** As {@link #cell(int, boolean, boolean)}, with an LSTM's {@code proj_size} (0: none; LSTM only). */
    public Cell cell(int hiddenSize, boolean bias, boolean residual, int projSize) {
        if (residual && !isElman()) {
            throw new IllegalArgumentException("residual: only the Elman cells (RNN_TANH, RNN_RELU) have a residual form, not " + this);
        }
        if (projSize != 0 && this != LSTM) {
            throw new IllegalArgumentException("proj_size: only the LSTM has projections (as torch.nn.LSTM), not " + this);
        }
        switch (this) {
            case RNN_TANH: return new Elman(Activation.TANH, residual, hiddenSize, bias);
            case RNN_RELU: return new Elman(Activation.RELU, residual, hiddenSize, bias);
            case LSTM: return new Lstm(hiddenSize, bias, projSize);
            case GRU: return new Gru(hiddenSize, bias);
            default: throw new AssertionError(this);
        }
    }

    /** The Elman modes, which have a residual form. */
    public boolean isElman() {
        return this == RNN_TANH || this == RNN_RELU;
    }

    public static RnnMode parse(String s) {
        for (RnnMode m : values()) if (m.name().equalsIgnoreCase(s.trim())) return m;
        throw new IllegalArgumentException("mode: expected one of RNN_TANH, RNN_RELU, LSTM, GRU, got '" + s + "'");
    }
}
