package dev.bptt4j.cell;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.backend.KernelSpec;

import java.util.List;

import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * The Elman cell, {@code torch.nn.RNN}: {@code h_t = f(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)}
 * with f = tanh ({@code RNN_TANH}) or relu ({@code RNN_RELU}); and its residual form
 * {@code h_t = h_{t−1} + f(…)} (not a PyTorch option), whose identity path carries the gradient
 * unchanged: its backward kernel leaves {@code dy + carry} in the carry, so the carry product
 * adds {@code δ·W_hh} with beta 1.
 *
 * <p>Kernels: {@code cuda/rnn_cell.cu}. The backward takes f' from the stored output h for the
 * plain cell and from the pre-activation plus biases for the residual one (whose h is not f(z)).
 */
public final class Elman extends Cell {
    /** {@code hiddenOut = (residual ? hiddenPrev : 0) + f(preActivation + biasIh + biasHh)} over rows × H. */
    public static final KernelSpec FORWARD = KernelSpec.kernel("rnn_forward", "rnn_cell")
            .pointer("hiddenOut", REAL, "rows", "hiddenSize")
            .pointer("preActivation", REAL, "rows", "hiddenSize")
            .nullablePointer("biasIh", REAL, "hiddenSize")
            .nullablePointer("biasHh", REAL, "hiddenSize")
            .nullablePointer("hiddenPrev", REAL, "rows", "hiddenSize") // read only when residual != 0
            .int32("rows").int32("hiddenSize").int32("activation").int32("residual")
            .require("activation 0 (tanh) or 1 (relu)", a -> a.integer(7) == 0 || a.integer(7) == 1)
            .require("hiddenPrev when residual != 0", a -> a.integer(8) == 0 || a.slice(4) != null)
            .grid("rows", "hiddenSize").build();

    /**
     * Over the slot's rows: the live ones get {@code δ = f'·(outputGrad + hiddenGradCarry)} in place
     * of the pre-activation, the rest zero; the residual cell also writes the sum to the carry.
     */
    public static final KernelSpec BACKWARD = KernelSpec.kernel("rnn_backward", "rnn_cell")
            .pointer("deltaInOut", REAL, "slotRows", "hiddenSize")
            .pointer("hiddenGradCarry", REAL, "aliveRows", "hiddenSize")
            .nullablePointer("hidden", REAL, "aliveRows", "hiddenSize") // read only when residual == 0
            .pointer("outputGrad", REAL, "aliveRows", "hiddenSize")
            .nullablePointer("biasIh", REAL, "hiddenSize")
            .nullablePointer("biasHh", REAL, "hiddenSize")
            .int32("aliveRows").int32("slotRows").int32("hiddenSize").int32("activation").int32("residual")
            .atMost("aliveRows", "slotRows")
            .require("activation 0 (tanh) or 1 (relu)", a -> a.integer(9) == 0 || a.integer(9) == 1)
            .require("hidden when residual == 0", a -> a.integer(10) != 0 || a.slice(2) != null)
            .grid("slotRows", "hiddenSize").build();

    private final Activation activation;
    private final boolean residual;

    public Elman(Activation activation, boolean residual, int hiddenSize, boolean bias) {
        super(hiddenSize, bias);
        if (activation == null) throw new IllegalArgumentException("activation: must not be null");
        this.activation = activation;
        this.residual = residual;
    }

    public Activation activation() {
        return activation;
    }

    public boolean residual() {
        return residual;
    }

    @Override
    public String name() {
        return activation == Activation.TANH ? "RNN_TANH" : "RNN_RELU";
    }

    @Override
    public int gates() {
        return 1;
    }

    @Override
    public List<KernelSpec> kernels() {
        return List.of(FORWARD, BACKWARD);
    }

    @Override
    public double carryBeta() {
        return residual ? 1.0 : 0.0;
    }

    @Override
    public void forward(Step s) {
        s.kernel(FORWARD)
                .pointer(s.next(H)).pointer(s.gates()).pointer(s.parameter(BIAS_IH)).pointer(s.parameter(BIAS_HH))
                .pointer(residual ? s.previous(H) : null)
                .int32(s.rows()).int32(hiddenSize()).int32(activation.code()).int32(residual ? 1 : 0)
                .launch();
    }

    @Override
    public void backward(Step s) {
        s.kernel(BACKWARD)
                .pointer(s.gates()).pointer(s.carry(H)).pointer(residual ? null : s.next(H)).pointer(s.outputGrad())
                .pointer(residual ? s.parameter(BIAS_IH) : null).pointer(residual ? s.parameter(BIAS_HH) : null)
                .int32(s.rows()).int32(s.slotRows()).int32(hiddenSize()).int32(activation.code()).int32(residual ? 1 : 0)
                .launch();
    }

    @Override
    public String toString() {
        return (residual ? "residual " : "") + super.toString();
    }
}
