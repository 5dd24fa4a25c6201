package dev.bptt4j.cell;

import dev.bptt4j.backend.KernelSpec;
import dev.bptt4j.backend.Packing;

import java.util.ArrayList;
import java.util.List;

import static dev.bptt4j.backend.KernelSpec.Element.REAL;

/**
 * The LSTM cell, {@code torch.nn.LSTM}: gates i, f, g, o (PyTorch's order) of
 * {@code a = x·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh}; {@code c_t = σ(f)·c_{t−1} + σ(i)·tanh(g)},
 * {@code h_t = σ(o)·tanh(c_t)}. Two states, h and c; the backward kernel passes dL/dc back through
 * the c carry itself, and the carry product {@code δ·W_hh} assigns dL/dh.
 *
 * <p>With projections ({@code proj_size} = P, 0 &lt; P &lt; H) the cell owns one more GEMM each
 * way, as aten's {@code matmul_hr}: the pointwise kernel writes {@code m_t = σ(o)·tanh(c_t)} (H
 * wide) into a per-step tensor and {@code h_t = m_t·W_hrᵀ} (P wide; {@code weight_hr} is (P, H)),
 * so h0, hn, y and W_hh's columns are P wide while c stays H. Backward:
 * {@code dh_t = dy_t + carry} (kept per step), {@code dm_t = dh_t·W_hr}, then the LSTM kernel
 * with dm in place of dL/dh; after the sweep {@code dW_hr += Σ_t dh_tᵀ·m_t}, one GEMM.
 *
 * <p>Kernels: {@code cuda/lstm_cell.cu}, and {@code sum_rows} of {@code cuda/packing.cu}. The
 * forward leaves the activated gates in the gate storage for the backward.
 */
public final class Lstm extends Cell {
    /** The cell state, state index 1. */
    public static final int C = 1;
    /** The projection {@code weight_hr} (P, H): parameter slot 4, with projections only. */
    public static final int WEIGHT_HR = 4;
    /** Per-step tensors with projections: m (H), dL/dh (P), dL/dm (H). */
    private static final int M = 0, DH = 1, DM = 2;

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
            .nullablePointer("hiddenGradCarry", REAL, "aliveRows", "hiddenSize") // read only; NULL: zero
            .pointer("cellGradCarry", REAL, "aliveRows", "hiddenSize")
            .pointer("cellPrev", REAL, "aliveRows", "hiddenSize")
            .pointer("cell", REAL, "aliveRows", "hiddenSize")
            .pointer("outputGrad", REAL, "aliveRows", "hiddenSize")
            .int32("aliveRows").int32("slotRows").int32("hiddenSize")
            .atMost("aliveRows", "slotRows")
            .grid("slotRows", "hiddenSize").build();

    private final int projSize;

    public Lstm(int hiddenSize, boolean bias) {
        this(hiddenSize, bias, 0);
    }

    /** An LSTM whose h is projected to {@code projSize} (0 for none; else 1..H−1, as PyTorch requires). */
    public Lstm(int hiddenSize, boolean bias, int projSize) {
        super(hiddenSize, bias);
        if (projSize < 0 || (projSize > 0 && projSize >= hiddenSize)) {
            throw new IllegalArgumentException("proj_size: expected 0 (none) or 1.." + (hiddenSize - 1) + " (below hidden_size), got " + projSize);
        }
        this.projSize = projSize;
    }

    /** P, or 0 without projections. */
    public int projSize() {
        return projSize;
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
        return List.of(new StateSpec("h", projSize > 0 ? projSize : hiddenSize()), new StateSpec("c", hiddenSize()));
    }

    @Override
    protected List<StepTensor> declareStepTensors() {
        if (projSize == 0) return List.of();
        return List.of(new StepTensor("m", hiddenSize()), new StepTensor("dh", projSize), new StepTensor("dm", hiddenSize()));
    }

    @Override
    public List<Parameter> parameters(int inputWidth) {
        List<Parameter> out = new ArrayList<>(super.parameters(inputWidth));
        if (projSize > 0) out.add(new Parameter(WEIGHT_HR, "weight_hr", new int[]{projSize, hiddenSize()}));
        return out;
    }

    @Override
    public int parameterSlots() {
        return projSize > 0 ? 5 : 4;
    }

    @Override
    public List<KernelSpec> kernels() {
        return projSize > 0 ? List.of(FORWARD, BACKWARD, Packing.SUM_ROWS) : List.of(FORWARD, BACKWARD);
    }

    @Override
    public void forward(Step s) {
        s.kernel(FORWARD)
                .pointer(projSize > 0 ? s.workspace(M) : s.next(H)).pointer(s.next(C)).pointer(s.gates())
                .pointer(s.parameter(BIAS_IH)).pointer(s.parameter(BIAS_HH)).pointer(s.previous(C)).int32(s.rows()).int32(hiddenSize())
                .launch();
        if (projSize > 0) {
            // h = m·W_hrᵀ: rows × P from rows × H.
            s.backend().gemm(false, true, s.rows(), projSize, hiddenSize(), 1.0, s.workspace(M), hiddenSize(),
                    s.parameter(WEIGHT_HR), hiddenSize(), 0.0, s.next(H), projSize);
        }
    }

    @Override
    public void backward(Step s) {
        if (projSize == 0) {
            s.kernel(BACKWARD)
                    .pointer(s.gates()).pointer(s.carry(H)).pointer(s.carry(C)).pointer(s.previous(C)).pointer(s.next(C)).pointer(s.outputGrad())
                    .int32(s.rows()).int32(s.slotRows()).int32(hiddenSize())
                    .launch();
            return;
        }
        // dh = dy + carry, kept per step (zero in the slot's dead rows) for dW_hr; dm = dh·W_hr.
        s.kernel(Packing.SUM_ROWS).pointer(s.workspace(DH)).pointer(s.outputGrad()).pointer(s.carry(H))
                .int32(s.rows()).int32(s.slotRows()).int32(projSize).launch();
        s.backend().gemm(false, false, s.rows(), hiddenSize(), projSize, 1.0, s.workspace(DH), projSize,
                s.parameter(WEIGHT_HR), hiddenSize(), 0.0, s.workspace(DM), hiddenSize());
        s.kernel(BACKWARD)
                .pointer(s.gates()).pointer(null).pointer(s.carry(C)).pointer(s.previous(C)).pointer(s.next(C)).pointer(s.workspace(DM))
                .int32(s.rows()).int32(s.slotRows()).int32(hiddenSize())
                .launch();
    }

    /** {@code dW_hr += DHᵀ·M} over every step's rows (dead rows of DH are zero). */
    @Override
    public void accumulateGradients(Sweep sweep) {
        if (projSize == 0) return;
        sweep.backend().gemm(true, false, projSize, hiddenSize(), sweep.rows(), 1.0, sweep.workspace(DH), projSize,
                sweep.workspace(M), hiddenSize(), 1.0, sweep.gradient(WEIGHT_HR), hiddenSize());
    }

    @Override
    public String toString() {
        return projSize > 0 ? "LSTM(H=" + hiddenSize() + ", P=" + projSize + (hasBias() ? "" : ", no bias") + ")" : super.toString();
    }
}
