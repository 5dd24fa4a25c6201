package dev.bptt4j.algo;

import dev.bptt4j.backend.DeviceBuffer;

/**
 * One layer-direction's parameters and their gradient accumulators on the device. Biases (and
 * their gradients) are null when the stack has none.
 */
public record LayerWeights(DeviceBuffer weightIh, DeviceBuffer weightHh, DeviceBuffer biasIh, DeviceBuffer biasHh,
                           DeviceBuffer gradWeightIh, DeviceBuffer gradWeightHh,
                           DeviceBuffer gradBiasIh, DeviceBuffer gradBiasHh) {
}
