package dev.bptt4j.model;

import dev.bptt4j.backend.Activation;

/** The recurrent cell, named as PyTorch's cuDNN-style mode strings (the case files' {@code mode}). */
public enum RnnMode {
    RNN_TANH(1),
    RNN_RELU(1),
    LSTM(4),
    GRU(3);

    private final int gates;

    RnnMode(int gates) {
        this.gates = gates;
    }

    /** Rows of weight_ih/weight_hh per hidden unit: 1 for Elman, 4 for LSTM (i,f,g,o), 3 for GRU (r,z,n). */
    public int gates() {
        return gates;
    }

    public boolean isElman() {
        return this == RNN_TANH || this == RNN_RELU;
    }

    public Activation activation() {
        if (!isElman()) throw new IllegalStateException(this + " has no single activation");
        return this == RNN_TANH ? Activation.TANH : Activation.RELU;
    }

    public static RnnMode parse(String s) {
        for (RnnMode m : values()) if (m.name().equalsIgnoreCase(s.trim())) return m;
        throw new IllegalArgumentException("mode: expected one of RNN_TANH, RNN_RELU, LSTM, GRU, got '" + s + "'");
    }
}
