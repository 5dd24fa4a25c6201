package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.ElementMath;
import dev.bptt4j.tensor.DType;

import java.util.Arrays;

/**
 * The CPU twins of the gated cells' pointwise kernels (cuda/lstm_cell.cu, cuda/gru_cell.cu), with
 * the same names and element formulas; the contracts are on {@link dev.bptt4j.backend.Backend}.
 * The GEMMs (input projection, recurrent product, weight gradients) run outside, in the BLAS.
 *
 * <p>LSTM (gates i, f, g, o): forward turns the gate pre-activations into activated gates in place
 * and writes c_τ and h_τ; backward turns the stored gates back into gate deltas in place and
 * passes dL/dc one step back through the cell-gradient carry. GRU (gates r, z, n): the recurrent
 * product stays in its own storage because r multiplies it; backward writes the input-side deltas
 * over the gates and the hidden-side deltas over that storage, and assigns the identity path
 * g·z to the hidden-gradient carry. Every kernel assigns (activations are not accumulated).
 *
 * <p>Rows are copied into heap scratch, a block of rows at a time (see {@link CpuPointwise#BLOCK_BYTES}). Float64 is computed in double with σ and tanh from
 * {@link ElementMath} (the Java twin of cuda/bptt4j_math.cuh). Float32 LSTM and GRU steps run in
 * float with the CPU's vectorisable tanh ({@link CpuMath#tanh(float)}, |error| ≤ 4.1e-7; σ from it
 * as ½·tanh(x/2) + ½), in separate passes so that C2 vectorises each: exact transcendental
 * functions per element cost tens of ns and dominated the gated cells' step time. The GRU
 * backward has no transcendental function and stays in double for both dtypes. NaN propagates through every formula (σ and tanh of NaN are NaN; no
 * comparison picks a branch).
 * Biases are added as (pre + b_ih) + (hidden part + b_hh), PyTorch's grouping; a null bias adds
 * nothing.
 */
final class CpuGatedPointwise {
    /** {@link CpuPointwise#BLOCK_BYTES}, or another size for tests. */
    private final int blockBytes;

    CpuGatedPointwise(int blockBytes) {
        this.blockBytes = blockBytes;
    }

    private final double[][] scratch = new double[6][0];
    private final float[][] floatScratch = new float[8][0];

    private float[] floats(int which, int n) {
        if (floatScratch[which].length < n) floatScratch[which] = new float[n];
        return floatScratch[which];
    }

    /** A float bias vector, zeros for an absent bias (adding 0 leaves every value but −0 unchanged). */
    private float[] floatBias(CpuBuffer b, int which, int n) {
        float[] into = floats(which, n);
        if (b == null) Arrays.fill(into, 0, n, 0f);
        else b.floats.get(0, into, 0, n);
        return into;
    }

    /** Writes zeros over {@code n} float elements: a slot's dead rows. */
    private void zeroFloats(CpuBuffer b, int offset, int n) {
        if (n <= 0) return;
        float[] z = floats(7, n);
        Arrays.fill(z, 0, n, 0f);
        b.floats.put(offset, z, 0, n);
    }

