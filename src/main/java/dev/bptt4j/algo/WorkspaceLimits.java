package dev.bptt4j.algo;

import dev.bptt4j.backend.Backend;

/**
 * The largest workspace buffers of a forward/backward, checked against
 * {@link Backend#maxBufferElements()} before anything is allocated: a host tensor that fits in a
 * Java array can still need device buffers that do not fit one backend buffer (the hidden states
 * hold {@code (B + ΣL)·H}, the gates {@code packedRows·gates·H}, y {@code T·B·D·H}).
 */
final class WorkspaceLimits {
    private WorkspaceLimits() {
    }

    /** Throws an {@link IllegalArgumentException} naming the first buffer that would exceed the backend's limit. */
    static void check(StackShape config, BatchLayout layout, Backend backend) {
        check(config, layout, backend, null);
    }

    /** As {@link #check(StackShape, BatchLayout, Backend)}; a checkpointed pass ({@code segments} not null) holds its per-step tensors for one segment. */
    static void check(StackShape config, BatchLayout layout, Backend backend, int[] segments) {
        long max = backend.maxBufferElements();
        long steps = layout.steps(), batch = layout.batch(), hidden = config.cell().hiddenSize();
        long packed = segments == null ? layout.packedRows() : TimeBlocks.segmentRows(layout, segments, false);
        long hiddenRows = segments == null ? layout.hiddenRows() : TimeBlocks.segmentRows(layout, segments, true);
        String shape = " for x of T=" + steps + ", B=" + batch + " (" + packed + " packed rows) with " + config.cell().name()
                + " H=" + hidden + ", " + config.layers() + " layer(s), " + config.directions() + " direction(s)";
        require("x (T·B·I)", steps * batch * config.inputSize(), max, backend, shape);
        require("gate pre-activations (packed rows × " + config.cell().gateWidth() + ")", packed * config.cell().gateWidth(), max, backend, shape);
        for (var state : config.cell().states()) {
            String label = state.name().equals("h") ? "hidden states" : state.name().equals("c") ? "cell states" : "states " + state.name();
            String w = state.width() == hidden ? "H" : Integer.toString(state.width());
            require(label + " ((B + packed rows) × " + w + ")", hiddenRows * state.width(), max, backend, shape);
            require("states " + state.initialName() + "/" + state.finalName() + " (L·D·B·" + state.width() + ")",
                    (long) config.stateRows() * batch * state.width(), max, backend, shape);
        }
        for (var tensor : config.cell().stepTensors()) {
            require("per-step " + tensor.name() + " (packed rows × " + tensor.width() + ")", packed * tensor.width(), max, backend, shape);
        }
        if (config.layers() > 1) {
            // Every layer above the first has the same input width.
            require("input of layers 1.. (packed rows × D·H)", layout.packedRows() * config.layerInputSize(1), max, backend, shape);
        }
        require("output y (T·B·D·H)", steps * batch * config.outputWidth(), max, backend, shape);
    }


    private static void require(String tensor, long elements, long max, Backend backend, String shape) {
        if (elements > max) {
            throw new IllegalArgumentException(tensor + ": needs " + elements + " elements" + shape + ", more than the "
                    + backend.name() + " backend's limit of " + max + " elements per buffer; use a shorter T or a smaller batch");
        }
    }
}
