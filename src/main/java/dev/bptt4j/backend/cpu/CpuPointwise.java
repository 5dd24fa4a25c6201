package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.Activation;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

/**
 * The CPU twins of the CUDA pointwise kernels (cuda/rnn_cell.cu, cuda/packing.cu), with the same
 * names and element formulas. Each pointwise kernel copies its rows into heap scratch (bulk copies
 * run at memory speed), works there in plain counted loops that C2 vectorises, and copies the
 * result back, a block of rows at a time ({@link #BLOCK_BYTES}). Rows are independent, so the
 * blocks change no value. Bias is added as (pre + biasIh) + biasHh, in the kernels' order.
 */
final class CpuPointwise {
    /** Native tanh (MKL's vector math) when the process's BLAS has one, else null. */
    private final VectorMath vectorMath;
    private float[] f0 = new float[0], f1 = new float[0], f2 = new float[0];
    private double[] d0 = new double[0], d1 = new double[0], d2 = new double[0];
    private int[] rowIndex = new int[0];
    // Read-only zeros (dead rows, absent biases): only ever replaced by a larger new array, never written.
    private float[] zerosF = new float[0];
    private double[] zerosD = new double[0];

    private final BiasRows.Floats floatBiasRows = new BiasRows.Floats();
    private final BiasRows.Doubles doubleBiasRows = new BiasRows.Doubles();

    /** The lane this instance serves (its scratch is the lane's own; native views are picked by it). */
    private final int lane;

    /** {@link #BLOCK_BYTES}, or another size for tests. */
    private final int blockBytes;

    CpuPointwise(VectorMath vectorMath, int lane, int blockBytes) {
        this.vectorMath = vectorMath;
        this.lane = lane;
        this.blockBytes = blockBytes;
    }

    private float[] floats0(int n) { if (f0.length < n) f0 = new float[n]; return f0; }
    private float[] floats1(int n) { if (f1.length < n) f1 = new float[n]; return f1; }
    private float[] floats2(int n) { if (f2.length < n) f2 = new float[n]; return f2; }
    private double[] doubles0(int n) { if (d0.length < n) d0 = new double[n]; return d0; }
    private double[] doubles1(int n) { if (d1.length < n) d1 = new double[n]; return d1; }
    private double[] doubles2(int n) { if (d2.length < n) d2 = new double[n]; return d2; }
    private float[] zeroFloats(int n) { if (zerosF.length < n) zerosF = new float[n]; return zerosF; }
    private double[] zeroDoubles(int n) { if (zerosD.length < n) zerosD = new double[n]; return zerosD; }

    /**
     * Bytes per operand a pointwise pass works on at a time. A lane-step of 512 rows × 1024 at
     * once (20×1024³) spread its heap scratch, the bias rows and the buffers' rows over ~10 MB and
     * ran from memory; in blocks of whole rows of at most 256 KB per operand everything stays in
     * the core's 2 MB L2. Measured per lane and training step (the timing decorator, alternating):
     * float32 rnnBackward 21.5-22.2 → 15.7-16.5 ms, rnnForward 15.8-17.4 → 13.3-14.9 ms;
     * float64 49-53 → 32-33 and 49-51 → 33-35 ms. 50×256×512×512 float64: 10.6-10.9 → 9.9-10.0 ms
     * each. Smaller lane-steps (256 KB or less) are one block, as before.
     */
    static final int BLOCK_BYTES = 256 * 1024;

    /** Rows per block of a pass over rows of {@code width} elements of {@code b}'s dtype, at most {@code blockBytes} each. */
    static int blockRows(int blockBytes, CpuBuffer b, int rows, int width) {
        int bytes = b.dtype == DType.F64 ? 8 : 4;
        return Math.max(1, Math.min(rows, blockBytes / (bytes * Math.max(1, width))));
    }