    private void lstmForwardF32(CpuBuffer hiddenOut, int hiddenOutOff, CpuBuffer cellOut, int cellOutOff, CpuBuffer gates,
                                int gatesOff, CpuBuffer bIh, CpuBuffer bHh, CpuBuffer cellPrev, int cellPrevOff, int rows, int hidden) {
        int width = 4 * hidden, n = rows * hidden;
        float[] a = floats(0, rows * width), cp = floats(1, n), c = floats(2, n), h = floats(3, n);
        gates.floats.get(gatesOff, a, 0, rows * width);
        cellPrev.floats.get(cellPrevOff, cp, 0, n);
        CpuMath.addBiases(a, floatBias(bIh, 4, width), floatBias(bHh, 5, width), rows, width);
        for (int r = 0; r < rows; r++) {
            int row = r * width, e0 = r * hidden;
            CpuMath.sigmoid(a, row, row + 2 * hidden);                 // i, f
            CpuMath.tanh(a, row + 2 * hidden, row + 3 * hidden);       // g
            CpuMath.sigmoid(a, row + 3 * hidden, row + width);         // o
            for (int j = 0; j < hidden; j++) c[e0 + j] = a[row + hidden + j] * cp[e0 + j] + a[row + j] * a[row + 2 * hidden + j];
        }
        System.arraycopy(c, 0, h, 0, n);
        CpuMath.tanh(h, 0, n);
        for (int r = 0; r < rows; r++) {
            int row = r * width + 3 * hidden, e0 = r * hidden;
            for (int j = 0; j < hidden; j++) h[e0 + j] = a[row + j] * h[e0 + j];
        }
        gates.floats.put(gatesOff, a, 0, rows * width);
        cellOut.floats.put(cellOutOff, c, 0, n);
        hiddenOut.floats.put(hiddenOutOff, h, 0, n);
    }

    private void lstmBackwardF32(CpuBuffer gates, int gatesOff, CpuBuffer hiddenCarry, int hiddenCarryOff, CpuBuffer cellCarry,
                                 int cellCarryOff, CpuBuffer cellPrev, int cellPrevOff, CpuBuffer cell, int cellOff,
                                 CpuBuffer outputGrad, int outputGradOff, int alive, int slot, int hidden) {
        int width = 4 * hidden, n = alive * hidden;
        float[] a = floats(0, alive * width), cp = floats(1, n), tc = floats(2, n), dh = floats(3, n), dc = floats(4, n),
                carry = floats(5, n);
        gates.floats.get(gatesOff, a, 0, alive * width);
        cellPrev.floats.get(cellPrevOff, cp, 0, n);
        cell.floats.get(cellOff, tc, 0, n);
        CpuMath.tanh(tc, 0, n);
        outputGrad.floats.get(outputGradOff, dh, 0, n);
        if (hiddenCarry != null) { // null: the whole of dL/dh is in outputGrad (a projected cell)
            hiddenCarry.floats.get(hiddenCarryOff, carry, 0, n);
            for (int e = 0; e < n; e++) dh[e] = dh[e] + carry[e];
        }
        cellCarry.floats.get(cellCarryOff, dc, 0, n);
        for (int r = 0; r < alive; r++) {
            int gi = r * width, gf = gi + hidden, gg = gf + hidden, go = gg + hidden, e0 = r * hidden;
            for (int j = 0; j < hidden; j++) {
                int e = e0 + j;
                float i = a[gi + j], f = a[gf + j], g = a[gg + j], o = a[go + j], t = tc[e];
                float d = dc[e] + dh[e] * o * (1f - t * t);
                a[gi + j] = d * g * (i * (1f - i));
                a[gf + j] = d * cp[e] * (f * (1f - f));
                a[gg + j] = d * i * (1f - g * g);
                a[go + j] = dh[e] * t * (o * (1f - o));
                dc[e] = d * f;
            }
        }
        gates.floats.put(gatesOff, a, 0, alive * width);
        zeroFloats(gates, gatesOff + alive * width, (slot - alive) * width);
        cellCarry.floats.put(cellCarryOff, dc, 0, n);
    }

