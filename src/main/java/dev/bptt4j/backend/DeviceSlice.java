package dev.bptt4j.backend;

/**
 * Elements of a {@link DeviceBuffer} from {@code offset} on: how a tensor that lives inside a larger
 * buffer (y inside the activation storage, one chunk of a resident data set) is handed around
 * without a copy.
 */
public record DeviceSlice(DeviceBuffer buffer, long offset) {
    public DeviceSlice {
        if (buffer == null) throw new IllegalArgumentException("device slice: buffer is null");
        if (offset < 0 || offset > buffer.elements()) {
            throw new IndexOutOfBoundsException("device slice: offset " + offset + " outside a buffer of " + buffer.elements());
        }
    }
}
