package dev.bptt4j.train;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;

/** A trainable tensor on the device: its value, its accumulated gradient ({@code elements} each), and a name for reports. */
public record Parameter(String name, DeviceSlice value, DeviceSlice gradient, long elements) {
    public Parameter {
        if (value == null || gradient == null) throw new IllegalArgumentException("parameter " + name + ": value and gradient are required");
        if (elements < 0 || value.offset() + elements > value.buffer().elements() || gradient.offset() + elements > gradient.buffer().elements()) {
            throw new IllegalArgumentException("parameter " + name + ": " + elements + " elements do not fit its buffers");
        }
    }

    /** A parameter that is all of {@code value}, with its gradient in {@code gradient}. */
    public Parameter(String name, DeviceBuffer value, DeviceBuffer gradient) {
        this(name, DeviceSlice.of(value), DeviceSlice.of(gradient), value.elements());
    }
}
