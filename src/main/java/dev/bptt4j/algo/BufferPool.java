package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.tensor.DType;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Workspace buffers named by role ("l0d1.hidden"), grown only when a call needs more than the
 * last one did. Repeated training steps of the same (or a smaller) shape therefore allocate
 * nothing on the device, and nothing inside a time loop ever allocates.
 */
public final class BufferPool implements AutoCloseable {
    private final Backend backend;
    private final Map<String, DeviceBuffer> buffers = new HashMap<>();
    /** One whole-buffer slice per held buffer, so that a pass hands its buffers around without new objects. */
    private final Map<DeviceBuffer, DeviceSlice> wholes = new IdentityHashMap<>();

    public BufferPool(Backend backend) {
        this.backend = backend;
    }

    /** A buffer of at least {@code elements}; its contents are whatever the last user left. */
    public DeviceBuffer get(String role, DType dtype, long elements) {
        DeviceBuffer b = buffers.get(role);
        if (b != null && b.dtype() == dtype && b.elements() >= elements) return b;
        if (b != null) {
            wholes.remove(b);
            b.close();
        }
        // Grow with slack so that slowly increasing lengths do not reallocate every call.
        long capacity = b == null ? elements : Math.max(elements, b.elements() + b.elements() / 4);
        DeviceBuffer fresh = backend.allocate(dtype, Math.max(1, capacity));
        buffers.put(role, fresh);
        return fresh;
    }

    /** All of {@code b}, a buffer this pool handed out, as a slice from element 0 (the same object every call). */
    public DeviceSlice whole(DeviceBuffer b) {
        DeviceSlice s = wholes.get(b);
        if (s == null) {
            s = DeviceSlice.of(b);
            wholes.put(b, s);
        }
        return s;
    }

    /** Total elements held, for memory reports. */
    public long heldElements() {
        long n = 0;
        for (DeviceBuffer b : buffers.values()) n += b.elements();
        return n;
    }

    public long heldBytes() {
        long n = 0;
        for (DeviceBuffer b : buffers.values()) n += b.elements() * b.dtype().byteSize();
        return n;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : buffers.values()) b.close();
        buffers.clear();
        wholes.clear();
    }
}
