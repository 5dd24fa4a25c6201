package dev.bptt4j.backend;

import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.backend.cuda.CudaBackend;
import dev.bptt4j.backend.cuda.CudaProbe;
import dev.bptt4j.backend.cuda.EmulatedCudaApi;
import dev.bptt4j.backend.cuda.JCudaApi;

import java.util.Locale;

/**
 * Chooses and creates a backend. The device comes from the argument, else the
 * {@code bptt4j.device} system property, else the {@code BPTT4J_DEVICE} environment variable,
 * else {@code auto}.
 *
 * <ul>
 *   <li>{@code cpu}: the CPU backend.
 *   <li>{@code gpu} (or {@code cuda}): the CUDA backend on device 0; without a usable GPU an
 *       IllegalStateException carrying {@link CudaProbe}'s reason.
 *   <li>{@code auto}: the CUDA backend when {@link CudaProbe} found a usable GPU (natives, device,
 *       cuBLAS and kernels all load), else the CPU backend, with one line on stderr saying why.
 *   <li>{@code cuda-emulated}: the CUDA backend over {@link EmulatedCudaApi} (no GPU involved).
 * </ul>
 * The GPU is probed once per JVM; no path loads the JCuda natives twice, and none can crash the JVM.
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
            case "auto": {
                CudaProbe.Verdict gpu = CudaProbe.verdict();
                String reason = gpu.detail();
                if (gpu.usable()) {
                    try {
                        return new CudaBackend(JCudaApi.open(), "cuda");
                    } catch (RuntimeException | LinkageError e) {
                        reason = "the GPU passed the probe but did not open: " + e;
                    }
                }
                System.err.println("bptt4j: using the CPU backend: no usable GPU: " + reason.replace('\n', ' '));
                return new CpuBackend();
            }
            case "gpu":
            case "cuda": {
                CudaProbe.Verdict gpu = CudaProbe.verdict();
                if (!gpu.usable()) throw new IllegalStateException("device gpu: no usable GPU: " + gpu.detail());
                return new CudaBackend(JCudaApi.open(), "cuda");
            }
            case "cuda-emulated":
                return new CudaBackend(new EmulatedCudaApi(), "cuda-emulated");
            default:
                throw new IllegalArgumentException("device: expected cpu, gpu, cuda-emulated or auto, got '" + d + "'");
        }
    }
}
