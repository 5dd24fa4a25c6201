package dev.bptt4j.model;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A batch of variable-length sequences as the RNN takes it: one padded, time-major tensor
 * {@code (T, B, …)} with T the longest length, and each sequence's length. The counterpart of
 * PyTorch's {@code pad_sequence} / {@code pack_sequence} on the way in and
 * {@code pad_packed_sequence} followed by {@code unbind} on the way out:
 *
 * <pre>{@code
 * SequenceBatch batch = SequenceBatch.of(sequences);          // each (T_b, I): x (T, B, I), zeros past each length
 * try (Rnn.Pass pass = rnn.forward(batch.padded(), States.ZEROS, batch.lengths())) {
 *     List<Tensor> ys = batch.split(pass.output());           // each (T_b, D·H)
 * }
 * }</pre>
 *
 * Sequences keep their order (sequence b is column b; the RNN sorts internally and hands results
 * back in this order). Targets for {@link dev.bptt4j.train.SoftmaxHead} pad with −1, its mask
 * ({@link #ofTargets}). Every tensor that goes in or comes out is a copy.
 */
public final class SequenceBatch {
    private final Tensor padded;
    private final int[] lengths;

    private SequenceBatch(Tensor padded, int[] lengths) {
        this.padded = padded;
        this.lengths = lengths;
    }

    /**
     * Pads floating-point sequences, each {@code (T_b, I)} with T_b ≥ 1, all of one dtype and width,
     * into x {@code (T, B, I)} (T = the longest T_b), zeros past each length.
     */
    public static SequenceBatch of(List<Tensor> sequences) {
        requireSome("sequences", sequences);
        Tensor first = null;
        int[] lengths = new int[sequences.size()];
        for (int b = 0; b < lengths.length; b++) {
            Tensor s = sequences.get(b);
            String name = "sequences[" + b + "]";
            if (s == null) throw new IllegalArgumentException(name + ": is null");
            if (!s.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException(name + ": expected F32 or F64 values, got " + s.dtype()
                        + " (class ids are padded with -1 by SequenceBatch.ofTargets)");
            }
            if (s.rank() != 2) throw new IllegalArgumentException(name + ": expected a (T_b, I) tensor, got shape " + Arrays.toString(s.shape()));
            if (s.dim(0) == 0) throw new IllegalArgumentException(name + ": has length 0; every sequence needs at least one step");
            if (first == null) {
                first = s;
            } else if (s.dtype() != first.dtype()) {
                throw new IllegalArgumentException(name + ": dtype " + s.dtype() + " differs from sequences[0]'s " + first.dtype());
            } else if (s.dim(1) != first.dim(1)) {
                throw new IllegalArgumentException(name + ": width " + s.dim(1) + " differs from sequences[0]'s " + first.dim(1));
            }
            lengths[b] = s.dim(0);
        }
        int steps = max(lengths), batch = lengths.length, width = first.dim(1);
        Tensor x = Tensor.zeros(first.dtype(), steps, batch, width);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < lengths[b]; t++) Tensor.copy(sequences.get(b), (long) t * width, x, ((long) t * batch + b) * width, width);
        }
        return new SequenceBatch(x, lengths);
    }

    /** Pads class-id sequences (each of length ≥ 1, ids ≥ 0 or −1 for masked steps) into I32 {@code (T, B)}, −1 past each length. */
    public static SequenceBatch ofTargets(List<int[]> targets) {
        requireSome("targets", targets);
        int[] lengths = new int[targets.size()];
        for (int b = 0; b < lengths.length; b++) {
            int[] s = targets.get(b);
            if (s == null) throw new IllegalArgumentException("targets[" + b + "]: is null");
            lengths[b] = checkedTargets("targets[" + b + "]", s);
        }
        return targets(lengths, targets::get);
    }

    /** As {@link #ofTargets}, from 1-D I32 tensors {@code (T_b)}. */
    public static SequenceBatch ofTargetTensors(List<Tensor> targets) {
        requireSome("targets", targets);
        int[] lengths = new int[targets.size()];
        for (int b = 0; b < lengths.length; b++) {
            Tensor s = targets.get(b);
            String name = "targets[" + b + "]";
            if (s == null) throw new IllegalArgumentException(name + ": is null");
            if (s.dtype() != DType.I32 || s.rank() != 1) {
                throw new IllegalArgumentException(name + ": expected a 1-D I32 tensor (T_b), got " + s.dtype() + " " + Arrays.toString(s.shape()));
            }
            lengths[b] = checkedTargets(name, s.i32());
        }
        return targets(lengths, b -> targets.get(b).i32());
    }

    private static SequenceBatch targets(int[] lengths, java.util.function.IntFunction<int[]> sequence) {
        int steps = max(lengths), batch = lengths.length;
        int[] padded = new int[steps * batch];
        Arrays.fill(padded, -1);
        for (int b = 0; b < batch; b++) {
            int[] s = sequence.apply(b);
            for (int t = 0; t < lengths[b]; t++) padded[t * batch + b] = s[t];
        }
        return new SequenceBatch(Tensor.ofInts(padded, steps, batch), lengths);
    }

    private static int checkedTargets(String name, int[] s) {
        if (s.length == 0) throw new IllegalArgumentException(name + ": has length 0; every sequence needs at least one step");
        for (int t = 0; t < s.length; t++) {
            if (s[t] < -1) throw new IllegalArgumentException(name + "[" + t + "]: expected a class id >= 0, or -1 for a masked step, got " + s[t]);
        }
        return s.length;
    }

    private static void requireSome(String name, List<?> list) {
        if (list == null) throw new IllegalArgumentException(name + ": must not be null");
        if (list.isEmpty()) throw new IllegalArgumentException(name + ": expected at least one sequence, got an empty list");
    }

    private static int max(int[] lengths) {
        int m = 0;
        for (int l : lengths) m = Math.max(m, l);
        return m;
    }

    /** The padded batch, time-major: {@code (T, B, I)} (zeros past each length) or, for targets, I32 {@code (T, B)} (−1 past each length). A copy. */
    public Tensor padded() {
        return padded.copy();
    }

    /** The padded batch batch-first: {@code (B, T, I)} or, for targets, {@code (B, T)}. A copy. */
    public Tensor paddedBatchFirst() {
        return padded.swapLeadingDims();
    }

    /** Each sequence's length T_b, in the order given (a copy; what {@link Rnn#forward} takes as {@code lengths}). */
    public int[] lengths() {
        return lengths.clone();
    }

    /** T: the longest length. */
    public int steps() {
        return padded.dim(0);
    }

    /** B: the number of sequences. */
    public int batchSize() {
        return lengths.length;
    }

    /** {@link #split(Tensor, int[])} with this batch's lengths, e.g. y {@code (T, B, D·H)} of a forward over {@link #padded()}. */
    public List<Tensor> split(Tensor y) {
        return split(y, lengths);
    }

    /**
     * A time-major tensor {@code (T, B, …)} back into one tensor per sequence, {@code (T_b, …)}: the
     * first T_b steps of column b (PyTorch's {@code pad_packed_sequence} then {@code unbind(1)}).
     * Each length must be in 1..T.
     */
    public static List<Tensor> split(Tensor y, int[] lengths) {
        return split(y, lengths, false);
    }

    /** As {@link #split(Tensor, int[])} for a batch-first tensor {@code (B, T, …)}. */
    public static List<Tensor> splitBatchFirst(Tensor y, int[] lengths) {
        return split(y, lengths, true);
    }

    private static List<Tensor> split(Tensor y, int[] lengths, boolean batchFirst) {
        String layout = batchFirst ? "(B, T, ...)" : "(T, B, ...)";
        if (y == null) throw new IllegalArgumentException("y: must not be null");
        if (lengths == null) throw new IllegalArgumentException("lengths: must not be null");
        if (y.rank() < 2) throw new IllegalArgumentException("y: expected a " + layout + " tensor, got shape " + Arrays.toString(y.shape()));
        int steps = y.dim(batchFirst ? 1 : 0), batch = y.dim(batchFirst ? 0 : 1);
        if (lengths.length != batch) {
            throw new IllegalArgumentException("lengths: expected one per sequence of y " + Arrays.toString(y.shape()) + " (" + batch
                    + "), got " + lengths.length);
        }
        for (int b = 0; b < batch; b++) {
            if (lengths[b] < 1 || lengths[b] > steps) {
                throw new IllegalArgumentException("lengths[" + b + "]: expected 1.." + steps + " (T of y " + Arrays.toString(y.shape()) + "), got " + lengths[b]);
            }
        }
        int row = steps == 0 || batch == 0 ? 0 : y.size() / (steps * batch);
        int[] shape = y.shape();
        List<Tensor> out = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            int[] own = Arrays.copyOfRange(shape, 1, shape.length);
            own[0] = lengths[b];
            Tensor s = Tensor.zeros(y.dtype(), own);
            for (int t = 0; t < lengths[b]; t++) Tensor.copy(y, (batchFirst ? (long) b * steps + t : (long) t * batch + b) * row, s, (long) t * row, row);
            out.add(s);
        }
        return out;
    }

    @Override
    public String toString() {
        return "SequenceBatch(" + padded + ", lengths " + Arrays.toString(lengths) + ")";
    }
}
