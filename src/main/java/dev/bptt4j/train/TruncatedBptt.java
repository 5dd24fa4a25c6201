package dev.bptt4j.train;

import dev.bptt4j.cell.States;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.Arrays;

/**
 * Truncated BPTT over time-major batches: the T steps are walked in chunks of k; each chunk is
 * one forward over its k steps (starting from the previous chunk's final states, all of them,
 * detached: plain values, no gradient flows into them), the loss of its steps, and one backward, after which
 * {@link AfterChunk} runs (typically clip, optimiser step, zeroGrad). With k ≥ T this is full
 * BPTT. The loss, its gradient and the head stay on the device; per chunk the host uploads x and
 * the targets and reads back the loss and the final state.
 *
 * <p>All sequences of a batch have length T (for a language model, B streams cut from a text);
 * mask a step by giving it target −1.
 */
public final class TruncatedBptt {
    private final Rnn rnn;
    private final SoftmaxHead head;
    private final int chunkSteps;
    private final Reduction reduction;

    /** Runs after each chunk's backward, with the chunk's index and its loss. */
    @FunctionalInterface
    public interface AfterChunk {
        void accept(int chunk, double chunkLoss);
    }

    /** The summed loss of all chunks, the number of unmasked targets, and every final state (L·D, B, width). */
    public record Result(double loss, long tokens, States finalStates) {
    }

    public TruncatedBptt(Rnn rnn, SoftmaxHead head, int chunkSteps, Reduction reduction) {
        if (chunkSteps < 1) throw new IllegalArgumentException("chunkSteps k: expected >= 1, got " + chunkSteps);
        if (head.hiddenSize() != rnn.config().outputSize()) {
            throw new IllegalArgumentException("head: expects " + head.hiddenSize() + " inputs, the RNN gives " + rnn.config().outputSize());
        }
        this.rnn = rnn;
        this.head = head;
        this.chunkSteps = chunkSteps;
        this.reduction = reduction;
    }

    public int chunkSteps() {
        return chunkSteps;
    }

    /**
     * Trains over x (T, B, I) with targets (T, B) of I32 class ids (−1 masked) from the initial
     * states (all of the cell's, by name; null for zeros), accumulating gradients chunk by chunk.
     *
     * @param afterChunk null to only accumulate (then the gradients are those of all chunks)
     */
    public Result run(Tensor x, Tensor targets, States initial, AfterChunk afterChunk) {
        return walk(x, targets, initial, afterChunk, true);
    }

    /** The loss of x against targets from the initial states, forward only (no gradients are touched). */
    public Result evaluate(Tensor x, Tensor targets, States initial) {
        return walk(x, targets, initial, null, false);
    }

    private Result walk(Tensor x, Tensor targets, States initial, AfterChunk afterChunk, boolean train) {
        if (x.rank() != 3) throw new IllegalArgumentException("x: expected (T, B, I), got " + Arrays.toString(x.shape()));
        int steps = x.dim(0), batch = x.dim(1);
        if (targets.dtype() != DType.I32 || !Arrays.equals(targets.shape(), new int[]{steps, batch})) {
            throw new IllegalArgumentException("targets: expected I32 (" + steps + ", " + batch + "), got " + targets);
        }
        double total = 0;
        long tokens = 0;
        // Every state of the cell (h; h and c) is carried from chunk to chunk, detached.
        States state = initial;
        int chunk = 0;
        for (int from = 0; from < steps; from += chunkSteps, chunk++) {
            int to = Math.min(steps, from + chunkSteps);
            Tensor xs = timeSlice(x, from, to), ts = timeSlice(targets, from, to);
            for (int v : ts.i32()) if (v >= 0) tokens++;
            int rows = (to - from) * batch;
            try (Rnn.Pass pass = rnn.forwardOnDevice(xs, state, null)) {
                double loss = head.forward(pass.outputOnDevice(), rows, ts, batch, reduction);
                total += loss;
                if (train) pass.backwardOnDevice(head.backward(), States.ZEROS, false);
                state = pass.finalStates();
                if (afterChunk != null) afterChunk.accept(chunk, loss);
            }
        }
        return new Result(total, tokens, state);
    }

    /** Steps [from, to) of a time-major tensor (dim 0 is time): a copy, as the layout is contiguous. */
    public static Tensor timeSlice(Tensor t, int from, int to) {
        int[] shape = t.shape();
        int per = t.size() / shape[0];
        shape[0] = to - from;
        Tensor out = Tensor.zeros(t.dtype(), shape);
        Object src, dst;
        switch (t.dtype()) {
            case F32: src = t.f32(); dst = out.f32(); break;
            case F64: src = t.f64(); dst = out.f64(); break;
            case I32: src = t.i32(); dst = out.i32(); break;
            case I64: src = t.i64(); dst = out.i64(); break;
            default: throw new AssertionError(t.dtype());
        }
        System.arraycopy(src, from * per, dst, 0, (to - from) * per);
        return out;
    }
}
