package dev.bptt4j.train;

import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Truncated BPTT: the T steps are walked in chunks of k; each chunk is one forward over its k
 * steps (starting from the previous chunk's final states, all of them, detached: plain values, no
 * gradient flows into them), the loss of its steps, and one backward, after which
 * {@link AfterChunk} runs (typically clip, optimiser step, zeroGrad). With k ≥ T this is full
 * BPTT. The loss, its gradient and the head stay on the device; per chunk the host uploads x and
 * the targets and reads back the loss and the final states.
 *
 * <p>x and the targets are time-major, (T, B, ·) and (T, B), or batch-first, (B, T, ·) and (B, T),
 * as the RNN's configuration says. With lengths, each sequence is cut at its own length: a chunk
 * runs only the sequences still going (its lengths are what is left of theirs, at most k), a
 * finished sequence's states are no longer carried (its final states are those after its last
 * step, as {@code hn} with lengths), and steps past a length count no loss. Without lengths every
 * sequence has length T; mask a step by giving it target −1.
 *
 * <p>A bidirectional model needs k ≥ T: its reverse direction at step t reads the sequence's
 * future, which a chunk would cut off.
 */
public final class TruncatedBptt {
    private final Rnn rnn;
    private final SoftmaxHead head;
    private final int chunkSteps;
    private final Reduction reduction;
    /** The divisor of {@link Reduction#MEAN}: 0 for x's batch size, else the size of the batch x is a micro-batch of. */
    private final int meanOver;

    /** Runs after each chunk's backward, with the chunk's index and its loss. */
    @FunctionalInterface
    public interface AfterChunk {
        void accept(int chunk, double chunkLoss);
    }

    /** The summed loss of all chunks, the number of unmasked targets, and every final state (L·D, B, width). */
    public record Result(double loss, long tokens, States finalStates) {
    }

    public TruncatedBptt(Rnn rnn, SoftmaxHead head, int chunkSteps, Reduction reduction) {
        this(rnn, head, chunkSteps, reduction, 0);
    }

    private TruncatedBptt(Rnn rnn, SoftmaxHead head, int chunkSteps, Reduction reduction, int meanOver) {
        if (chunkSteps < 1) throw new IllegalArgumentException("chunkSteps k: expected >= 1, got " + chunkSteps);
        if (head.hiddenSize() != rnn.config().outputSize()) {
            throw new IllegalArgumentException("head: expects " + head.hiddenSize() + " inputs, the RNN gives " + rnn.config().outputSize());
        }
        this.rnn = rnn;
        this.head = head;
        this.chunkSteps = chunkSteps;
        this.reduction = reduction;
        this.meanOver = meanOver;
    }

    /**
     * This walk for micro-batches of a batch of {@code batch} sequences: {@link Reduction#MEAN}
     * divides by {@code batch} instead of x's own batch size, so each row's loss gradient is
     * scaled by 1/B exactly as in the whole batch, the micro-batches' losses add up to the whole
     * batch's and their gradients, accumulated, equal its gradients up to the order of the sums.
     */
    public TruncatedBptt withMeanOver(int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch: expected >= 1, got " + batch);
        return new TruncatedBptt(rnn, head, chunkSteps, reduction, batch);
    }

    public int chunkSteps() {
        return chunkSteps;
    }

    /**
     * Trains over x with targets of I32 class ids (−1 masked) from the initial states (all of the
     * cell's, by name; null for zeros), accumulating gradients chunk by chunk; every sequence T long.
     *
     * @param afterChunk null to only accumulate (then the gradients are those of all chunks)
     */
    public Result run(Tensor x, Tensor targets, States initial, AfterChunk afterChunk) {
        return walk(x, targets, initial, null, afterChunk, true);
    }

    /** {@link #run(Tensor, Tensor, States, AfterChunk)} with each sequence's length (1..T; null: all T). */
    public Result run(Tensor x, Tensor targets, States initial, int[] lengths, AfterChunk afterChunk) {
        return walk(x, targets, initial, lengths, afterChunk, true);
    }

    /** The loss of x against targets from the initial states, forward only (no gradients are touched). */
    public Result evaluate(Tensor x, Tensor targets, States initial) {
        return walk(x, targets, initial, null, null, false);
    }

    /** {@link #evaluate(Tensor, Tensor, States)} with each sequence's length (1..T; null: all T). */
    public Result evaluate(Tensor x, Tensor targets, States initial, int[] lengths) {
        return walk(x, targets, initial, lengths, null, false);
    }