    private void gruForwardF32(CpuBuffer hiddenOut, int hiddenOutOff, CpuBuffer gates, int gatesOff, CpuBuffer hiddenGates,
                               int hiddenGatesOff, CpuBuffer bIh, CpuBuffer bHh, CpuBuffer hiddenPrev, int hiddenPrevOff,
                               int rows, int hidden) {
        int width = 3 * hidden, n = rows * hidden;
        float[] a = floats(0, rows * width), gh = floats(1, rows * width), hp = floats(2, n), h = floats(3, n);
        gates.floats.get(gatesOff, a, 0, rows * width);
        hiddenGates.floats.get(hiddenGatesOff, gh, 0, rows * width);
        hiddenPrev.floats.get(hiddenPrevOff, hp, 0, n);
        float[] zeros = floatBias(null, 6, width);
        CpuMath.addBiases(a, floatBias(bIh, 4, width), zeros, rows, width);    // x-side: W_i·x + b_i
        CpuMath.addBiases(gh, floatBias(bHh, 5, width), zeros, rows, width);   // h-side: W_h·h + b_h (scratch only)
        for (int r = 0; r < rows; r++) {
            int row = r * width, e0 = r * hidden;
            for (int k = row; k < row + 2 * hidden; k++) a[k] = a[k] + gh[k];
            CpuMath.sigmoid(a, row, row + 2 * hidden);                          // r, z
            int kn = row + 2 * hidden;
            for (int j = 0; j < hidden; j++) a[kn + j] = a[kn + j] + a[row + j] * gh[kn + j];
            CpuMath.tanh(a, kn, kn + hidden);                                   // n
            for (int j = 0; j < hidden; j++) {
                float ng = a[kn + j];
                h[e0 + j] = ng + a[row + hidden + j] * (hp[e0 + j] - ng);
            }
        }
        gates.floats.put(gatesOff, a, 0, rows * width);
        hiddenOut.floats.put(hiddenOutOff, h, 0, n);
    }
    private float[] staging = new float[0];
    private double[] biasIh = new double[0], biasHh = new double[0];

    private double[] scratch(int which, int n) {
        if (scratch[which].length < n) scratch[which] = new double[n];
        return scratch[which];
    }

    private void load(CpuBuffer b, int offset, double[] into, int n) {
        if (b.dtype == DType.F64) {
            b.doubles.get(offset, into, 0, n);
            return;
        }
        if (staging.length < n) staging = new float[n];
        b.floats.get(offset, staging, 0, n);
        for (int i = 0; i < n; i++) into[i] = staging[i];
    }

    private void store(CpuBuffer b, int offset, double[] from, int n) {
        if (b.dtype == DType.F64) {
            b.doubles.put(offset, from, 0, n);
            return;
        }
        if (staging.length < n) staging = new float[n];
        for (int i = 0; i < n; i++) staging[i] = (float) from[i];
        b.floats.put(offset, staging, 0, n);
    }

    /** Zeroes {@code n} elements: the dead rows of a slot. */
    private void zero(CpuBuffer b, int offset, int n) {
        if (n <= 0) return;
        double[] z = scratch(5, n);
        Arrays.fill(z, 0, n, 0.0);
        store(b, offset, z, n);
    }

    /** Loads a bias vector, or returns null for an absent bias. */
    private double[] bias(CpuBuffer b, boolean ih, int n) {
        if (b == null) return null;
        double[] into = ih ? biasIh : biasHh;
        if (into.length < n) into = new double[n];
        if (ih) biasIh = into;
        else biasHh = into;
        load(b, 0, into, n);
        return into;
    }

    private static double plus(double v, double[] bias, int i) {
        return bias == null ? v : v + bias[i];
    }

    private static double sigmoid(double z) {
        return ElementMath.sigmoid(z);
    }

    private static double tanh(double z) {
        return ElementMath.tanh(z);
    }

    // Each pass in blocks of whole rows whose gate rows stay within CpuPointwise.BLOCK_BYTES, as
    // the Elman passes do: a large lane-step at once runs from memory instead of L2.

    void lstmForward(CpuBuffer hiddenOut, int hiddenOutOff, CpuBuffer cellOut, int cellOutOff, CpuBuffer gates, int gatesOff,
                     CpuBuffer bIh, CpuBuffer bHh, CpuBuffer cellPrev, int cellPrevOff, int rows, int hidden) {
        int block = CpuPointwise.blockRows(blockBytes, gates, rows, 4 * hidden);
        for (int r0 = 0; r0 < rows; r0 += block) {
            int m = Math.min(block, rows - r0), e = r0 * hidden;
            lstmForwardBlock(hiddenOut, hiddenOutOff + e, cellOut, cellOutOff + e, gates, gatesOff + 4 * e, bIh, bHh,
                    cellPrev, cellPrevOff + e, m, hidden);
        }
    }

