package dev.bptt4j.backend.cpu;

import dev.bptt4j.backend.Activation;

/**
 * The CPU twins of the CUDA pointwise kernels (cuda/rnn_cell.cu, cuda/packing.cu), with the same
 * names and element formulas. Each kernel copies its rows into heap scratch, works there, and
 * copies the result back. Bias is added as (pre + biasIh) + biasHh, in the kernels' order.
 */
final class CpuPointwise {
    private float[] f0 = new float[0], f1 = new float[0], f2 = new float[0];
    private double[] d0 = new double[0], d1 = new double[0], d2 = new double[0];
    private int[] rowIndex = new int[0];

    private float[] floats0(int n) { if (f0.length < n) f0 = new float[n]; return f0; }
    private float[] floats1(int n) { if (f1.length < n) f1 = new float[n]; return f1; }
    private float[] floats2(int n) { if (f2.length < n) f2 = new float[n]; return f2; }
    private double[] doubles0(int n) { if (d0.length < n) d0 = new double[n]; return d0; }
    private double[] doubles1(int n) { if (d1.length < n) d1 = new double[n]; return d1; }
    private double[] doubles2(int n) { if (d2.length < n) d2 = new double[n]; return d2; }

    void rnnForward(CpuBuffer out, int outOff, CpuBuffer pre, int preOff, CpuBuffer biasIh, CpuBuffer biasHh,
                    CpuBuffer prev, int prevOff, int rows, int hidden, Activation act, boolean residual) {
        int n = rows * hidden;
        if (out.dtype == dev.bptt4j.tensor.DType.F32) {
            float[] z = floats0(n), bih = floats1(hidden), bhh = floats2(hidden);
            pre.floats.get(preOff, z, 0, n);
            loadBias(biasIh, bih, hidden);
            loadBias(biasHh, bhh, hidden);
            for (int r = 0; r < rows; r++) {
                int base = r * hidden;
                for (int c = 0; c < hidden; c++) z[base + c] = z[base + c] + bih[c] + bhh[c];
            }
            if (act == Activation.TANH) CpuMath.tanh(z, n);
            else CpuMath.relu(z, n);
            if (residual) {
                float[] hp = floats1(n);
                prev.floats.get(prevOff, hp, 0, n);
                for (int i = 0; i < n; i++) z[i] = hp[i] + z[i];
            }
            out.floats.put(outOff, z, 0, n);
        } else {
            double[] z = doubles0(n), bih = doubles1(hidden), bhh = doubles2(hidden);
            pre.doubles.get(preOff, z, 0, n);
            loadBias(biasIh, bih, hidden);
            loadBias(biasHh, bhh, hidden);
            for (int r = 0; r < rows; r++) {
                int base = r * hidden;
                for (int c = 0; c < hidden; c++) z[base + c] = z[base + c] + bih[c] + bhh[c];
            }
            if (act == Activation.TANH) CpuMath.tanh(z, n);
            else CpuMath.relu(z, n);
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
        int n = alive * h;
        int dead = (slot - alive) * h;
        if (delta.dtype == dev.bptt4j.tensor.DType.F32) {
            float[] g = floats0(n), d = floats1(n), aux = floats2(Math.max(n, dead));
            dy.floats.get(dyOff, g, 0, n);
            carry.floats.get(carryOff, aux, 0, n);
            for (int i = 0; i < n; i++) g[i] = g[i] + aux[i];
            if (residual) {
                carry.floats.put(carryOff, g, 0, n);
                delta.floats.get(deltaOff, d, 0, n);
                float[] bih = floats2(h);
                addBias(d, biasIh, bih, alive, h);
                addBias(d, biasHh, bih, alive, h);
                if (act == Activation.TANH) CpuMath.tanhDerivativeFromInput(d, n);
                else CpuMath.reluDerivativeFromInput(d, n);
            } else {
                hidden.floats.get(hiddenOff, d, 0, n);
                if (act == Activation.TANH) CpuMath.tanhDerivativeFromOutput(d, n);
                else CpuMath.reluDerivativeFromOutput(d, n);
            }
            for (int i = 0; i < n; i++) d[i] = d[i] * g[i];
            delta.floats.put(deltaOff, d, 0, n);
            if (dead > 0) {
                float[] zeros = floats2(dead);
                java.util.Arrays.fill(zeros, 0, dead, 0f);
                delta.floats.put(deltaOff + n, zeros, 0, dead);
            }
        } else {
            double[] g = doubles0(n), d = doubles1(n), aux = doubles2(Math.max(n, dead));
            dy.doubles.get(dyOff, g, 0, n);
            carry.doubles.get(carryOff, aux, 0, n);
            for (int i = 0; i < n; i++) g[i] = g[i] + aux[i];
            if (residual) {
                carry.doubles.put(carryOff, g, 0, n);
                delta.doubles.get(deltaOff, d, 0, n);
                double[] bih = doubles2(h);
                addBias(d, biasIh, bih, alive, h);
                addBias(d, biasHh, bih, alive, h);
                if (act == Activation.TANH) CpuMath.tanhDerivativeFromInput(d, n);
                else CpuMath.reluDerivativeFromInput(d, n);
            } else {
                hidden.doubles.get(hiddenOff, d, 0, n);
                if (act == Activation.TANH) CpuMath.tanhDerivativeFromOutput(d, n);
                else CpuMath.reluDerivativeFromOutput(d, n);
            }
            for (int i = 0; i < n; i++) d[i] = d[i] * g[i];
            delta.doubles.put(deltaOff, d, 0, n);
            if (dead > 0) {
                double[] zeros = doubles2(dead);
                java.util.Arrays.fill(zeros, 0, dead, 0.0);
                delta.doubles.put(deltaOff + n, zeros, 0, dead);
            }
        }
    }

    private static void loadBias(CpuBuffer bias, float[] into, int n) {
        if (bias == null) java.util.Arrays.fill(into, 0, n, 0f);
        else bias.floats.get(0, into, 0, n);
    }

    private static void loadBias(CpuBuffer bias, double[] into, int n) {
        if (bias == null) java.util.Arrays.fill(into, 0, n, 0.0);
        else bias.doubles.get(0, into, 0, n);
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

    void gatherRows(CpuBuffer dst, int dstOff, int dstStride, int dstCol, CpuBuffer src, long srcOff, int srcStride,
                    int srcCol, CpuBuffer index, int indexOff, int rows, int width, boolean accumulate) {
        if (rowIndex.length < rows) rowIndex = new int[rows];
        index.ints.get(indexOff, rowIndex, 0, rows);
        boolean f32 = dst.dtype == dev.bptt4j.tensor.DType.F32;
        float[] fs = f32 ? floats0(width) : null, fd = f32 ? floats1(width) : null;
        double[] ds = f32 ? null : doubles0(width), dd = f32 ? null : doubles1(width);
        for (int r = 0; r < rows; r++) {
            int from = rowIndex[r];
            int to = dstOff + r * dstStride + dstCol;
            if (from < 0) {
                if (accumulate) continue;
                if (f32) { java.util.Arrays.fill(fs, 0, width, 0f); dst.floats.put(to, fs, 0, width); }
                else { java.util.Arrays.fill(ds, 0, width, 0.0); dst.doubles.put(to, ds, 0, width); }
                continue;
            }
            long at = srcOff + (long) from * srcStride + srcCol;
            if (at < 0 || at + width > src.elements) {
                throw new IndexOutOfBoundsException("gatherRows: row index " + from + " reads outside a source of " + src.elements);
            }
            if (f32) {
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
        }
    }

    void fill(CpuBuffer dst, int off, int count, double value) {
        switch (dst.dtype) {
            case F32: { for (int i = 0; i < count; i++) dst.floats.put(off + i, (float) value); break; }
            case F64: { for (int i = 0; i < count; i++) dst.doubles.put(off + i, value); break; }
            case I32: { for (int i = 0; i < count; i++) dst.ints.put(off + i, (int) value); break; }
            default: throw new AssertionError(dst.dtype);
        }
    }
}