    /**
     * The slot rows a backward block of {@code m} live rows from {@code first} covers: its own,
     * plus, for the last block, the dead rows after the live ones (which the pass zeroes).
     */
    static int blockSlot(int first, int m, int alive, int slot) {
        return first + m >= alive ? slot - first : m;
    }

    void rnnForward(CpuBuffer out, int outOff, CpuBuffer pre, int preOff, CpuBuffer biasIh, CpuBuffer biasHh,
                    CpuBuffer prev, int prevOff, int rows, int hidden, Activation act, boolean residual) {
        int block = blockRows(blockBytes, out, rows, hidden);
        for (int r0 = 0; r0 < rows; r0 += block) {
            int off = r0 * hidden;
            rnnForwardBlock(out, outOff + off, pre, preOff + off, biasIh, biasHh, prev, prevOff + off,
                    Math.min(block, rows - r0), hidden, act, residual);
        }
    }

    private void rnnForwardBlock(CpuBuffer out, int outOff, CpuBuffer pre, int preOff, CpuBuffer biasIh, CpuBuffer biasHh,
                    CpuBuffer prev, int prevOff, int rows, int hidden, Activation act, boolean residual) {
        int n = rows * hidden;
        if (out.dtype == dev.bptt4j.tensor.DType.F32 && act == Activation.TANH && !residual) {
            float[] z = floats0(n);
            BiasRows<float[]> b = floatBiasRows.of(loadBias(biasIh, floats1(hidden), hidden), loadBias(biasHh, floats2(hidden), hidden), rows, hidden);
            pre.floats.get(preOff, z, 0, n);
            CpuMath.tanhWithBias(z, b.ih, b.hh, n);
            out.floats.put(outOff, z, 0, n);
        } else if (out.dtype == dev.bptt4j.tensor.DType.F32) {
            float[] z = floats0(n);
            float[] bih = loadBias(biasIh, floats1(hidden), hidden), bhh = loadBias(biasHh, floats2(hidden), hidden);
            pre.floats.get(preOff, z, 0, n);
            if (act == Activation.TANH) CpuMath.tanhWithBias(z, bih, bhh, rows, hidden);
            else CpuMath.reluWithBias(z, bih, bhh, rows, hidden);
            if (residual) {
                float[] hp = floats1(n);
                prev.floats.get(prevOff, hp, 0, n);
                for (int i = 0; i < n; i++) z[i] = hp[i] + z[i];
            }
            out.floats.put(outOff, z, 0, n);
        } else {
            double[] z = doubles0(n);
            double[] bih = loadBias(biasIh, doubles1(hidden), hidden), bhh = loadBias(biasHh, doubles2(hidden), hidden);
            pre.doubles.get(preOff, z, 0, n);
            if (act == Activation.TANH && vectorMath != null && !residual) {
                // float64 keeps an exact tanh; MKL's (below 1 ulp) is ~15x faster than Math.tanh and
                // runs natively on the output. (Its float32 tanh measured no faster in the step than
                // CpuMath's fused loop, 28.8-29.8 against 29.1-29.4 ms alternating, so float32 stays in Java.)
                BiasRows<double[]> b = doubleBiasRows.of(bih, bhh, rows, hidden);
                for (int i = 0; i < n; i++) z[i] = (z[i] + b.ih[i]) + b.hh[i];
                out.doubles.put(outOff, z, 0, n);
                vectorMath.tanh(out, lane, outOff, n);
                return;
            }
            if (act == Activation.TANH) CpuMath.tanhWithBias(z, bih, bhh, rows, hidden);
            else CpuMath.reluWithBias(z, bih, bhh, rows, hidden);
            if (residual) {
                double[] hp = doubles1(n);
                prev.doubles.get(prevOff, hp, 0, n);
                for (int i = 0; i < n; i++) z[i] = hp[i] + z[i];
            }
            out.doubles.put(outOff, z, 0, n);
        }
    }

