package dev.bptt4j.cell;

import dev.bptt4j.backend.KernelSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * A recurrent cell: what differs between Elman, LSTM and GRU layers, all in one place. A cell
 * declares its gates, its named states, its parameters and its per-step work (the pointwise
 * kernels, and any per-step GEMM beyond the recurrent one); the algorithm
 * ({@code dev.bptt4j.algo.StackBptt}) owns the loops, the layouts and the GEMMs every cell shares:
 *
 * <ul>
 *   <li>forward, per layer and direction: {@code gates = X·W_ihᵀ} for all steps (one GEMM); per
 *       step {@code h_{τ−1}·W_hhᵀ} onto the gates (or into {@link Step#recurrentGates()} when
 *       {@link #separateRecurrentGates()}), then {@link #forward};</li>
 *   <li>backward, per step from the last: {@link #backward} (gate deltas over the gate storage,
 *       the carries of states other than h), then {@code carry_h = δ_hh·W_hh} with beta
 *       {@link #carryBeta()};</li>
 *   <li>after the sweep: {@code dW_ih = δ_ihᵀ·X}, {@code dW_hh = δ_hhᵀ·H}, the bias column sums,
 *       {@code dX = δ_ih·W_ih}, then {@link #accumulateGradients} for anything else.</li>
 * </ul>
 *
 * Parameters are PyTorch's, per layer and direction, in state_dict order: {@code weight_ih}
 * (gates·H, input), {@code weight_hh} (gates·H, width of h), {@code bias_ih}, {@code bias_hh}
 * (gates·H; absent without bias), then any the cell adds. Parameter gradients accumulate;
 * gradients of activations are assigned.
 */
public abstract class Cell {
    /** Parameter slots every cell has ({@link Step#parameter}); a cell's own come after {@link #BIAS_HH}. */
    public static final int WEIGHT_IH = 0, WEIGHT_HH = 1, BIAS_IH = 2, BIAS_HH = 3;
    /** The state every cell has, at index 0: h, the layer's output. */
    public static final int H = 0;

    /** One parameter of a layer and direction: its slot, PyTorch's name without the suffix, and its shape. */
    public record Parameter(int slot, String name, int[] shape) {
        public long elements() {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }
    }

    private final int hiddenSize;
    private final boolean bias;
    /** Made once: the time loops ask for them every step, which must not allocate. */
    private List<StateSpec> states;
    private List<StepTensor> stepTensors;

    protected Cell(int hiddenSize, boolean bias) {
        if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize: expected >= 1, got " + hiddenSize);
        this.hiddenSize = hiddenSize;
        this.bias = bias;
    }

    /** The cell as PyTorch's mode string names it: {@code RNN_TANH}, {@code LSTM}, …. */
    public abstract String name();

    /** Rows of W_ih and W_hh per hidden unit: 1 (Elman), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n). */
    public abstract int gates();

    /** The kernels this cell launches, for the registry checks against the {@code .cu} sources. */
    public abstract List<KernelSpec> kernels();

    /** Step τ's forward after the recurrent product: the gate activations and the new states. */
    public abstract void forward(Step step);

    /** Step τ's backward before the recurrent carry product: deltas over the gates, carries of the other states. */
    public abstract void backward(Step step);

    /** H: units per layer and direction. */
    public final int hiddenSize() {
        return hiddenSize;
    }

    /** Whether the layers have bias_ih and bias_hh. */
    public final boolean hasBias() {
        return bias;
    }

    /** gates·H: rows of W_ih and W_hh, columns of the gate storage. */
    public final int gateWidth() {
        return gates() * hiddenSize;
    }

    /** The states, h first. */
    public final List<StateSpec> states() {
        if (states == null) states = List.copyOf(declareStates());
        return states;
    }

    /** The states this cell carries, h first (h alone, H wide, by default). */
    protected List<StateSpec> declareStates() {
        return List.of(new StateSpec("h", hiddenSize));
    }

    /** Width of h: the layer's output per direction, and the recurrent product's inner dimension. */
    public final int outputSize() {
        return states().get(H).width();
    }

    /** True when {@code h·W_hhᵀ} goes to its own storage instead of onto the gate pre-activations (the GRU). */
    public boolean separateRecurrentGates() {
        return false;
    }

    /** Beta of {@code carry_h = δ_hh·W_hh}: 1 when the backward kernel left a term of its own in the carry. */
    public double carryBeta() {
        return 0.0;
    }

    /** Per-step tensors the cell keeps for itself. */
    public final List<StepTensor> stepTensors() {
        if (stepTensors == null) stepTensors = List.copyOf(declareStepTensors());
        return stepTensors;
    }

    /** Per-step tensors the cell keeps for itself (none by default). */
    protected List<StepTensor> declareStepTensors() {
        return List.of();
    }

    /** Parameter gradients beyond W_ih, W_hh and the biases, after a layer's sweep (none by default). */
    public void accumulateGradients(Sweep sweep) {
    }

    /** The parameters of a layer whose input is {@code inputWidth} wide, in PyTorch's state_dict order. */
    public List<Parameter> parameters(int inputWidth) {
        List<Parameter> out = new ArrayList<>();
        out.add(new Parameter(WEIGHT_IH, "weight_ih", new int[]{gateWidth(), inputWidth}));
        out.add(new Parameter(WEIGHT_HH, "weight_hh", new int[]{gateWidth(), outputSize()}));
        if (bias) {
            out.add(new Parameter(BIAS_IH, "bias_ih", new int[]{gateWidth()}));
            out.add(new Parameter(BIAS_HH, "bias_hh", new int[]{gateWidth()}));
        }
        return out;
    }

    /** Parameter slots this cell uses (the four shared ones unless it adds some). */
    public int parameterSlots() {
        return 4;
    }

    @Override
    public String toString() {
        return name() + "(H=" + hiddenSize + (bias ? "" : ", no bias") + ")";
    }
}