    void lstmBackward(CpuBuffer gates, int gatesOff, CpuBuffer hiddenCarry, int hiddenCarryOff, CpuBuffer cellCarry, int cellCarryOff,
                      CpuBuffer cellPrev, int cellPrevOff, CpuBuffer cell, int cellOff, CpuBuffer outputGrad, int outputGradOff,
                      int alive, int slot, int hidden) {
        int block = CpuPointwise.blockRows(blockBytes, gates, alive, 4 * hidden), r0 = 0;
        do {
            int m = Math.min(block, alive - r0), e = r0 * hidden;
            lstmBackwardBlock(gates, gatesOff + 4 * e, hiddenCarry, hiddenCarryOff + e, cellCarry, cellCarryOff + e,
                    cellPrev, cellPrevOff + e, cell, cellOff + e, outputGrad, outputGradOff + e,
                    m, CpuPointwise.blockSlot(r0, m, alive, slot), hidden);
            r0 += m;
        } while (r0 < alive);
    }

    void gruForward(CpuBuffer hiddenOut, int hiddenOutOff, CpuBuffer gates, int gatesOff, CpuBuffer hiddenGates, int hiddenGatesOff,
                    CpuBuffer bIh, CpuBuffer bHh, CpuBuffer hiddenPrev, int hiddenPrevOff, int rows, int hidden) {
        int block = CpuPointwise.blockRows(blockBytes, gates, rows, 3 * hidden);
        for (int r0 = 0; r0 < rows; r0 += block) {
            int m = Math.min(block, rows - r0), e = r0 * hidden;
            gruForwardBlock(hiddenOut, hiddenOutOff + e, gates, gatesOff + 3 * e, hiddenGates, hiddenGatesOff + 3 * e,
                    bIh, bHh, hiddenPrev, hiddenPrevOff + e, m, hidden);
        }
    }

    void gruBackward(CpuBuffer gates, int gatesOff, CpuBuffer hiddenGates, int hiddenGatesOff, CpuBuffer hiddenCarry, int carryOff,
                     CpuBuffer hiddenPrev, int hiddenPrevOff, CpuBuffer outputGrad, int outputGradOff, CpuBuffer bHh,
                     int alive, int slot, int hidden) {
        int block = CpuPointwise.blockRows(blockBytes, gates, alive, 3 * hidden), r0 = 0;
        do {
            int m = Math.min(block, alive - r0), e = r0 * hidden;
            gruBackwardBlock(gates, gatesOff + 3 * e, hiddenGates, hiddenGatesOff + 3 * e, hiddenCarry, carryOff + e,
                    hiddenPrev, hiddenPrevOff + e, outputGrad, outputGradOff + e, bHh,
                    m, CpuPointwise.blockSlot(r0, m, alive, slot), hidden);
            r0 += m;
        } while (r0 < alive);
    }