    private Result walk(Tensor x, Tensor targets, States initial, int[] lengths, AfterChunk afterChunk, boolean train) {
        boolean batchFirst = rnn.config().batchFirst();
        String layout = batchFirst ? "(B, T" : "(T, B";
        if (x.rank() != 3) throw new IllegalArgumentException("x: expected " + layout + ", I), got " + Arrays.toString(x.shape()));
        int steps = x.dim(batchFirst ? 1 : 0), batch = x.dim(batchFirst ? 0 : 1);
        int[] targetShape = batchFirst ? new int[]{batch, steps} : new int[]{steps, batch};
        if (targets.dtype() != DType.I32 || !Arrays.equals(targets.shape(), targetShape)) {
            throw new IllegalArgumentException("targets: expected I32 " + Arrays.toString(targetShape) + ", got " + targets);
        }
        if (lengths != null) {
            if (lengths.length != batch) throw new IllegalArgumentException("lengths: expected " + batch + " entries, got " + lengths.length);
            for (int b = 0; b < batch; b++) {
                if (lengths[b] < 1 || lengths[b] > steps) throw new IllegalArgumentException("lengths[" + b + "]: expected 1.." + steps + ", got " + lengths[b]);
            }
        }
        if (rnn.config().bidirectional() && chunkSteps < steps) {
            throw new IllegalArgumentException("chunkSteps k: a bidirectional model needs k >= T (" + steps + "), got " + chunkSteps
                    + ": its reverse direction reads each sequence's future, which a chunk would cut off");
        }
        double total = 0;
        long tokens = 0;
        // Every state of the cell (h; h and c) is carried from chunk to chunk, detached.
        States state = initial;
        int chunk = 0;
        for (int from = 0; from < steps; from += chunkSteps, chunk++) {
            int to = Math.min(steps, from + chunkSteps);
            int[] running = running(lengths, batch, from);
            Chunk c = new Chunk(from, to, running, lengths);
            Tensor xs = c.slice(x, batchFirst), ts = c.targets(targets, batchFirst);
            for (int v : ts.i32()) if (v >= 0) tokens++;
            States carried = running.length == batch ? state : rows(state, running);
            try (Rnn.Pass pass = rnn.forwardOnDevice(xs, carried, c.lengths())) {
                double loss = head.forward(pass.outputOnDevice(), (to - from) * running.length, ts, meanOver > 0 ? meanOver : batch, reduction);
                total += loss;
                if (train) pass.backwardOnDevice(head.backward(), States.ZEROS, false);
                state = running.length == batch ? pass.finalStates() : withRows(state, running, pass.finalStates(), batch);
                if (afterChunk != null) afterChunk.accept(chunk, loss);
            }
        }
        return new Result(total, tokens, state);
    }

    /** The sequences still running at step {@code from} (length > from), in batch order. */
    private static int[] running(int[] lengths, int batch, int from) {
        if (lengths == null) {
            int[] all = new int[batch];
            for (int b = 0; b < batch; b++) all[b] = b;
            return all;
        }
        return java.util.stream.IntStream.range(0, batch).filter(b -> lengths[b] > from).toArray();
    }

    /** Steps [from, to) of the running sequences, each to its own length. */
    private record Chunk(int from, int to, int[] running, int[] allLengths) {
        /** The chunk's lengths, or null when every running sequence fills it. */
        int[] lengths() {
            if (allLengths == null) return null;
            int[] l = new int[running.length];
            boolean full = true;
            for (int i = 0; i < l.length; i++) {
                l[i] = Math.min(allLengths[running[i]], to) - from;
                full &= l[i] == to - from;
            }
            return full ? null : l;
        }

        /** The chunk of a padded (T, B, W) tensor, or (B, T, W) batch-first, for the running rows. */
        Tensor slice(Tensor t, boolean batchFirst) {
            int steps = to - from, width = t.rank() == 3 ? t.dim(2) : 1;
            int totalSteps = t.dim(batchFirst ? 1 : 0), batch = t.dim(batchFirst ? 0 : 1);
            if (!batchFirst && running.length == batch) return timeSlice(t, from, to); // one contiguous block
            int[] shape = t.rank() == 3 ? (batchFirst ? new int[]{running.length, steps, width} : new int[]{steps, running.length, width})
                    : (batchFirst ? new int[]{running.length, steps} : new int[]{steps, running.length});
            Tensor out = Tensor.zeros(t.dtype(), shape);
            for (int s = 0; s < steps; s++) {
                for (int i = 0; i < running.length; i++) {
                    int b = running[i];
                    long src = (batchFirst ? (long) b * totalSteps + from + s : (long) (from + s) * batch + b) * width;
                    long dst = (batchFirst ? (long) i * steps + s : (long) s * running.length + i) * width;
                    Tensor.copy(t, src, out, dst, width);
                }
            }
            return out;
        }

        /** The chunk's targets, −1 past each running sequence's length (those steps count no loss). */
        Tensor targets(Tensor t, boolean batchFirst) {
            Tensor out = slice(t, batchFirst);
            if (allLengths == null) return out;
            int steps = to - from;
            for (int s = 0; s < steps; s++) {
                for (int i = 0; i < running.length; i++) {
                    if (from + s >= allLengths[running[i]]) out.i32()[batchFirst ? i * steps + s : s * running.length + i] = -1;
                }
            }
            return out;
        }
    }

    /** The rows of the running sequences of every state (absent states stay absent: zeros). */
    private States rows(States all, int[] running) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (StateSpec s : rnn.states()) {
            Tensor t = all == null ? null : all.get(s.name());
            if (t == null) continue;
            int rows = t.dim(0), batch = t.dim(1), width = t.dim(2);
            Tensor out = Tensor.zeros(t.dtype(), rows, running.length, width);
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < running.length; i++) {
                    Tensor.copy(t, ((long) r * batch + running[i]) * width, out, ((long) r * running.length + i) * width, width);
                }
            }
            m.put(s.name(), out);
        }
        return States.of(m);
    }

    /** {@code all} with the running sequences' rows replaced by {@code chunk}'s (zeros first where a state was absent). */
    private States withRows(States all, int[] running, States chunk, int batch) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        List<StateSpec> specs = rnn.states();
        for (StateSpec s : specs) {
            Tensor c = chunk.get(s.name());
            Tensor before = all == null ? null : all.get(s.name());
            int rows = c.dim(0), width = c.dim(2);
            Tensor out = before == null ? Tensor.zeros(c.dtype(), rows, batch, width) : before.copy();
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < running.length; i++) {
                    Tensor.copy(c, ((long) r * running.length + i) * width, out, ((long) r * batch + running[i]) * width, width);
                }
            }
            m.put(s.name(), out);
        }
        return States.of(m);
    }

    /** Steps [from, to) of a time-major tensor (dim 0 is time): a copy, as the layout is contiguous. */
    public static Tensor timeSlice(Tensor t, int from, int to) {
        return t.slice(from, to);
    }
}
