package dev.bptt4j.backend;

import dev.bptt4j.backend.cpu.CpuBackend;

import java.util.Locale;

/**
 * Chooses and creates a backend. The device comes from the argument, else the
 * {@code bptt4j.device} system property, else the {@code BPTT4J_DEVICE} environment variable,
 * else {@code auto}.
 */
public final class Backends {
    private Backends() {
    }

    /** The device requested by the environment when the caller names none. */
    public static String defaultDevice() {
        String v = System.getProperty("bptt4j.device");
        if (v == null || v.isBlank()) v = System.getenv("BPTT4J_DEVICE");
        return v == null || v.isBlank() ? "auto" : v.trim();
    }

    /** Creates the backend for "cpu", "gpu"/"cuda", "cuda-emulated" or "auto" (null = {@link #defaultDevice()}). */
    public static Backend create(String device) {
        String d = (device == null ? defaultDevice() : device).toLowerCase(Locale.ROOT);
        switch (d) {
            case "cpu":
                return new CpuBackend();
            case "auto":
                System.err.println("bptt4j: using the CPU backend: no CUDA backend in this build");
                return new CpuBackend();
            case "gpu":
            case "cuda":
                throw new IllegalStateException("device gpu: no usable GPU: the CUDA backend is not part of this build");
            default:
                throw new IllegalArgumentException("device: expected cpu, gpu, cuda-emulated or auto, got '" + d + "'");
        }
    }
}