    private void lstmForwardBlock(CpuBuffer hiddenOut, int hiddenOutOff, CpuBuffer cellOut, int cellOutOff, CpuBuffer gates, int gatesOff,
                     CpuBuffer bIh, CpuBuffer bHh, CpuBuffer cellPrev, int cellPrevOff, int rows, int hidden) {
        if (gates.dtype == DType.F32) {
            lstmForwardF32(hiddenOut, hiddenOutOff, cellOut, cellOutOff, gates, gatesOff, bIh, bHh, cellPrev, cellPrevOff, rows, hidden);
            return;
        }
        int width = 4 * hidden, n = rows * hidden;
        double[] a = scratch(0, rows * width), cp = scratch(1, n), c = scratch(2, n), h = scratch(3, n);
        load(gates, gatesOff, a, rows * width);
        load(cellPrev, cellPrevOff, cp, n);
        double[] bi = bias(bIh, true, width), bh = bias(bHh, false, width);
        for (int r = 0; r < rows; r++) {
            int row = r * width;
            for (int j = 0; j < hidden; j++) {
                int gi = row + j, gf = gi + hidden, gg = gf + hidden, go = gg + hidden;
                double i = sigmoid(plus(plus(a[gi], bi, j), bh, j));
                double f = sigmoid(plus(plus(a[gf], bi, hidden + j), bh, hidden + j));
                double g = tanh(plus(plus(a[gg], bi, 2 * hidden + j), bh, 2 * hidden + j));
                double o = sigmoid(plus(plus(a[go], bi, 3 * hidden + j), bh, 3 * hidden + j));
                int e = r * hidden + j;
                c[e] = f * cp[e] + i * g;
                h[e] = o * tanh(c[e]);
                a[gi] = i;
                a[gf] = f;
                a[gg] = g;
                a[go] = o;
            }
        }
        store(gates, gatesOff, a, rows * width);
        store(cellOut, cellOutOff, c, n);
        store(hiddenOut, hiddenOutOff, h, n);
    }

    private void lstmBackwardBlock(CpuBuffer gates, int gatesOff, CpuBuffer hiddenCarry, int hiddenCarryOff, CpuBuffer cellCarry, int cellCarryOff,
                      CpuBuffer cellPrev, int cellPrevOff, CpuBuffer cell, int cellOff, CpuBuffer outputGrad, int outputGradOff,
                      int alive, int slot, int hidden) {
        if (gates.dtype == DType.F32) {
            lstmBackwardF32(gates, gatesOff, hiddenCarry, hiddenCarryOff, cellCarry, cellCarryOff, cellPrev, cellPrevOff, cell, cellOff,
                    outputGrad, outputGradOff, alive, slot, hidden);
            return;
        }
        int width = 4 * hidden, n = alive * hidden;
        double[] a = scratch(0, alive * width), cp = scratch(1, n), c = scratch(2, n), dh = scratch(3, n), dcCarry = scratch(4, n);
        load(gates, gatesOff, a, alive * width);
        load(cellPrev, cellPrevOff, cp, n);
        load(cell, cellOff, c, n);
        load(outputGrad, outputGradOff, dh, n);
        load(cellCarry, cellCarryOff, dcCarry, n);
        if (hiddenCarry != null) {
            double[] carry = scratch(5, n);
            load(hiddenCarry, hiddenCarryOff, carry, n);
            for (int e = 0; e < n; e++) dh[e] = dh[e] + carry[e];
        }
        for (int r = 0; r < alive; r++) {
            int row = r * width;
            for (int j = 0; j < hidden; j++) {
                int gi = row + j, gf = gi + hidden, gg = gf + hidden, go = gg + hidden, e = r * hidden + j;
                double i = a[gi], f = a[gf], g = a[gg], o = a[go];
                double tc = tanh(c[e]);
                double dc = dcCarry[e] + dh[e] * o * (1.0 - tc * tc);
                a[gi] = dc * g * (i * (1.0 - i));
                a[gf] = dc * cp[e] * (f * (1.0 - f));
                a[gg] = dc * i * (1.0 - g * g);
                a[go] = dh[e] * tc * (o * (1.0 - o));
                dcCarry[e] = dc * f;
            }
        }
        store(gates, gatesOff, a, alive * width);
        zero(gates, gatesOff + alive * width, (slot - alive) * width);
        store(cellCarry, cellCarryOff, dcCarry, n);
    }

