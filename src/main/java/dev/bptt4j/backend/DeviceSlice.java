package dev.bptt4j.backend;

import java.util.Objects;

/**
 * Elements of a {@link DeviceBuffer} from {@code offset} on: how every tensor travels to a backend
 * operation (a GEMM operand, a kernel argument, one chunk of a resident data set) without a copy.
 *
 * <p>A slice handed to a backend is read during the call and never kept by it. The time loops
 * walk their slots with {@link SliceCursor}s, slices that move from step to step, so that a step
 * creates no objects; every other slice is fixed.
 */
public sealed class DeviceSlice permits SliceCursor {
    DeviceBuffer buffer;
    long offset;

    public DeviceSlice(DeviceBuffer buffer, long offset) {
        check(buffer, offset);
        this.buffer = buffer;
        this.offset = offset;
    }

    /** The whole buffer, from element 0. */
    public static DeviceSlice of(DeviceBuffer buffer) {
        return new DeviceSlice(buffer, 0);
    }

    static void check(DeviceBuffer buffer, long offset) {
        if (buffer == null) throw new IllegalArgumentException("device slice: buffer is null");
        if (offset < 0 || offset > buffer.elements()) {
            throw new IndexOutOfBoundsException("device slice: offset " + offset + " outside a buffer of " + buffer.elements());
        }
    }

    public DeviceBuffer buffer() {
        return buffer;
    }

    public long offset() {
        return offset;
    }

    /** A fixed slice {@code elements} further on in the same buffer. */
    public DeviceSlice plus(long elements) {
        return new DeviceSlice(buffer, offset + elements);
    }

    /** Elements from the offset to the end of the buffer. */
    public long remaining() {
        return buffer.elements() - offset;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeviceSlice s && s.buffer == buffer && s.offset == offset;
    }

    @Override
    public int hashCode() {
        return Objects.hash(System.identityHashCode(buffer), offset);
    }

    @Override
    public String toString() {
        return buffer + "@" + offset;
    }
}
