package dev.bptt4j.model;

import dev.bptt4j.tensor.Tensor;

/** One parameter tensor of a stack: its PyTorch name, where it sits, and its shape. */
public record ParameterSpec(String name, int layer, int direction, Kind kind, int[] shape) {
    public enum Kind { WEIGHT_IH, WEIGHT_HH, BIAS_IH, BIAS_HH }

    public long elements() {
        return Tensor.elementCount(shape);
    }
}
