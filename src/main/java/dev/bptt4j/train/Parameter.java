package dev.bptt4j.train;

import dev.bptt4j.backend.DeviceBuffer;

/** A trainable tensor on the device: its value, its accumulated gradient, and a name for reports. */
public record Parameter(String name, DeviceBuffer value, DeviceBuffer gradient) {
    public long elements() {
        return value.elements();
    }
}
