package dev.bptt4j.algo;

import dev.bptt4j.backend.DeviceSlice;

/**
 * One layer-direction's parameters and their gradient accumulators on the device, by the cell's
 * parameter slot ({@code Cell.WEIGHT_IH}, …); null where a parameter is absent (no bias).
 */
public record LayerParameters(DeviceSlice[] values, DeviceSlice[] gradients) {
    public DeviceSlice value(int slot) {
        return slot < values.length ? values[slot] : null;
    }

    public DeviceSlice gradient(int slot) {
        return slot < gradients.length ? gradients[slot] : null;
    }
}
