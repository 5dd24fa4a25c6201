package dev.bptt4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One compiled kernel file: its PTX (built by {@code cuda/build.sh} with CUDA 13 for compute_75,
 * committed under {@code src/main/resources}) and its CUDA source with the headers it includes
 * (put on the classpath straight from {@code cuda/} by pom.xml), all under {@code dev/bptt4j/cuda/}.
 * A driver older than R580 rejects CUDA 13's PTX (CUDA_ERROR_UNSUPPORTED_PTX_VERSION); the runtime
 * then compiles {@link #source()} with NVRTC, passing {@link #headers()} by name, for the device's
 * own architecture.
 */
public enum KernelModule {
    RNN_CELL("rnn_cell", List.of("bptt4j_math.cuh")),
    LSTM_CELL("lstm_cell", List.of("bptt4j_math.cuh")),
    GRU_CELL("gru_cell", List.of("bptt4j_math.cuh")),
    PACKING("packing", List.of()),
    TRAINING("training", List.of()),
    FINITE("finite", List.of()),
    DROPOUT("dropout", List.of("bptt4j_math.cuh", "philox.cuh"));

    /** Classpath folder holding every bundled PTX, .cu and .cuh file. */
    public static final String RESOURCE_DIRECTORY = "/dev/bptt4j/cuda/";

    private final String baseName;
    private final List<String> headers;

    KernelModule(String baseName, List<String> headers) {
        this.baseName = baseName;
        this.headers = headers;
    }

    /** The file name without extension, e.g. {@code rnn_cell}. */
    public String baseName() {
        return baseName;
    }

    public String ptxResource() {
        return RESOURCE_DIRECTORY + baseName + ".ptx";
    }

    public String sourceResource() {
        return RESOURCE_DIRECTORY + baseName + ".cu";
    }

    /** File names of the headers the source includes with {@code #include "name"}, in that order. */
    public List<String> headers() {
        return headers;
    }

    /** The PTX text as bundled; cuModuleLoadData wants it NUL-terminated, which is the caller's step. */
    public String ptx() {
        return readResource(ptxResource());
    }

    /** The CUDA source, for NVRTC; compile it with name {@code baseName() + ".cu"}. */
    public String source() {
        return readResource(sourceResource());
    }

    /** The text of one bundled header, for NVRTC's header list. */
    public static String header(String name) {
        return readResource(RESOURCE_DIRECTORY + name);
    }

    /** The module of {@code cuda/<baseName>.cu}. */
    public static KernelModule named(String baseName) {
        for (KernelModule m : values()) if (m.baseName.equals(baseName)) return m;
        throw new IllegalArgumentException("no CUDA kernel file named '" + baseName + ".cu'");
    }

    static String readResource(String path) {
        try (InputStream in = KernelModule.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException("bundled CUDA file " + path + " is missing from the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + path, e);
        }
    }
}
