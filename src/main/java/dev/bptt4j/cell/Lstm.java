package dev.bptt4j.cell;

import dev.bptt4j.backend.KernelSpec;

import java.util.List;

import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * The LSTM cell, {@code torch.nn.LSTM}: gates i, f, g, o (PyTorch's order) of
 * {@code a = x·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh}; {@code c_t = σ(f)·c_{t−1} + σ(i)·tanh(g)},
 * {@code h_t = σ(o)·tanh(c_t)}. Two states, h and c, both H wide; the backward kernel passes
 * dL/dc back through the c carry itself, and the carry product {@code δ·W_hh} assigns dL/dh.
 *
 * <p>Kernels: {@code cuda/lstm_cell.cu}. The forward leaves the activated gates in the gate
 * storage for the backward.
 */
public final class Lstm extends Cell {
    /** The cell state, state index 1. */
    public static final int C = 1;

    public static final KernelSpec FORWARD = KernelSpec.kernel("lstm_forward", "lstm_cell")
            .pointer("hiddenOut", REAL, "rows", "hiddenSize")
            .pointer("cellOut", REAL, "rows", "hiddenSize")
            .pointer("gates", REAL, 4, "rows", "hiddenSize") // pre-activations in, activated i, f, g, o out
            .nullablePointer("biasIh", REAL, 4, "hiddenSize")
            .nullablePointer("biasHh", REAL, 4, "hiddenSize")
            .pointer("cellPrev", REAL, "rows", "hiddenSize")
            .int32("rows").int32("hiddenSize")
            .grid("rows", "hiddenSize").build();

    /**
     * With {@code dh = outputGrad + hiddenGradCarry} and {@code dc = cellGradCarry + dh·o·(1 − tanh²c_τ)}:
     * gate deltas over the live rows (zero in the rest of the slot) and {@code cellGradCarry = dc·f}.
     */
    public static final KernelSpec BACKWARD = KernelSpec.kernel("lstm_backward", "lstm_cell")
            .pointer("gatesInDeltaOut", REAL, 4, "slotRows", "hiddenSize")
            .pointer("hiddenGradCarry", REAL, "aliveRows", "hiddenSize") // read only
            .pointer("cellGradCarry", REAL, "aliveRows", "hiddenSize")
            .pointer("cellPrev", REAL, "aliveRows", "hiddenSize")
            .pointer("cell", REAL, "aliveRows", "hiddenSize")
            .pointer("outputGrad", REAL, "aliveRows", "hiddenSize")
            .int32("aliveRows").int32("slotRows").int32("hiddenSize")
            .atMost("aliveRows", "slotRows")
            .grid("slotRows", "hiddenSize").build();

    public Lstm(int hiddenSize, boolean bias) {
        super(hiddenSize, bias);
    }

    @Override
    public String name() {
        return "LSTM";
    }

    @Override
    public int gates() {
        return 4;
    }

    @Override
    protected List<StateSpec> declareStates() {
        return List.of(new StateSpec("h", hiddenSize()), new StateSpec("c", hiddenSize()));
    }

    @Override
    public List<KernelSpec> kernels() {
        return List.of(FORWARD, BACKWARD);
    }

    @Override
    public void forward(Step s) {
        s.kernel(FORWARD)
                .pointer(s.next(H)).pointer(s.next(C)).pointer(s.gates()).pointer(s.parameter(BIAS_IH)).pointer(s.parameter(BIAS_HH))
                .pointer(s.previous(C)).int32(s.rows()).int32(hiddenSize())
                .launch();
    }

    @Override
    public void backward(Step s) {
        s.kernel(BACKWARD)
                .pointer(s.gates()).pointer(s.carry(H)).pointer(s.carry(C)).pointer(s.previous(C)).pointer(s.next(C)).pointer(s.outputGrad())
                .int32(s.rows()).int32(s.slotRows()).int32(hiddenSize())
                .launch();
    }
}
