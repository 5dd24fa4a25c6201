package dev.bptt4j.backend;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

/** Double arrays rounded into host tensors of a buffer's dtype, for {@link Backend}'s host fallbacks. */
final class HostTensors {
    private HostTensors() {
    }

    static Tensor of(double[] values, DType dtype, int... shape) {
        Tensor t = Tensor.of(values, shape);
        return dtype == DType.F64 ? t : t.to(dtype);
    }
}
