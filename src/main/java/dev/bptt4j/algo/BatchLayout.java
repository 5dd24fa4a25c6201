package dev.bptt4j.algo;

import java.util.Arrays;

/**
 * How a batch of variable-length sequences is packed, computed once per forward on the host.
 *
 * <p>Sequences are sorted by length, longest first (ties keep batch order, so the layout is
 * deterministic), so that the sequences alive at processing step τ are always the first
 * {@code alive(τ)} rows, as in PyTorch's PackedSequence. The reverse direction processes each
 * sequence from its own last step back to its first; in its processing time τ the alive sets are
 * the same, so both directions share one layout and differ only in the maps to real time
 * (τ ↦ t = τ forward, t = length − 1 − τ reverse).
 *
 * <p><b>Slot layout.</b> Every per-step tensor (layer input, pre-activation/delta, output
 * gradient) stores step τ in a slot of {@code slotRows(τ) = alive(τ−1)} rows ({@code B} for τ = 0):
 * its first {@code alive(τ)} rows are live, the rest are dead rows kept at zero. Hidden states are
 * stored one slot later (h0 in slot 0, h_τ in slot τ+1), so row j of slot τ pairs the delta of step
 * τ with the state h_{τ−1} it multiplied. That alignment makes {@code dW_hh = Σ_τ δ_τᵀ h_{τ−1}} a
 * single GEMM over all slots; the dead rows cost at most B rows of work in the whole-sequence
 * GEMMs and none in the per-step ones.
 */
final class BatchLayout {
    private final int steps;
    private final int batch;
    /** Padded tensors are (B, T, ·): row b·T + t; else (T, B, ·): row t·B + b. */
    private final boolean batchFirst;
    private final int[] sortedToOriginal;
    private final int[] sortedPosition;
    private final int[] sortedLengths;
    private final int[] alive;
    private final long[] slotOffset;

    private BatchLayout(int steps, int batch, int[] lengths, boolean batchFirst) {
        this.steps = steps;
        this.batch = batch;
        this.batchFirst = batchFirst;
        // A counting sort over the lengths 1..T, stable, so ties keep batch order: O(B + T) time and no
        // boxed batch (a sort of Integer[] took ~20 bytes per sequence, gigabytes for a batch of 10^8).
        int[] longer = new int[steps + 1]; // longer[l]: the sequences longer than l, i.e. the first sorted row of length l
        for (int b = 0; b < batch; b++) longer[lengths[b] - 1]++;
        for (int l = steps - 1; l >= 0; l--) longer[l] += longer[l + 1];
        alive = Arrays.copyOf(longer, steps);
        int[] next = longer; // advanced as rows of each length are placed
        sortedToOriginal = new int[batch];
        sortedPosition = new int[batch];
        sortedLengths = new int[batch];
        for (int b = 0; b < batch; b++) {
            int j = next[lengths[b]]++;
            sortedToOriginal[j] = b;
            sortedPosition[b] = j;
            sortedLengths[j] = lengths[b];
        }
        slotOffset = new long[steps + 2];
        for (int tau = 0; tau <= steps; tau++) slotOffset[tau + 1] = slotOffset[tau] + slotRows(tau);
    }

    /**
     * @param steps   T, the padded sequence length
     * @param batch   B
     * @param lengths each sequence's length in 1..T, in batch order, or null for all T
     */
    public static BatchLayout of(int steps, int batch, int[] lengths) {
        return of(steps, batch, lengths, false);
    }

