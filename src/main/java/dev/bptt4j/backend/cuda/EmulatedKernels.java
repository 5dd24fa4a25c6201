package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.ElementMath;
import dev.bptt4j.backend.Philox;
import dev.bptt4j.tensor.DType;

/**
 * The kernels of {@code cuda/rnn_cell.cu}, {@code cuda/lstm_cell.cu}, {@code cuda/gru_cell.cu},
 * {@code cuda/packing.cu}, {@code cuda/training.cu} and {@code cuda/finite.cu} in Java, for
 * {@link EmulatedCudaApi}: one method per kernel family, taking the {@code extern "C"} entry's
 * parameter list in its order, and following the {@code .cu} template line by line. The flat
 * index loop stands for the grid-stride loop (every element is visited once, by one thread, so
 * the order does not matter for these kernels; the reductions say how they stand for theirs).
 *
 * <p>Arithmetic is done in the kernel's precision: a float kernel's sums and products are rounded
 * to float after each operation (a double carries the value; one rounding of an exact double sum
 * or product of two floats is the float operation's result). The element math is
 * {@link ElementMath}, the Java twin of {@code bptt4j_math.cuh}, including its NaN and signed-zero
 * rules. Every element access is bounds-checked, and a NULL pointer is checked when it is read,
 * as the kernels read some parameters only in some modes.
 */
final class EmulatedKernels {
    private final EmulatedCudaApi device;

    EmulatedKernels(EmulatedCudaApi device) {
        this.device = device;
    }

