package dev.bptt4j.algo;

import dev.bptt4j.backend.KernelSpec;

import static dev.bptt4j.backend.KernelSpec.Element.I32;
import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * Dropout between layers ({@code cuda/dropout.cu}): in training, the output of every layer but the
 * last is kept with probability 1 − p and scaled by 1/(1 − p), as {@code torch.nn.RNN(dropout=p)}.
 * The mask is drawn from Philox keyed by the seed and indexed by (unit, real time, sequence,
 * layer and direction that produced the value, forward count), so every backend draws the same
 * mask for any layout and a forward can be replayed. The forward keeps the mask (0 or the scale)
 * for the backward, which multiplies the gradient by it.
 */
public final class Dropout {
    private Dropout() {
    }

    /** x ← x·mask over rows × width of a layer input (width = D·hidden); the mask written beside it. */
    public static final KernelSpec FORWARD = KernelSpec.kernel("dropout_forward", "dropout")
            .pointer("x", REAL, "rows", "width")
            .pointer("mask", REAL, "rows", "width")
            .pointer("timeRow", I32, "rows") // t·B + b of each row, −1 for a dead row
            .int32("rows").int32("width").int32("hidden").int32("layer")
            .int64("seed").int64("stream").float64("p").real("scale")
            .require("hidden >= 1 and width a multiple of it", a -> a.integer(5) >= 1 && a.integer(4) % a.integer(5) == 0)
            .require("0 <= p < 1", a -> a.realAt(9) >= 0 && a.realAt(9) < 1)
            .grid("rows", "width").build();

    /** grad ← grad·mask over count elements. */
    public static final KernelSpec BACKWARD = KernelSpec.kernel("dropout_backward", "dropout")
            .pointer("grad", REAL, "count")
            .pointer("mask", REAL, "count")
            .int64("count")
            .grid("count").build();
}
