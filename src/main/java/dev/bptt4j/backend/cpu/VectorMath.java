package dev.bptt4j.backend.cpu;

/**
 * Element functions of a native vector-math library, in place over a range of an off-heap CPU
 * buffer: no copy to the heap and back, SIMD code chosen for the CPU at run time.
 */
interface VectorMath {
    /** tanh over {@code b[offset, offset + n)}, in place, through the buffer's view for {@code lane}; NaN stays NaN. */
    void tanh(CpuBuffer b, int lane, int offset, int n);
}
