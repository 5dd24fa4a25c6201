package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceSlice;

/**
 * The device side of the opt-in finite check: one {@link Backend#countNonFinite} per tensor and
 * step, which synchronises with the device. {@link StackBptt} calls it only when the check is on,
 * so training without it pays nothing.
 */
final class FiniteChecks {
    private FiniteChecks() {
    }

    /** Throws naming {@code what} when any of the {@code count} elements of {@code slice} is NaN or ±Inf. */
    static void require(Backend backend, DeviceSlice slice, long count, String what) {
        long bad = backend.countNonFinite(slice, count);
        if (bad > 0) {
            throw new NonFiniteException("non-finite value in " + what + " (" + bad + " of " + count + " elements are NaN or Inf)");
        }
    }

    /** "at layer 0, direction 1, step 17"; the reverse direction counts steps from each sequence's end. */
    static String at(int layer, int direction, int step) {
        return "at layer " + layer + ", direction " + direction + ", step " + step
                + (direction == 1 ? " (reverse direction: steps count from each sequence's last element)" : "");
    }
}
