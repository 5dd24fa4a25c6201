package dev.bptt4j.cell;

import dev.bptt4j.backend.KernelSpec;

import java.util.List;

import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * The GRU cell, {@code torch.nn.GRU}: gates r, z, n (PyTorch's order);
 * {@code r = σ(W_ir x + b_ir + W_hr h + b_hr)}, {@code z} likewise,
 * {@code n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))}, {@code h_t = n + z ⊙ (h_{t−1} − n)}.
 * Because r multiplies {@code W_hn h + b_hn}, the recurrent product keeps its own storage
 * ({@link #separateRecurrentGates()}); the backward leaves δ_ih over the gates and δ_hh over that
 * storage, puts {@code g·z} in the carry, and the carry product adds {@code δ_hh·W_hh} with beta 1.
 *
 * <p>Kernels: {@code cuda/gru_cell.cu}.
 */
public final class Gru extends Cell {
    public static final KernelSpec FORWARD = KernelSpec.kernel("gru_forward", "gru_cell")
            .pointer("hiddenOut", REAL, "rows", "hiddenSize")
            .pointer("gates", REAL, 3, "rows", "hiddenSize") // x·W_ihᵀ in, r, z, n out
            .pointer("hiddenGates", REAL, 3, "rows", "hiddenSize") // h_prev·W_hhᵀ, read only
            .nullablePointer("biasIh", REAL, 3, "hiddenSize")
            .nullablePointer("biasHh", REAL, 3, "hiddenSize")
            .pointer("hiddenPrev", REAL, "rows", "hiddenSize")
            .int32("rows").int32("hiddenSize")
            .grid("rows", "hiddenSize").build();

    /**
     * With {@code g = outputGrad + hiddenGradCarry}: δ_ih = [da_r, da_z, da_n] over the gates and
     * δ_hh = [da_r, da_z, da_n·r] over the hidden gates on the live rows (zero in the rest of the
     * slot), and {@code hiddenGradCarry = g·z}.
     */
    public static final KernelSpec BACKWARD = KernelSpec.kernel("gru_backward", "gru_cell")
            .pointer("gatesInDeltaOut", REAL, 3, "slotRows", "hiddenSize")
            .pointer("hiddenGatesInDeltaOut", REAL, 3, "slotRows", "hiddenSize")
            .pointer("hiddenGradCarry", REAL, "aliveRows", "hiddenSize")
            .pointer("hiddenPrev", REAL, "aliveRows", "hiddenSize")
            .pointer("outputGrad", REAL, "aliveRows", "hiddenSize")
            .nullablePointer("biasHh", REAL, 3, "hiddenSize")
            .int32("aliveRows").int32("slotRows").int32("hiddenSize")
            .atMost("aliveRows", "slotRows")
            .grid("slotRows", "hiddenSize").build();

    public Gru(int hiddenSize, boolean bias) {
        super(hiddenSize, bias);
    }

    @Override
    public String name() {
        return "GRU";
    }

    @Override
    public int gates() {
        return 3;
    }

    @Override
    public List<KernelSpec> kernels() {
        return List.of(FORWARD, BACKWARD);
    }

    @Override
    public boolean separateRecurrentGates() {
        return true;
    }

    @Override
    public double carryBeta() {
        return 1.0;
    }

    @Override
    public void forward(Step s) {
        s.kernel(FORWARD)
                .pointer(s.next(H)).pointer(s.gates()).pointer(s.recurrentGates()).pointer(s.parameter(BIAS_IH)).pointer(s.parameter(BIAS_HH))
                .pointer(s.previous(H)).int32(s.rows()).int32(hiddenSize())
                .launch();
    }

    @Override
    public void backward(Step s) {
        s.kernel(BACKWARD)
                .pointer(s.gates()).pointer(s.recurrentGates()).pointer(s.carry(H)).pointer(s.previous(H)).pointer(s.outputGrad())
                .pointer(s.parameter(BIAS_HH)).int32(s.rows()).int32(s.slotRows()).int32(hiddenSize())
                .launch();
    }
}