    void rnnBackward(CpuBuffer delta, int deltaOff, CpuBuffer carry, int carryOff, CpuBuffer hidden, int hiddenOff,
                     CpuBuffer dy, int dyOff, CpuBuffer biasIh, CpuBuffer biasHh, int alive, int slot, int h,
                     Activation act, boolean residual) {
        int block = blockRows(blockBytes, delta, alive, h), r0 = 0;
        do {
            int off = r0 * h, m = Math.min(block, alive - r0);
            rnnBackwardBlock(delta, deltaOff + off, carry, carryOff + off, hidden, hiddenOff + off, dy, dyOff + off,
                    biasIh, biasHh, m, blockSlot(r0, m, alive, slot), h, act, residual);
            r0 += m;
        } while (r0 < alive);
    }

    private void rnnBackwardBlock(CpuBuffer delta, int deltaOff, CpuBuffer carry, int carryOff, CpuBuffer hidden, int hiddenOff,
                     CpuBuffer dy, int dyOff, CpuBuffer biasIh, CpuBuffer biasHh, int alive, int slot, int h,
                     Activation act, boolean residual) {
        int n = alive * h;
        int dead = (slot - alive) * h;
        if (delta.dtype == dev.bptt4j.tensor.DType.F32) {
            float[] g = floats0(n), d = floats1(n), aux = floats2(n);
            dy.floats.get(dyOff, g, 0, n);
            carry.floats.get(carryOff, aux, 0, n);
            if (!residual && act == Activation.TANH) {
                // The common cell in one pass: δ = (1 − h²)·(dy + carry).
                hidden.floats.get(hiddenOff, d, 0, n);
                for (int i = 0; i < n; i++) d[i] = (1f - d[i] * d[i]) * (g[i] + aux[i]);
            } else {
                for (int i = 0; i < n; i++) g[i] = g[i] + aux[i];
                if (residual) {
                    carry.floats.put(carryOff, g, 0, n);
                    delta.floats.get(deltaOff, d, 0, n);
                    float[] bias = floats2(h);
                    addBias(d, biasIh, bias, alive, h);
                    addBias(d, biasHh, bias, alive, h);
                    if (act == Activation.TANH) CpuMath.tanhDerivativeFromInput(d, n);
                    else CpuMath.reluDerivativeFromInput(d, n);
                } else {
                    hidden.floats.get(hiddenOff, d, 0, n);
                    CpuMath.reluDerivativeFromOutput(d, n);
                }
                for (int i = 0; i < n; i++) d[i] = d[i] * g[i];
            }
            delta.floats.put(deltaOff, d, 0, n);
            if (dead > 0) delta.floats.put(deltaOff + n, zeroFloats(dead), 0, dead);
        } else {
            double[] g = doubles0(n), d = doubles1(n), aux = doubles2(n);
            dy.doubles.get(dyOff, g, 0, n);
            carry.doubles.get(carryOff, aux, 0, n);
            if (!residual && act == Activation.TANH) {
                hidden.doubles.get(hiddenOff, d, 0, n);
                for (int i = 0; i < n; i++) d[i] = (1.0 - d[i] * d[i]) * (g[i] + aux[i]);
            } else {
                for (int i = 0; i < n; i++) g[i] = g[i] + aux[i];
                if (residual) {
                    carry.doubles.put(carryOff, g, 0, n);
                    delta.doubles.get(deltaOff, d, 0, n);
                    double[] bias = doubles2(h);
                    addBias(d, biasIh, bias, alive, h);
                    addBias(d, biasHh, bias, alive, h);
                    if (act == Activation.TANH) CpuMath.tanhDerivativeFromInput(d, n);
                    else CpuMath.reluDerivativeFromInput(d, n);
                } else {
                    hidden.doubles.get(hiddenOff, d, 0, n);
                    CpuMath.reluDerivativeFromOutput(d, n);
                }
                for (int i = 0; i < n; i++) d[i] = d[i] * g[i];
            }
            delta.doubles.put(deltaOff, d, 0, n);
            if (dead > 0) delta.doubles.put(deltaOff + n, zeroDoubles(dead), 0, dead);
        }
    }

