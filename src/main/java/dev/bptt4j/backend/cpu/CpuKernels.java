package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.backend.KernelArgs;

import java.util.Map;

/**
 * The CPU backend's implementation of each kernel it runs, by kernel name: each entry reads the
 * launch's arguments in the order of the kernel's signature ({@code cuda/*.cu}, and the specs in
 * the cells and in {@code dev.bptt4j.backend}) and calls the CPU twin of that kernel on the lane's
 * scratch. The arguments have been checked against the spec ({@link KernelArgs#check()}) first.
 */
final class CpuKernels {
    private CpuKernels() {
    }

    /** One kernel on the CPU: the launch's arguments, and the lane's pointwise scratch. */
    @FunctionalInterface
    interface CpuKernel {
        void run(KernelArgs a, CpuPointwise pointwise, CpuGatedPointwise gated, CpuTraining training);
    }

    /** Dropout's Philox scratch; dropout runs between layers, never in a lane, so one instance serves. */
    private static final ThreadLocal<CpuDropout> DROPOUT = ThreadLocal.withInitial(CpuDropout::new);

    private static CpuBuffer b(KernelArgs a, int i) {
        return a.buffer(i) == null ? null : CpuBackend.cpu(a.buffer(i));
    }

    private static int o(KernelArgs a, int i) {
        return (int) a.offset(i);
    }

    private static int n(KernelArgs a, int i) {
        return a.int32At(i);
    }

    static final Map<String, CpuKernel> BY_NAME = Map.ofEntries(
            // rnn_cell.cu: rnn_forward(hiddenOut, preActivation, biasIh, biasHh, hiddenPrev, rows, hiddenSize, activation, residual)
            Map.entry("rnn_forward", (a, p, g, t) -> p.rnnForward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), b(a, 3), b(a, 4), o(a, 4),
                    n(a, 5), n(a, 6), Activation.ofCode(n(a, 7)), n(a, 8) != 0)),
            // rnn_backward(deltaInOut, hiddenGradCarry, hidden, outputGrad, biasIh, biasHh, aliveRows, slotRows, hiddenSize, activation, residual)
            Map.entry("rnn_backward", (a, p, g, t) -> p.rnnBackward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), b(a, 3), o(a, 3),
                    b(a, 4), b(a, 5), n(a, 6), n(a, 7), n(a, 8), Activation.ofCode(n(a, 9)), n(a, 10) != 0)),
            // lstm_cell.cu: lstm_forward(hiddenOut, cellOut, gates, biasIh, biasHh, cellPrev, rows, hiddenSize)
            Map.entry("lstm_forward", (a, p, g, t) -> g.lstmForward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), b(a, 3), b(a, 4),
                    b(a, 5), o(a, 5), n(a, 6), n(a, 7))),
            // lstm_backward(gatesInDeltaOut, hiddenGradCarry, cellGradCarry, cellPrev, cell, outputGrad, aliveRows, slotRows, hiddenSize)
            Map.entry("lstm_backward", (a, p, g, t) -> g.lstmBackward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), b(a, 3), o(a, 3),
                    b(a, 4), o(a, 4), b(a, 5), o(a, 5), n(a, 6), n(a, 7), n(a, 8))),
            // gru_cell.cu: gru_forward(hiddenOut, gates, hiddenGates, biasIh, biasHh, hiddenPrev, rows, hiddenSize)
            Map.entry("gru_forward", (a, p, g, t) -> g.gruForward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), b(a, 3), b(a, 4),
                    b(a, 5), o(a, 5), n(a, 6), n(a, 7))),
            // gru_backward(gatesInDeltaOut, hiddenGatesInDeltaOut, hiddenGradCarry, hiddenPrev, outputGrad, biasHh, aliveRows, slotRows, hiddenSize)
            Map.entry("gru_backward", (a, p, g, t) -> g.gruBackward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), b(a, 3), o(a, 3),
                    b(a, 4), o(a, 4), b(a, 5), n(a, 6), n(a, 7), n(a, 8))),
            // packing.cu: gather_rows(dst, src, rowIndex, rows, width, dstStride, dstColumn, srcStride, srcColumn, accumulate)
            Map.entry("gather_rows", (a, p, g, t) -> p.gatherRows(b(a, 0), o(a, 0), n(a, 5), n(a, 6), b(a, 1), a.offset(1), n(a, 7), n(a, 8),
                    b(a, 2), o(a, 2), n(a, 3), n(a, 4), n(a, 9) != 0)),
            // dropout.cu: dropout_forward(x, mask, timeRow, rows, width, hidden, layer, seed, stream, p, scale)
            Map.entry("dropout_forward", (a, p, g, t) -> DROPOUT.get().forward(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2),
                    n(a, 3), n(a, 4), n(a, 5), n(a, 6), a.integer(7), a.integer(8), a.realAt(9), a.realAt(10))),
            // dropout_backward(grad, mask, count)
            Map.entry("dropout_backward", (a, p, g, t) -> DROPOUT.get().backward(b(a, 0), o(a, 0), b(a, 1), o(a, 1),
                    Math.toIntExact(a.integer(2)))),
            // sum_rows(dst, a, b, aliveRows, slotRows, width)
            Map.entry("sum_rows", (a, p, g, t) -> p.sumRows(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), n(a, 3), n(a, 4), n(a, 5))),
            // fill(dst, value, count)
            Map.entry("fill", (a, p, g, t) -> p.fill(b(a, 0), o(a, 0), Math.toIntExact(a.integer(2)), a.realAt(1))),
            // training.cu: softmax_xent(logits, targets, rowLoss, rows, classes, gradScale)
            Map.entry("softmax_xent", (a, p, g, t) -> t.softmaxCrossEntropy(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2),
                    n(a, 3), n(a, 4), a.realAt(5))),
            // sgd_step(param, grad, momentumBuffer, count, lr, momentum, dampening, weightDecay, l1, nesterov, firstStep)
            Map.entry("sgd_step", (a, p, g, t) -> t.sgd(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), Math.toIntExact(a.integer(3)),
                    a.realAt(4), a.realAt(5), a.realAt(6), a.realAt(7), a.realAt(8), n(a, 9) != 0, n(a, 10) != 0)),
            // adam_step(param, grad, expAvg, expAvgSq, count, lr, beta1, beta2, eps, weightDecay, l1, biasCorrection1, biasCorrection2Sqrt)
            Map.entry("adam_step", (a, p, g, t) -> t.adam(b(a, 0), o(a, 0), b(a, 1), o(a, 1), b(a, 2), o(a, 2), b(a, 3), o(a, 3),
                    Math.toIntExact(a.integer(4)), a.realAt(5), a.realAt(6), a.realAt(7), a.realAt(8), a.realAt(9), a.realAt(10),
                    a.realAt(11), a.realAt(12))),
            // sum_of_squares(x, count, out): out[0] += Σ x²
            Map.entry("sum_of_squares", (a, p, g, t) -> {
                CpuBuffer out = b(a, 2);
                double s = t.sumOfSquares(b(a, 0), o(a, 0), Math.toIntExact(a.integer(1)));
                out.doubles.put(o(a, 2), out.doubles.get(o(a, 2)) + s);
            }),
            // scale(x, count, alpha)
            Map.entry("scale", (a, p, g, t) -> t.scale(b(a, 0), o(a, 0), Math.toIntExact(a.integer(1)), a.realAt(2))),
            // clamp(x, count, lo, hi)
            Map.entry("clamp", (a, p, g, t) -> t.clamp(b(a, 0), o(a, 0), Math.toIntExact(a.integer(1)), a.realAt(2), a.realAt(3))));
}
