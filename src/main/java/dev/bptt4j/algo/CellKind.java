package dev.bptt4j.algo;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.model.RnnConfig;

/**
 * What differs between recurrent cells inside one BPTT step, and nothing else: the fused pointwise
 * kernel of the forward and of the backward, whether the recurrent GEMM accumulates onto the gate
 * pre-activations or writes its own storage, and the beta of the carry GEMM. {@link StackBptt}
 * owns the loops, the GEMMs and the layout for every cell.
 *
 * <ul>
 *   <li>Elman: {@code pre += h·W_hhᵀ}; backward δ over pre; carry = δ·W_hh (beta 1 for the
 *       residual cell, whose kernel leaves the identity path in the carry).</li>
 *   <li>LSTM: as Elman with 4H gates; the kernels also read and write the cell states (c0 in
 *       slot 0, like h) and pass dL/dc back through a second carry; carry = δ·W_hh with beta 0.</li>
 *   <li>GRU: {@code r} multiplies {@code W_hn·h + b_hn}, so the recurrent GEMM writes its own
 *       per-step storage; backward leaves δ_ih over pre and δ_hh over that storage, the kernel
 *       puts z·g in the carry and the carry GEMM adds δ_hh·W_hh with beta 1.</li>
 * </ul>
 */
abstract class CellKind {
    /**
     * One layer-direction's buffers: per-step tensors in slot layout, states one slot later.
     * {@code recurrentGates} is {@code gates} unless the cell keeps the recurrent product apart;
     * {@code cellStates} and {@code cellGradCarry} are null without a cell state; the gradient
     * buffers are null in the forward. The output gradient starts at element {@code outputGradOffset}
     * (a caller's dy read in place), the other buffers at 0.
     */
    record Storage(DeviceBuffer gates, DeviceBuffer recurrentGates, DeviceBuffer hiddenStates, DeviceBuffer cellStates,
                   DeviceBuffer outputGrad, long outputGradOffset, DeviceBuffer hiddenGradCarry, DeviceBuffer cellGradCarry) {
        /** Zeroes {@code rows} rows of the gate storage (both, for the GRU) from row {@code slot}: dead rows' deltas. */
        void zeroRows(Backend backend, long slot, int rows, int width) {
            backend.fill(gates, slot * width, (long) rows * width, 0.0);
            if (recurrentGates != gates) backend.fill(recurrentGates, slot * width, (long) rows * width, 0.0);
        }
    }

    static CellKind of(RnnConfig config) {
        switch (config.mode()) {
            case RNN_TANH:
            case RNN_RELU:
                return new Elman(config.mode().activation(), config.residual());
            case LSTM:
                return new Lstm();
            case GRU:
                return new Gru();
            default:
                throw new UnsupportedOperationException("mode " + config.mode());
        }
    }

    /** True when the cell carries a cell state (c0, cn, dcn, dc0). */
    boolean hasCellState() {
        return false;
    }

    /** True when {@code h·W_hhᵀ} goes to its own storage instead of onto the gate pre-activations. */
    boolean separateRecurrentGates() {
        return false;
    }

    /** Beta of {@code hiddenGradCarry = δ_hh·W_hh}: 1 when the backward kernel left a term there. */
    abstract double carryBeta();

    /**
     * Step τ's pointwise forward on {@code alive} rows: gate pre-activations in slot {@code slot},
     * previous states in slot {@code slot}, new states into slot {@code next} (offsets in rows).
     */
    abstract void forward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int hidden);

    /**
     * Step τ's pointwise backward: deltas over the slot's gate storage, dead rows zeroed; the
     * carried gradients of these rows start at row {@code carryRow} of the carry buffers.
     */
    abstract void backward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int slotRows, int hidden,
                           long carryRow);

    private static final class Elman extends CellKind {
        private final Activation activation;
        private final boolean residual;

        Elman(Activation activation, boolean residual) {
            this.activation = activation;
            this.residual = residual;
        }

        @Override
        double carryBeta() {
            return residual ? 1.0 : 0.0;
        }

        @Override
        void forward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int hidden) {
            backend.rnnForward(s.hiddenStates(), next * hidden, s.gates(), slot * hidden, w.biasIh(), w.biasHh(),
                    s.hiddenStates(), slot * hidden, alive, hidden, activation, residual);
        }

        @Override
        void backward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int slotRows, int hidden,
                      long carryRow) {
            backend.rnnBackward(s.gates(), slot * hidden, s.hiddenGradCarry(), carryRow * hidden, s.hiddenStates(), next * hidden,
                    s.outputGrad(), s.outputGradOffset() + slot * hidden, w.biasIh(), w.biasHh(), alive, slotRows, hidden, activation, residual);
        }
    }

    private static final class Lstm extends CellKind {
        @Override
        boolean hasCellState() {
            return true;
        }

        @Override
        double carryBeta() {
            return 0.0;
        }

        @Override
        void forward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int hidden) {
            backend.lstmForward(s.hiddenStates(), next * hidden, s.cellStates(), next * hidden, s.gates(), slot * 4 * hidden,
                    w.biasIh(), w.biasHh(), s.cellStates(), slot * hidden, alive, hidden);
        }

        @Override
        void backward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int slotRows, int hidden,
                      long carryRow) {
            backend.lstmBackward(s.gates(), slot * 4 * hidden, s.hiddenGradCarry(), carryRow * hidden, s.cellGradCarry(), carryRow * hidden,
                    s.cellStates(), slot * hidden, s.cellStates(), next * hidden, s.outputGrad(), s.outputGradOffset() + slot * hidden,
                    alive, slotRows, hidden);
        }
    }

    private static final class Gru extends CellKind {
        @Override
        boolean separateRecurrentGates() {
            return true;
        }

        @Override
        double carryBeta() {
            return 1.0;
        }

        @Override
        void forward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int hidden) {
            backend.gruForward(s.hiddenStates(), next * hidden, s.gates(), slot * 3 * hidden, s.recurrentGates(), slot * 3 * hidden,
                    w.biasIh(), w.biasHh(), s.hiddenStates(), slot * hidden, alive, hidden);
        }

        @Override
        void backward(Backend backend, LayerWeights w, Storage s, long slot, long next, int alive, int slotRows, int hidden,
                      long carryRow) {
            backend.gruBackward(s.gates(), slot * 3 * hidden, s.recurrentGates(), slot * 3 * hidden, s.hiddenGradCarry(), carryRow * hidden,
                    s.hiddenStates(), slot * hidden, s.outputGrad(), s.outputGradOffset() + slot * hidden, w.biasHh(), alive, slotRows, hidden);
        }
    }
}
