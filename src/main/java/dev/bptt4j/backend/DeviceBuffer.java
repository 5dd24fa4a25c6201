package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;

/**
 * A block of memory owned by one {@link Backend}: off-heap host memory for the CPU, device memory
 * for CUDA. Offsets passed to backend operations are in elements of {@link #dtype()}.
 */
public interface DeviceBuffer extends AutoCloseable {
    DType dtype();

    long elements();

    boolean isClosed();

    /** Frees the memory; closing twice is harmless. */
    @Override
    void close();
}