    /** As {@link #of(int, int, int[])}, for padded tensors that are batch-first when {@code batchFirst}. */
    public static BatchLayout of(int steps, int batch, int[] lengths, boolean batchFirst) {
        if (steps < 1) throw new IllegalArgumentException("sequence length T: expected >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("batch size B: expected >= 1, got " + batch);
        int[] l = lengths == null ? filled(batch, steps) : lengths.clone();
        if (l.length != batch) {
            throw new IllegalArgumentException("lengths: expected " + batch + " entries (one per sequence), got " + l.length);
        }
        for (int b = 0; b < batch; b++) {
            if (l[b] < 1 || l[b] > steps) {
                throw new IllegalArgumentException("lengths[" + b + "]: expected 1.." + steps + ", got " + l[b]);
            }
        }
        return new BatchLayout(steps, batch, l, batchFirst);
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }

    public int steps() {
        return steps;
    }

    public int batch() {
        return batch;
    }

    public boolean batchFirst() {
        return batchFirst;
    }

    /** The row of step t of sequence b in a padded tensor. */
    private int padded(int t, int b) {
        return batchFirst ? b * steps + t : t * batch + b;
    }

    /** Sequences still running at processing step τ (the first alive(τ) sorted rows). */
    public int alive(int tau) {
        return alive[tau];
    }

    /** Rows reserved for step τ's slot: alive(τ−1), or B for τ = 0; also valid for τ = T (the last hidden slot). */
    public int slotRows(int tau) {
        return tau == 0 ? batch : alive[tau - 1];
    }

    /** First row of slot τ, for τ in 0..T+1. */
    public long slotOffset(int tau) {
        return slotOffset[tau];
    }

    /** Rows of every per-step tensor: slots 0..T−1. */
    public long packedRows() {
        return slotOffset[steps];
    }

    /** Rows of the hidden-state storage: h0 plus h_0..h_{T−1} (slots 0..T). */
    public long hiddenRows() {
        return slotOffset[steps + 1];
    }

    /** Σ lengths: the rows that carry real work. */
    public long validRows() {
        long s = 0;
        for (int l : sortedLengths) s += l;
        return s;
    }

    public int lengthOfSorted(int j) {
        return sortedLengths[j];
    }

    /** True when both layouts pack the same way (same T, B, lengths and order), so their index maps agree. */
    public boolean sameAs(BatchLayout other) {
        return other == this || (other != null && steps == other.steps && batch == other.batch && batchFirst == other.batchFirst
                && Arrays.equals(sortedLengths, other.sortedLengths) && Arrays.equals(sortedToOriginal, other.sortedToOriginal));
    }

    /** True when every sequence has length T. */
    public boolean isFull() {
        return sortedLengths[batch - 1] == steps;
    }

    /** Processing step of real time t for sorted sequence j in a direction. */
    private int tau(boolean reverse, int j, int t) {
        return reverse ? sortedLengths[j] - 1 - t : t;
    }

    // ---- index maps for the gather kernel: entry r names the source row for destination row r, −1 for zero ----

    /** For sorted row j: the original batch index (gathers h0, dhn into sorted order). */
    public int[] originalOfSorted() {
        return sortedToOriginal.clone();
    }

    /** For original batch index b: its sorted row (scatters dh0 back to batch order). */
    public int[] sortedOfOriginal() {
        return sortedPosition.clone();
    }

    /** For original b: the hidden-storage row holding its final state (slot length_b), in either direction. */
    public int[] finalHiddenRowOfOriginal() {
        int[] idx = new int[batch];
        for (int b = 0; b < batch; b++) {
            int j = sortedPosition[b];
            idx[b] = checkedRow(slotOffset[sortedLengths[j]] + j);
        }
        return idx;
    }

    /** For each packed slot row (τ, j): its row in the padded tensor (t·B + b, or b·T + t batch-first), or −1 if dead. */
    public int[] paddedRowOfPacked(boolean reverse) {
        int[] idx = new int[checkedRow(packedRows())];
        for (int tau = 0; tau < steps; tau++) {
            int base = (int) slotOffset[tau];
            for (int j = 0; j < slotRows(tau); j++) {
                idx[base + j] = j < alive[tau] ? padded(tau(reverse, j, tau), sortedToOriginal[j]) : -1;
            }
        }
        return idx;
    }

    /**
     * For each packed slot row (τ, j): t·B + b of the sequence and real time it holds, whatever the
     * padded tensors' layout (time-major index: what dropout's mask is keyed by), or −1 if dead.
     */
    public int[] timeRowOfPacked(boolean reverse) {
        int[] idx = new int[checkedRow(packedRows())];
        for (int tau = 0; tau < steps; tau++) {
            int base = (int) slotOffset[tau];
            for (int j = 0; j < slotRows(tau); j++) {
                idx[base + j] = j < alive[tau] ? tau(reverse, j, tau) * batch + sortedToOriginal[j] : -1;
            }
        }
        return idx;
    }

    /** For each padded row (t·B + b, or b·T + t batch-first): the packed slot row of that step, or −1 past the sequence's end. */
    public int[] packedRowOfPadded(boolean reverse) {
        return paddedToSlot(reverse, 0);
    }

    /** For each padded row: the hidden-storage row of h at that step, or −1 past the sequence's end. */
    public int[] hiddenRowOfPadded(boolean reverse) {
        return paddedToSlot(reverse, 1);
    }

    private int[] paddedToSlot(boolean reverse, int slotShift) {
        int[] idx = new int[checkedRow((long) steps * batch)];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int j = sortedPosition[b];
                idx[padded(t, b)] = t < sortedLengths[j]
                        ? checkedRow(slotOffset[tau(reverse, j, t) + slotShift] + j) : -1;
            }
        }
        return idx;
    }

    /**
     * For each packed slot row (τ, j) of direction {@code toReverse}: the row, in direction
     * {@code fromReverse}'s storage, holding the same sequence at the same real time; −1 if dead.
     * With {@code slotShift} 1 it points into hidden storage (layer inputs from the layer below),
     * with 0 into packed storage (output gradients from the layer above).
     */
    public int[] crossDirectionRows(boolean fromReverse, boolean toReverse, int slotShift) {
        int[] idx = new int[checkedRow(packedRows())];
        for (int tau = 0; tau < steps; tau++) {
            int base = (int) slotOffset[tau];
            for (int j = 0; j < slotRows(tau); j++) {
                if (j >= alive[tau]) {
                    idx[base + j] = -1;
                    continue;
                }
                int t = tau(toReverse, j, tau);
                idx[base + j] = checkedRow(slotOffset[tau(fromReverse, j, t) + slotShift] + j);
            }
        }
        return idx;
    }

    private static int checkedRow(long row) {
        if (row > Integer.MAX_VALUE) throw new IllegalArgumentException("batch of " + row + " rows exceeds the 2^31 row-index limit");
        return (int) row;
    }
}
