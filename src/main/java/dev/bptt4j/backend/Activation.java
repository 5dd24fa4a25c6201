package dev.bptt4j.backend;

/** The Elman cell's nonlinearity; {@link #code()} is the value the kernels take. */
public enum Activation {
    TANH(0),
    RELU(1);

    private final int code;
    /** values() copies its array on every call, and kernels look an activation up per launch. */
    private static final Activation[] BY_CODE = values();

    Activation(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The activation of a kernel's code; unknown codes are an error (the kernels would read them as tanh). */
    public static Activation ofCode(int code) {
        for (Activation a : BY_CODE) if (a.code == code) return a;
        throw new IllegalArgumentException("activation code " + code + ": expected 0 (tanh) or 1 (relu)");
    }
}
