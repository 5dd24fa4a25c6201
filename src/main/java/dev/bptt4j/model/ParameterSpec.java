package dev.bptt4j.model;

import dev.bptt4j.tensor.Tensor;

/**
 * One parameter tensor of a stack: its PyTorch name ({@code weight_hh_l1_reverse}), where it sits,
 * its slot in the cell ({@code Cell.WEIGHT_IH}, …) and its shape.
 */
public record ParameterSpec(String name, int layer, int direction, int slot, int[] shape) {
    public long elements() {
        return Tensor.elementCount(shape);
    }
}