    private void gruForwardBlock(CpuBuffer hiddenOut, int hiddenOutOff, CpuBuffer gates, int gatesOff, CpuBuffer hiddenGates, int hiddenGatesOff,
                    CpuBuffer bIh, CpuBuffer bHh, CpuBuffer hiddenPrev, int hiddenPrevOff, int rows, int hidden) {
        if (gates.dtype == DType.F32) {
            gruForwardF32(hiddenOut, hiddenOutOff, gates, gatesOff, hiddenGates, hiddenGatesOff, bIh, bHh, hiddenPrev, hiddenPrevOff, rows, hidden);
            return;
        }
        int width = 3 * hidden, n = rows * hidden;
        double[] a = scratch(0, rows * width), gh = scratch(1, rows * width), hp = scratch(2, n), h = scratch(3, n);
        load(gates, gatesOff, a, rows * width);
        load(hiddenGates, hiddenGatesOff, gh, rows * width);
        load(hiddenPrev, hiddenPrevOff, hp, n);
        double[] bi = bias(bIh, true, width), bh = bias(bHh, false, width);
        for (int r = 0; r < rows; r++) {
            int row = r * width;
            for (int j = 0; j < hidden; j++) {
                int kr = row + j, kz = kr + hidden, kn = kz + hidden, e = r * hidden + j;
                double rg = sigmoid(plus(a[kr], bi, j) + plus(gh[kr], bh, j));
                double zg = sigmoid(plus(a[kz], bi, hidden + j) + plus(gh[kz], bh, hidden + j));
                double ng = tanh(plus(a[kn], bi, 2 * hidden + j) + rg * plus(gh[kn], bh, 2 * hidden + j));
                h[e] = ng + zg * (hp[e] - ng);
                a[kr] = rg;
                a[kz] = zg;
                a[kn] = ng;
            }
        }
        store(gates, gatesOff, a, rows * width);
        store(hiddenOut, hiddenOutOff, h, n);
    }

    private void gruBackwardBlock(CpuBuffer gates, int gatesOff, CpuBuffer hiddenGates, int hiddenGatesOff, CpuBuffer hiddenCarry, int carryOff,
                     CpuBuffer hiddenPrev, int hiddenPrevOff, CpuBuffer outputGrad, int outputGradOff, CpuBuffer bHh,
                     int alive, int slot, int hidden) {
        int width = 3 * hidden, n = alive * hidden;
        double[] a = scratch(0, alive * width), gh = scratch(1, alive * width), hp = scratch(2, n), g = scratch(3, n), carry = scratch(4, n);
        load(gates, gatesOff, a, alive * width);
        load(hiddenGates, hiddenGatesOff, gh, alive * width);
        load(hiddenPrev, hiddenPrevOff, hp, n);
        load(outputGrad, outputGradOff, g, n);
        load(hiddenCarry, carryOff, carry, n);
        double[] bh = bias(bHh, false, width);
        for (int r = 0; r < alive; r++) {
            int row = r * width;
            for (int j = 0; j < hidden; j++) {
                int kr = row + j, kz = kr + hidden, kn = kz + hidden, e = r * hidden + j;
                double rg = a[kr], zg = a[kz], ng = a[kn];
                double grad = g[e] + carry[e];
                double dan = grad * (1.0 - zg) * (1.0 - ng * ng);
                double daz = grad * (hp[e] - ng) * (zg * (1.0 - zg));
                double dar = dan * plus(gh[kn], bh, 2 * hidden + j) * (rg * (1.0 - rg));
                a[kr] = dar;
                a[kz] = daz;
                a[kn] = dan;
                gh[kr] = dar;
                gh[kz] = daz;
                gh[kn] = dan * rg;
                carry[e] = grad * zg;
            }
        }
        store(gates, gatesOff, a, alive * width);
        zero(gates, gatesOff + alive * width, (slot - alive) * width);
        store(hiddenGates, hiddenGatesOff, gh, alive * width);
        zero(hiddenGates, hiddenGatesOff + alive * width, (slot - alive) * width);
        store(hiddenCarry, carryOff, carry, n);
    }
}