    /** Dispatches a validated launch by kernel family. */
    void run(CudaKernel kernel, Object[] a) {
        DType t = kernel.dtype();
        CudaKernel k = kernel;
        switch (kernel.family()) {
            case "rnn_forward":
                rnnForward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), ptr(k, a, 4),
                        (Integer) a[5], (Integer) a[6], (Integer) a[7], (Integer) a[8]);
                break;
            case "rnn_backward":
                rnnBackward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), ptr(k, a, 4),
                        ptr(k, a, 5), (Integer) a[6], (Integer) a[7], (Integer) a[8], (Integer) a[9], (Integer) a[10]);
                break;
            case "lstm_forward":
                lstmForward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), ptr(k, a, 4),
                        ptr(k, a, 5), (Integer) a[6], (Integer) a[7]);
                break;
            case "lstm_backward":
                lstmBackward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), ptr(k, a, 4),
                        ptr(k, a, 5), (Integer) a[6], (Integer) a[7], (Integer) a[8]);
                break;
            case "gru_forward":
                gruForward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), ptr(k, a, 4),
                        ptr(k, a, 5), (Integer) a[6], (Integer) a[7]);
                break;
            case "gru_backward":
                gruBackward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), ptr(k, a, 4),
                        ptr(k, a, 5), (Integer) a[6], (Integer) a[7], (Integer) a[8]);
                break;
            case "gather_rows":
                gatherRows(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), (Integer) a[3], (Integer) a[4],
                        (Integer) a[5], (Integer) a[6], (Integer) a[7], (Integer) a[8], (Integer) a[9]);
                break;
            case "dropout_forward":
                dropoutForward(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), (Integer) a[3], (Integer) a[4], (Integer) a[5], (Integer) a[6],
                        (Long) a[7], (Long) a[8], (Double) a[9], ((Number) a[10]).doubleValue());
                break;
            case "dropout_backward":
                dropoutBackward(k, t, ptr(k, a, 0), ptr(k, a, 1), (Long) a[2]);
                break;
            case "sum_rows":
                sumRows(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), (Integer) a[3], (Integer) a[4], (Integer) a[5]);
                break;
            case "fill":
                fill(k, t, ptr(k, a, 0), ((Number) a[1]).doubleValue(), (Long) a[2]);
                break;
            case "softmax_xent":
                softmaxXent(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), (Integer) a[3], (Integer) a[4], (Double) a[5]);
                break;
            case "sgd_step":
                sgdStep(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), (Long) a[3], (Double) a[4],
                        (Double) a[5], (Double) a[6], (Double) a[7], (Double) a[8], (Integer) a[9], (Integer) a[10]);
                break;
            case "adam_step":
                adamStep(k, t, ptr(k, a, 0), ptr(k, a, 1), ptr(k, a, 2), ptr(k, a, 3), (Long) a[4],
                        (Double) a[5], (Double) a[6], (Double) a[7], (Double) a[8], (Double) a[9], (Double) a[10],
                        (Double) a[11], (Double) a[12]);
                break;
            case "sum_of_squares":
                sumOfSquares(k, t, ptr(k, a, 0), (Long) a[1], ptr(k, a, 2));
                break;
            case "scale":
                scale(k, t, ptr(k, a, 0), (Long) a[1], (Double) a[2]);
                break;
            case "clamp":
                clamp(k, t, ptr(k, a, 0), (Long) a[1], (Double) a[2], (Double) a[3]);
                break;
            case "count_non_finite":
                countNonFinite(k, t, ptr(k, a, 0), (Long) a[1], ptr(k, a, 2));
                break;
            default:
                throw new EmulatedCudaException(kernel + ": no emulation (add one here beside its .cu twin)");
        }
    }

    // rnn_cell.cu: rnn_forward_{f32,f64}(hiddenOut, preActivation, biasIh, biasHh, hiddenPrev, rows, hiddenSize, activation, residual)
    private void rnnForward(CudaKernel k, DType t, DevicePointer hiddenOut, DevicePointer preActivation, DevicePointer biasIh,
                            DevicePointer biasHh, DevicePointer hiddenPrev, int rows, int hiddenSize, int activation, int residual) {
        long n = (long) rows * hiddenSize;
        View out = view(k, "hiddenOut", hiddenOut, t), pre = view(k, "preActivation", preActivation, t);
        View bih = view(k, "biasIh", biasIh, t), bhh = view(k, "biasHh", biasHh, t), prev = view(k, "hiddenPrev", hiddenPrev, t);
        boolean f32 = t == DType.F32;
        for (long i = 0; i < n; i++) {
            long column = i % hiddenSize;
            double activated = activate(preactivationWithBias(f32, pre.get(i), bih, bhh, column), activation, f32);
            out.set(i, residual != 0 ? round(f32, prev.get(i) + activated) : activated);
        }
    }

    // rnn_cell.cu: rnn_backward_{f32,f64}(deltaInOut, hiddenGradCarry, hidden, outputGrad, biasIh, biasHh,
    //                                    aliveRows, slotRows, hiddenSize, activation, residual)
    private void rnnBackward(CudaKernel k, DType t, DevicePointer deltaInOut, DevicePointer hiddenGradCarry, DevicePointer hidden,
                             DevicePointer outputGrad, DevicePointer biasIh, DevicePointer biasHh,
                             int aliveRows, int slotRows, int hiddenSize, int activation, int residual) {
        long alive = (long) aliveRows * hiddenSize, n = (long) slotRows * hiddenSize;
        View delta = view(k, "deltaInOut", deltaInOut, t), carry = view(k, "hiddenGradCarry", hiddenGradCarry, t);
        View h = view(k, "hidden", hidden, t), dy = view(k, "outputGrad", outputGrad, t);
        View bih = view(k, "biasIh", biasIh, t), bhh = view(k, "biasHh", biasHh, t);
        boolean f32 = t == DType.F32;
        for (long i = 0; i < n; i++) {
            if (i >= alive) {
                delta.set(i, 0.0);
                continue;
            }
            double g = round(f32, dy.get(i) + carry.get(i));
            double derivative;
            if (residual != 0) {
                double z = preactivationWithBias(f32, delta.get(i), bih, bhh, i % hiddenSize);
                derivative = f32 ? ElementMath.activationGradFromPreactivation((float) z, activation)
                        : ElementMath.activationGradFromPreactivation(z, activation);
                carry.set(i, g);
            } else {
                derivative = f32 ? ElementMath.activationGradFromOutput((float) h.get(i), activation)
                        : ElementMath.activationGradFromOutput(h.get(i), activation);
            }
            delta.set(i, round(f32, derivative * g)); // mul_rn: a product rounded on its own
        }
    }

    // z = pre + b_ih + b_hh in that order; a NULL bias adds nothing, not even +0.
    private static double preactivationWithBias(boolean f32, double pre, View biasIh, View biasHh, long column) {
        double z = pre;
        if (!biasIh.isNull()) z = round(f32, z + biasIh.get(column));
        if (!biasHh.isNull()) z = round(f32, z + biasHh.get(column));
        return z;
    }

    private static double activate(double z, int activation, boolean f32) {
        return f32 ? ElementMath.activate((float) z, activation) : ElementMath.activate(z, activation);
    }

    // lstm_cell.cu: lstm_forward_{f32,f64}(hiddenOut, cellOut, gates, biasIh, biasHh, cellPrev, rows, hiddenSize)
    private void lstmForward(CudaKernel k, DType t, DevicePointer hiddenOut, DevicePointer cellOut, DevicePointer gates,
                             DevicePointer biasIh, DevicePointer biasHh, DevicePointer cellPrev, int rows, int hiddenSize) {
        long n = (long) rows * hiddenSize;
        View h = view(k, "hiddenOut", hiddenOut, t), cOut = view(k, "cellOut", cellOut, t), gt = view(k, "gates", gates, t);
        View bih = view(k, "biasIh", biasIh, t), bhh = view(k, "biasHh", biasHh, t), cp = view(k, "cellPrev", cellPrev, t);
        boolean f32 = t == DType.F32;
        for (long e = 0; e < n; e++) {
            long r = e / hiddenSize, c = e - r * hiddenSize;
            long row = r * 4 * hiddenSize;
            double i = sigmoid(f32, preactivationWithBias(f32, gt.get(row + c), bih, bhh, c));
            double f = sigmoid(f32, preactivationWithBias(f32, gt.get(row + hiddenSize + c), bih, bhh, hiddenSize + c));
            double g = tanh(f32, preactivationWithBias(f32, gt.get(row + 2L * hiddenSize + c), bih, bhh, 2L * hiddenSize + c));
            double o = sigmoid(f32, preactivationWithBias(f32, gt.get(row + 3L * hiddenSize + c), bih, bhh, 3L * hiddenSize + c));
            double cell = round(f32, mul(f32, f, cp.get(e)) + mul(f32, i, g));
            gt.set(row + c, i);
            gt.set(row + hiddenSize + c, f);
            gt.set(row + 2L * hiddenSize + c, g);
            gt.set(row + 3L * hiddenSize + c, o);
            cOut.set(e, cell);
            h.set(e, mul(f32, o, tanh(f32, cell)));
        }
    }

    // lstm_cell.cu: lstm_backward_{f32,f64}(gatesInDeltaOut, hiddenGradCarry, cellGradCarry, cellPrev, cell, outputGrad,
    //                                      aliveRows, slotRows, hiddenSize)
    private void lstmBackward(CudaKernel k, DType t, DevicePointer gatesInDeltaOut, DevicePointer hiddenGradCarry,
                              DevicePointer cellGradCarry, DevicePointer cellPrev, DevicePointer cell, DevicePointer outputGrad,
                              int aliveRows, int slotRows, int hiddenSize) {
        long alive = (long) aliveRows * hiddenSize, n = (long) slotRows * hiddenSize;
        View gt = view(k, "gatesInDeltaOut", gatesInDeltaOut, t), hc = view(k, "hiddenGradCarry", hiddenGradCarry, t);
        View cc = view(k, "cellGradCarry", cellGradCarry, t), cp = view(k, "cellPrev", cellPrev, t);
        View cl = view(k, "cell", cell, t), dy = view(k, "outputGrad", outputGrad, t);
        boolean f32 = t == DType.F32;
        for (long e = 0; e < n; e++) {
            long r = e / hiddenSize, c = e - r * hiddenSize;
            long row = r * 4 * hiddenSize;
            long ci = row + c, cf = ci + hiddenSize, cg = cf + hiddenSize, co = cg + hiddenSize;
            if (e >= alive) {
                gt.set(ci, 0.0);
                gt.set(cf, 0.0);
                gt.set(cg, 0.0);
                gt.set(co, 0.0);
                continue;
            }
            double i = gt.get(ci), f = gt.get(cf), g = gt.get(cg), o = gt.get(co);
            double dh = hc.isNull() ? dy.get(e) : round(f32, dy.get(e) + hc.get(e)); // NULL carry: zero
            double tc = tanh(f32, cl.get(e));
            double dc = round(f32, cc.get(e) + mul(f32, mul(f32, dh, o), tanhGrad(f32, tc)));
            gt.set(ci, mul(f32, mul(f32, dc, g), sigmoidGrad(f32, i)));
            gt.set(cf, mul(f32, mul(f32, dc, cp.get(e)), sigmoidGrad(f32, f)));
            gt.set(cg, mul(f32, mul(f32, dc, i), tanhGrad(f32, g)));
            gt.set(co, mul(f32, mul(f32, dh, tc), sigmoidGrad(f32, o)));
            cc.set(e, mul(f32, dc, f));
        }
    }

    // gru_cell.cu: gru_forward_{f32,f64}(hiddenOut, gates, hiddenGates, biasIh, biasHh, hiddenPrev, rows, hiddenSize)
    private void gruForward(CudaKernel k, DType t, DevicePointer hiddenOut, DevicePointer gates, DevicePointer hiddenGates,
                            DevicePointer biasIh, DevicePointer biasHh, DevicePointer hiddenPrev, int rows, int hiddenSize) {
        long n = (long) rows * hiddenSize;
        View h = view(k, "hiddenOut", hiddenOut, t), gi = view(k, "gates", gates, t), gh = view(k, "hiddenGates", hiddenGates, t);
        View bih = view(k, "biasIh", biasIh, t), bhh = view(k, "biasHh", biasHh, t), hp = view(k, "hiddenPrev", hiddenPrev, t);
        boolean f32 = t == DType.F32;
        for (long e = 0; e < n; e++) {
            long row = e / hiddenSize, c = e - row * hiddenSize;
            long base = row * 3 * hiddenSize;
            long cz = hiddenSize + c, cn = 2L * hiddenSize + c;
            double r = sigmoid(f32, round(f32, withBias(f32, gi.get(base + c), bih, c) + withBias(f32, gh.get(base + c), bhh, c)));
            double z = sigmoid(f32, round(f32, withBias(f32, gi.get(base + cz), bih, cz) + withBias(f32, gh.get(base + cz), bhh, cz)));
            double candidate = tanh(f32, round(f32, withBias(f32, gi.get(base + cn), bih, cn)
                    + mul(f32, r, withBias(f32, gh.get(base + cn), bhh, cn))));
            gi.set(base + c, r);
            gi.set(base + cz, z);
            gi.set(base + cn, candidate);
            h.set(e, round(f32, candidate + mul(f32, z, round(f32, hp.get(e) - candidate))));
        }
    }

    // gru_cell.cu: gru_backward_{f32,f64}(gatesInDeltaOut, hiddenGatesInDeltaOut, hiddenGradCarry, hiddenPrev, outputGrad,
    //                                    biasHh, aliveRows, slotRows, hiddenSize)
    private void gruBackward(CudaKernel k, DType t, DevicePointer gatesInDeltaOut, DevicePointer hiddenGatesInDeltaOut,
                             DevicePointer hiddenGradCarry, DevicePointer hiddenPrev, DevicePointer outputGrad, DevicePointer biasHh,
                             int aliveRows, int slotRows, int hiddenSize) {
        long alive = (long) aliveRows * hiddenSize, n = (long) slotRows * hiddenSize;
        View gi = view(k, "gatesInDeltaOut", gatesInDeltaOut, t), gh = view(k, "hiddenGatesInDeltaOut", hiddenGatesInDeltaOut, t);
        View carry = view(k, "hiddenGradCarry", hiddenGradCarry, t), hp = view(k, "hiddenPrev", hiddenPrev, t);
        View dy = view(k, "outputGrad", outputGrad, t), bhh = view(k, "biasHh", biasHh, t);
        boolean f32 = t == DType.F32;
        for (long e = 0; e < n; e++) {
            long row = e / hiddenSize, c = e - row * hiddenSize;
            long base = row * 3 * hiddenSize;
            long cr = base + c, cz = base + hiddenSize + c, cn = base + 2L * hiddenSize + c;
            if (e >= alive) {
                gi.set(cr, 0.0);
                gi.set(cz, 0.0);
                gi.set(cn, 0.0);
                gh.set(cr, 0.0);
                gh.set(cz, 0.0);
                gh.set(cn, 0.0);
                continue;
            }
            double r = gi.get(cr), z = gi.get(cz), candidate = gi.get(cn);
            double g = round(f32, dy.get(e) + carry.get(e));
            double dan = mul(f32, mul(f32, g, round(f32, 1.0 - z)), tanhGrad(f32, candidate));
            double daz = mul(f32, mul(f32, g, round(f32, hp.get(e) - candidate)), sigmoidGrad(f32, z));
            double dar = mul(f32, mul(f32, dan, withBias(f32, gh.get(cn), bhh, 2L * hiddenSize + c)), sigmoidGrad(f32, r));
            gi.set(cr, dar);
            gi.set(cz, daz);
            gi.set(cn, dan);
            gh.set(cr, dar);
            gh.set(cz, daz);
            gh.set(cn, mul(f32, dan, r));
            carry.set(e, mul(f32, g, z));
        }
    }

    // gru_with_bias: v + bias[column], or v for a NULL bias.
    private static double withBias(boolean f32, double v, View bias, long column) {
        return bias.isNull() ? v : round(f32, v + bias.get(column));
    }

    // mul_rn: a product rounded on its own, never fused into a neighbouring add.
    private static double mul(boolean f32, double a, double b) {
        return round(f32, a * b);
    }

    private static double sigmoid(boolean f32, double z) {
        return f32 ? ElementMath.sigmoid((float) z) : ElementMath.sigmoid(z);
    }

    private static double tanh(boolean f32, double z) {
        return f32 ? ElementMath.tanh((float) z) : ElementMath.tanh(z);
    }

    private static double tanhGrad(boolean f32, double h) {
        return f32 ? ElementMath.tanhGradFromOutput((float) h) : ElementMath.tanhGradFromOutput(h);
    }

    private static double sigmoidGrad(boolean f32, double s) {
        return f32 ? ElementMath.sigmoidGradFromOutput((float) s) : ElementMath.sigmoidGradFromOutput(s);
    }

    // packing.cu: gather_rows_{f32,f64}(dst, src, rowIndex, rows, width, dstStride, dstColumn, srcStride, srcColumn, accumulate)
    private void gatherRows(CudaKernel k, DType t, DevicePointer dst, DevicePointer src, DevicePointer rowIndex, int rows, int width,
                            int dstStride, int dstColumn, int srcStride, int srcColumn, int accumulate) {
        long n = (long) rows * width;
        View d = view(k, "dst", dst, t), s = view(k, "src", src, t), index = view(k, "rowIndex", rowIndex, DType.I32);
        boolean f32 = t == DType.F32;
        for (long i = 0; i < n; i++) {
            long r = i / width, c = i - r * width;
            int sourceRow = (int) index.get(r);
            long target = r * dstStride + dstColumn + c;
            if (sourceRow < 0) {
                if (accumulate == 0) d.set(target, 0.0);
                continue;
            }
            double v = s.get((long) sourceRow * srcStride + srcColumn + c);
            d.set(target, accumulate != 0 ? round(f32, d.get(target) + v) : v);
        }
    }

    // dropout.cu: dropout_forward_{f32,f64}(x, mask, timeRow, rows, width, hidden, layer, seed, stream, p, scale)
    private void dropoutForward(CudaKernel k, DType t, DevicePointer x, DevicePointer mask, DevicePointer timeRow, int rows, int width,
                                int hidden, int layer, long seed, long stream, double p, double scale) {
        long n = (long) rows * width;
        View xs = view(k, "x", x, t), m = view(k, "mask", mask, t), time = view(k, "timeRow", timeRow, DType.I32);
        boolean f32 = t == DType.F32;
        int k0 = (int) seed, k1 = (int) (seed >>> 32);
        for (long i = 0; i < n; i++) {
            long r = i / width;
            int c = (int) (i - r * width);
            int row = (int) time.get(r);
            if (row < 0) {
                m.set(i, 0.0);
                continue;
            }
            int direction = c / hidden, e = c - direction * hidden;
            int word = Philox.word(e >> 2, row, 2 * layer + direction, (int) stream, k0, k1, e & 3);
            double keep = Philox.uniform(word) >= p ? scale : 0.0;
            m.set(i, keep);
            xs.set(i, mul(f32, xs.get(i), keep));
        }
    }

    // dropout.cu: dropout_backward_{f32,f64}(grad, mask, count)
    private void dropoutBackward(CudaKernel k, DType t, DevicePointer grad, DevicePointer mask, long count) {
        View g = view(k, "grad", grad, t), m = view(k, "mask", mask, t);
        boolean f32 = t == DType.F32;
        for (long i = 0; i < count; i++) g.set(i, mul(f32, g.get(i), m.get(i)));
    }

    // packing.cu: sum_rows_{f32,f64}(dst, a, b, aliveRows, slotRows, width)
    private void sumRows(CudaKernel k, DType t, DevicePointer dst, DevicePointer a, DevicePointer b, int aliveRows, int slotRows, int width) {
        long alive = (long) aliveRows * width, n = (long) slotRows * width;
        View d = view(k, "dst", dst, t), x = view(k, "a", a, t), y = view(k, "b", b, t);
        boolean f32 = t == DType.F32;
        for (long i = 0; i < n; i++) d.set(i, i < alive ? round(f32, x.get(i) + y.get(i)) : 0.0);
    }

    // packing.cu: fill_{f32,f64}(dst, value, count)
    private void fill(CudaKernel k, DType t, DevicePointer dst, double value, long count) {
        View d = view(k, "dst", dst, t);
        for (long i = 0; i < count; i++) d.set(i, value);
    }

    // ---- training.cu. Every value is a double, rounded to T once when stored (View.set), as there;
    // products are plain Java products, which are never fused (the kernels' mul). exp and log are
    // StrictMath's where the kernel calls CUDA's libm. ----

    // training.cu: softmax_xent_{f32,f64}(logits, targets, rowLoss, rows, classes, gradScale)
    private void softmaxXent(CudaKernel k, DType t, DevicePointer logits, DevicePointer targets, DevicePointer rowLoss,
                             int rows, int classes, double gradScale) {
        View z = view(k, "logits", logits, t), target = view(k, "targets", targets, DType.I32), loss = view(k, "rowLoss", rowLoss, t);
        for (long r = 0; r < rows; r++) {
            long row = r * classes;
            int tc = (int) target.get(r);
            if (tc < 0) {
                for (int c = 0; c < classes; c++) z.set(row + c, 0.0);
                loss.set(r, 0.0);
                continue;
            }
            if (tc >= classes) {
                for (int c = 0; c < classes; c++) z.set(row + c, Double.NaN);
                loss.set(r, Double.NaN);
                continue;
            }
            double maxLogit = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) maxLogit = fmax(maxLogit, z.get(row + c));
            double shiftedTarget = z.get(row + tc) - maxLogit;
            double sum = 0.0;
            for (int c = 0; c < classes; c++) sum += StrictMath.exp(z.get(row + c) - maxLogit);
            loss.set(r, StrictMath.log(sum) - shiftedTarget);
            double inv = 1.0 / sum;
            for (int c = 0; c < classes; c++) {
                double e = StrictMath.exp(z.get(row + c) - maxLogit);
                z.set(row + c, gradScale * (e * inv - (c == tc ? 1.0 : 0.0)));
            }
        }
    }

    // C's fmax: a NaN argument is ignored (Math.max would return it).
    private static double fmax(double a, double b) {
        if (Double.isNaN(a)) return b;
        if (Double.isNaN(b)) return a;
        return Math.max(a, b);
    }

    // training.cu regularised: g + wd·p + l1·sign(p), each term only for a nonzero coefficient.
    private static double regularised(double g, double p, double weightDecay, double l1) {
        if (weightDecay != 0.0) g = g + weightDecay * p;
        if (l1 != 0.0) g = g + l1 * Math.signum(p); // signum_of: ±1, or p itself for ±0 and NaN
        return g;
    }

    // training.cu: sgd_step_{f32,f64}(param, grad, momentumBuffer, count, lr, momentum, dampening, weightDecay, l1,
    //                                 nesterov, firstStep)
    private void sgdStep(CudaKernel k, DType t, DevicePointer param, DevicePointer grad, DevicePointer momentumBuffer,
                         long count, double lr, double momentum, double dampening, double weightDecay, double l1,
                         int nesterov, int firstStep) {
        View p = view(k, "param", param, t), g = view(k, "grad", grad, t), buf = view(k, "momentumBuffer", momentumBuffer, t);
        for (long i = 0; i < count; i++) {
            double pv = p.get(i);
            double d = regularised(g.get(i), pv, weightDecay, l1);
            if (momentum != 0.0) {
                double b = firstStep != 0 ? d : momentum * buf.get(i) + (1.0 - dampening) * d;
                buf.set(i, b);
                d = nesterov != 0 ? d + momentum * b : b;
            }
            p.set(i, pv - lr * d);
        }
    }

    // training.cu: adam_step_{f32,f64}(param, grad, expAvg, expAvgSq, count, lr, beta1, beta2, eps, weightDecay, l1,
    //                                  biasCorrection1, biasCorrection2Sqrt)
    private void adamStep(CudaKernel k, DType t, DevicePointer param, DevicePointer grad, DevicePointer expAvg,
                          DevicePointer expAvgSq, long count, double lr, double beta1, double beta2, double eps,
                          double weightDecay, double l1, double biasCorrection1, double biasCorrection2Sqrt) {
        View p = view(k, "param", param, t), g = view(k, "grad", grad, t);
        View m1 = view(k, "expAvg", expAvg, t), m2 = view(k, "expAvgSq", expAvgSq, t);
        double stepSize = lr / biasCorrection1;
        for (long i = 0; i < count; i++) {
            double pv = p.get(i);
            double d = regularised(g.get(i), pv, weightDecay, l1);
            double m = beta1 * m1.get(i) + (1.0 - beta1) * d;
            double v = beta2 * m2.get(i) + (1.0 - beta2) * d * d;
            m1.set(i, m);
            m2.set(i, v);
            double denom = Math.sqrt(v) / biasCorrection2Sqrt + eps;
            p.set(i, pv - stepSize * (m / denom));
        }
    }

    // training.cu: sum_of_squares_{f32,f64}(x, count, out). Unlike the other kernels its threads
    // share data, so this follows the launch as the .cu runs it: each thread's grid-stride sum,
    // each block's tree in shared memory, and the blocks' atomicAdds in block order (one of the
    // orders a GPU may take).
    private void sumOfSquares(CudaKernel k, DType t, DevicePointer x, long count, DevicePointer out) {
        View in = view(k, "x", x, t), total = view(k, "out", out, DType.F64);
        int grid = CudaKernel.gridSize(count), block = CudaKernel.BLOCK_SIZE;
        long stride = (long) grid * block;
        double[] partial = new double[block];
        for (int b = 0; b < grid; b++) {
            for (int thread = 0; thread < block; thread++) {
                double s = 0.0;
                for (long i = (long) b * block + thread; i < count; i += stride) {
                    double v = in.get(i);
                    s += v * v;
                }
                partial[thread] = s;
            }
            for (int half = block / 2; half > 0; half /= 2) {
                for (int thread = 0; thread < half; thread++) partial[thread] += partial[thread + half];
            }
            total.set(0, total.get(0) + partial[0]);
        }
    }

    // training.cu: scale_{f32,f64}(x, count, alpha)
    private void scale(CudaKernel k, DType t, DevicePointer x, long count, double alpha) {
        View v = view(k, "x", x, t);
        for (long i = 0; i < count; i++) v.set(i, alpha * v.get(i));
    }

    // training.cu: clamp_{f32,f64}(x, count, lo, hi); NaN fails both comparisons and stays.
    private void clamp(CudaKernel k, DType t, DevicePointer x, long count, double lo, double hi) {
        View v = view(k, "x", x, t);
        for (long i = 0; i < count; i++) {
            double e = v.get(i);
            if (e < lo) v.set(i, lo);
            else if (e > hi) v.set(i, hi);
        }
    }

    // finite.cu: count_non_finite_{f32,f64}(x, n, count). The warps' partial counts are integers,
    // so their sum does not depend on the order; one add of the total stands for the atomics.
    private void countNonFinite(CudaKernel k, DType t, DevicePointer x, long n, DevicePointer count) {
        View in = view(k, "x", x, t), counter = view(k, "count", count, DType.I64);
        long nonFinite = 0;
        for (long i = 0; i < n; i++) {
            double v = in.get(i);
            double d = v - v; // is_non_finite: 0 for finite v, NaN for NaN and ±Inf (also for floats widened)
            if (d != d) nonFinite++;
        }
        counter.setLong(0, counter.getLong(0) + nonFinite);
    }

    private static double round(boolean f32, double v) {
        return f32 ? (double) (float) v : v;
    }

    private static DevicePointer ptr(CudaKernel k, Object[] args, int i) {
        Object a = args[i];
        if (a == null || a instanceof DevicePointer) return (DevicePointer) a;
        throw new EmulatedCudaException(k + ": argument " + i + " (" + k.parameters().get(i) + ") is a "
                + a.getClass().getSimpleName() + ", not a DevicePointer of this emulator");
    }

    private View view(CudaKernel k, String parameter, DevicePointer p, DType t) {
        String what = k + " " + parameter;
        if (p == null) return new View(what, null, 0, t);
        EmulatedCudaApi.Allocation a = device.resolve(what, p.address(), t, 0);
        return new View(what, a, EmulatedCudaApi.elementIndex(p.address(), t), t);
    }

    /** A kernel's view of one pointer argument: element i is at base + i, checked against the allocation. */
    private static final class View {
        private final String what;
        private final EmulatedCudaApi.Allocation allocation;
        private final long base;
        private final DType dtype;

        View(String what, EmulatedCudaApi.Allocation allocation, long base, DType dtype) {
            this.what = what;
            this.allocation = allocation;
            this.base = base;
            this.dtype = dtype;
        }

        boolean isNull() {
            return allocation == null;
        }

        private int index(long i) {
            if (allocation == null) throw new EmulatedCudaException(what + ": the kernel dereferences a NULL pointer");
            if (allocation.freed) throw new EmulatedCudaException(what + ": use after free of " + allocation);
            long at = base + i;
            if (at < 0 || at >= allocation.elements) {
                throw new EmulatedCudaException(what + ": out of bounds: element " + i + " from the pointer is element " + at + " of " + allocation);
            }
            return (int) at;
        }

        double get(long i) {
            int at = index(i);
            switch (dtype) {
                case F64: return allocation.f64[at];
                case F32: return allocation.f32[at];
                case I32: return allocation.i32[at];
                default: throw new EmulatedCudaException(what + ": " + dtype + " memory is read with getLong");
            }
        }

        long getLong(long i) {
            if (dtype != DType.I64) throw new EmulatedCudaException(what + ": getLong on " + dtype + " memory");
            return allocation.i64[index(i)];
        }

        void setLong(long i, long v) {
            if (dtype != DType.I64) throw new EmulatedCudaException(what + ": setLong on " + dtype + " memory");
            allocation.i64[index(i)] = v;
        }

        void set(long i, double v) {
            int at = index(i);
            switch (dtype) {
                case F64: allocation.f64[at] = v; break;
                case F32: allocation.f32[at] = (float) v; break;
                case I32: allocation.i32[at] = (int) v; break;
                default: throw new EmulatedCudaException(what + ": " + dtype + " memory is written with setLong");
            }
        }
    }
}