    /** The bias, or a shared array of zeros when there is none. */
    private float[] loadBias(CpuBuffer bias, float[] into, int n) {
        if (bias == null) return zeroFloats(n);
        bias.floats.get(0, into, 0, n);
        return into;
    }

    private double[] loadBias(CpuBuffer bias, double[] into, int n) {
        if (bias == null) return zeroDoubles(n);
        bias.doubles.get(0, into, 0, n);
        return into;
    }

    private static void addBias(float[] z, CpuBuffer bias, float[] scratch, int rows, int h) {
        if (bias == null) return;
        bias.floats.get(0, scratch, 0, h);
        for (int r = 0; r < rows; r++) for (int c = 0; c < h; c++) z[r * h + c] += scratch[c];
    }

    private static void addBias(double[] z, CpuBuffer bias, double[] scratch, int rows, int h) {
        if (bias == null) return;
        bias.doubles.get(0, scratch, 0, h);
        for (int r = 0; r < rows; r++) for (int c = 0; c < h; c++) z[r * h + c] += scratch[c];
    }

    /**
     * {@link dev.bptt4j.backend.Backend#uploadRows} for rows [first, end) of the list, checked by the
     * caller: row copies straight from the tensor's array.
     */
    void uploadRows(CpuBuffer dst, int dstOff, Tensor source, int stride, int column, int[] rows, int first, int end, int width) {
        boolean f32 = dst.dtype == DType.F32;
        int r = first;
        while (r < end) {
            int to = dstOff + r * width, row = rows[r];
            if (row < 0) {
                if (f32) dst.floats.put(to, zeroFloats(width), 0, width);
                else dst.doubles.put(to, zeroDoubles(width), 0, width);
                r++;
                continue;
            }
            // Consecutive source rows of a dense tensor move as one copy.
            int run = 1;
            if (stride == width) while (r + run < end && rows[r + run] == row + run) run++;
            int from = row * stride + column;
            if (f32) dst.floats.put(to, source.f32(), from, run * width);
            else dst.doubles.put(to, source.f64(), from, run * width);
            r += run;
        }
    }

    /**
     * {@link dev.bptt4j.backend.Backend#downloadRows} for rows [first, end) of the list, checked by
     * the caller: row copies straight into the tensor's array.
     */
    void downloadRows(Tensor target, int stride, int column, CpuBuffer src, int srcOff, int[] rows, int first, int end, int width) {
        boolean f32 = src.dtype == DType.F32;
        int r = first;
        while (r < end) {
            int to = r * stride + column, row = rows[r];
            if (row < 0) {
                if (f32) java.util.Arrays.fill(target.f32(), to, to + width, 0f);
                else java.util.Arrays.fill(target.f64(), to, to + width, 0.0);
                r++;
                continue;
            }
            // Consecutive source rows into a dense tensor move as one copy.
            int run = 1;
            if (stride == width) while (r + run < end && rows[r + run] == row + run) run++;
            int from = srcOff + row * width;
            if (f32) src.floats.get(from, target.f32(), to, run * width);
            else src.doubles.get(from, target.f64(), to, run * width);
            r += run;
        }
    }

