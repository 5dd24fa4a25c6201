package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.model.RnnConfig;

/**
 * The largest workspace buffers of a forward/backward, checked against
 * {@link Backend#maxBufferElements()} before anything is allocated: a host tensor that fits in a
 * Java array can still need device buffers that do not fit one backend buffer (the hidden states
 * hold {@code (B + ΣL)·H}, the gates {@code packedRows·gates·H}, y {@code T·B·D·H}).
 */
public final class WorkspaceLimits {
    private WorkspaceLimits() {
    }

    /** Throws an {@link IllegalArgumentException} naming the first buffer that would exceed the backend's limit. */
    public static void check(RnnConfig config, BatchLayout layout, Backend backend) {
        long max = backend.maxBufferElements();
        long steps = layout.steps(), batch = layout.batch(), hidden = config.hiddenSize();
        long packed = layout.packedRows(), hiddenRows = layout.hiddenRows();
        String shape = " for x of T=" + steps + ", B=" + batch + " (" + packed + " packed rows) with " + config.mode()
                + " H=" + hidden + ", " + config.numLayers() + " layer(s), " + config.directions() + " direction(s)";
        require("x (T·B·I)", steps * batch * config.inputSize(), max, backend, shape);
        require("gate pre-activations (packed rows × " + config.gateRows() + ")", packed * config.gateRows(), max, backend, shape);
        require("hidden states ((B + packed rows) × H)", hiddenRows * hidden, max, backend, shape);
        if (config.numLayers() > 1) {
            // Every layer above the first has the same input width.
            require("input of layers 1.. (packed rows × D·H)", packed * config.layerInputSize(1), max, backend, shape);
        }
        require("output y (T·B·D·H)", steps * batch * config.directions() * hidden, max, backend, shape);
        require("states h0/hn (L·D·B·H)", (long) config.numLayers() * config.directions() * batch * hidden, max, backend, shape);
    }

    private static void require(String tensor, long elements, long max, Backend backend, String shape) {
        if (elements > max) {
            throw new IllegalArgumentException(tensor + ": needs " + elements + " elements" + shape + ", more than the "
                    + backend.name() + " backend's limit of " + max + " elements per buffer; use a shorter T or a smaller batch");
        }
    }
}
