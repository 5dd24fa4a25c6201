package dev.bptt4j.backend;

/** The Elman cell's nonlinearity; {@link #code()} is the value the kernels take. */
public enum Activation {
    TANH(0),
    RELU(1);

    private final int code;

    Activation(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
