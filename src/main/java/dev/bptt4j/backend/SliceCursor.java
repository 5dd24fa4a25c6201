package dev.bptt4j.backend;

/**
 * A {@link DeviceSlice} that moves: a time loop keeps one per tensor role and lane and points it
 * at each step's rows in turn, so that the loop passes slices to the backend without creating an
 * object per step. Only its owner moves it; a backend never keeps a slice past the call.
 */
public final class SliceCursor extends DeviceSlice {
    public SliceCursor(DeviceBuffer buffer, long offset) {
        super(buffer, offset);
    }

    /** Points at element {@code offset} of the same buffer. */
    public SliceCursor moveTo(long offset) {
        check(buffer, offset);
        this.offset = offset;
        return this;
    }

    /** Points at element {@code offset} of {@code buffer}. */
    public SliceCursor moveTo(DeviceBuffer buffer, long offset) {
        check(buffer, offset);
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }
}