    void gatherRows(CpuBuffer dst, int dstOff, int dstStride, int dstCol, CpuBuffer src, long srcOff, int srcStride,
                    int srcCol, CpuBuffer index, int indexOff, int rows, int width, boolean accumulate) {
        if (rowIndex.length < rows) rowIndex = new int[rows];
        index.ints.get(indexOff, rowIndex, 0, rows);
        boolean f32 = dst.dtype == dev.bptt4j.tensor.DType.F32;
        // An assigning gather between two buffers copies directly, buffer to buffer, and merges
        // runs of consecutive source rows into one copy when both sides are dense; a full batch's
        // packing maps are then a single copy.
        boolean direct = !accumulate && dst != src;
        boolean dense = direct && srcStride == width && dstStride == width;
        float[] fs = f32 ? floats0(width) : null, fd = f32 ? floats1(width) : null;
        double[] ds = f32 ? null : doubles0(width), dd = f32 ? null : doubles1(width);
        int r = 0;
        while (r < rows) {
            int from = rowIndex[r];
            int to = dstOff + r * dstStride + dstCol;
            if (from < 0) {
                if (!accumulate) {
                    if (f32) dst.floats.put(to, zeroFloats(width), 0, width);
                    else dst.doubles.put(to, zeroDoubles(width), 0, width);
                }
                r++;
                continue;
            }
            int run = 1;
            if (dense) while (r + run < rows && rowIndex[r + run] == from + run) run++;
            long at = srcOff + (long) from * srcStride + srcCol;
            long count = (long) run * width;
            if (at < 0 || at + count > src.elements) {
                throw new IndexOutOfBoundsException("gatherRows: row index " + (from + run - 1) + " reads outside a source of " + src.elements);
            }
            if (direct) {
                if (f32) dst.floats.put(to, src.floats, (int) at, (int) count);
                else dst.doubles.put(to, src.doubles, (int) at, (int) count);
            } else if (f32) {
                src.floats.get((int) at, fs, 0, width);
                if (accumulate) {
                    dst.floats.get(to, fd, 0, width);
                    for (int c = 0; c < width; c++) fs[c] = fd[c] + fs[c];
                }
                dst.floats.put(to, fs, 0, width);
            } else {
                src.doubles.get((int) at, ds, 0, width);
                if (accumulate) {
                    dst.doubles.get(to, dd, 0, width);
                    for (int c = 0; c < width; c++) ds[c] = dd[c] + ds[c];
                }
                dst.doubles.put(to, ds, 0, width);
            }
            r += run;
        }
    }

    /** packing.cu's sum_rows: dst = a + b over aliveRows × width, zero over the rest of slotRows. */
    void sumRows(CpuBuffer dst, int dstOff, CpuBuffer a, int aOff, CpuBuffer b, int bOff, int alive, int slot, int width) {
        int n = alive * width, dead = (slot - alive) * width;
        if (dst.dtype == DType.F32) {
            float[] x = floats0(n), y = floats1(n);
            a.floats.get(aOff, x, 0, n);
            b.floats.get(bOff, y, 0, n);
            for (int i = 0; i < n; i++) x[i] = x[i] + y[i];
            dst.floats.put(dstOff, x, 0, n);
            if (dead > 0) dst.floats.put(dstOff + n, zeroFloats(dead), 0, dead);
        } else {
            double[] x = doubles0(n), y = doubles1(n);
            a.doubles.get(aOff, x, 0, n);
            b.doubles.get(bOff, y, 0, n);
            for (int i = 0; i < n; i++) x[i] = x[i] + y[i];
            dst.doubles.put(dstOff, x, 0, n);
            if (dead > 0) dst.doubles.put(dstOff + n, zeroDoubles(dead), 0, dead);
        }
    }

    void fill(CpuBuffer dst, int off, int count, double value) {
        // Bulk puts of a block at a time: element-wise puts into a direct buffer are several times slower.
        final int block = 4096;
        switch (dst.dtype) {
            case F32: {
                float[] v = value == 0 ? zeroFloats(block) : floats0(block);
                if (value != 0) java.util.Arrays.fill(v, 0, block, (float) value);
                for (int i = 0; i < count; i += block) dst.floats.put(off + i, v, 0, Math.min(block, count - i));
                break;
            }
            case F64: {
                double[] v = value == 0 ? zeroDoubles(block) : doubles0(block);
                if (value != 0) java.util.Arrays.fill(v, 0, block, value);
                for (int i = 0; i < count; i += block) dst.doubles.put(off + i, v, 0, Math.min(block, count - i));
                break;
            }
            case I32: { for (int i = 0; i < count; i++) dst.ints.put(off + i, (int) value); break; }
            default: throw new AssertionError(dst.dtype);
        }
    }
}
