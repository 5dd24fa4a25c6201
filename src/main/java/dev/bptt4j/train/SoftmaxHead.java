package dev.bptt4j.train;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The output layer and loss of a sequence classifier or language model: logits
 * {@code o_t = V·h_t + c} ({@code torch.nn.Linear(H, C)}: weight V (C, H), bias c (C)), softmax, and
 * cross-entropy against a class id per step, {@code L = Σ_t L_t} averaged over the batch
 * ({@link Reduction#MEAN}) or summed. A target of −1 masks a row (padding past a sequence's
 * length, or steps with nothing to predict).
 *
 * <p>Batched over time like the recurrence: the logits of all T·B rows are one GEMM, the softmax,
 * loss and {@code ∂L/∂o = scale·(ŷ − onehot(y))} one fused kernel
 * ({@link dev.bptt4j.backend.TrainingOps#softmaxCrossEntropy}), and the backward three GEMMs: {@code dV += (ŷ−y)ᵀ·h},
 * {@code dc += 1ᵀ·(ŷ−y)}, {@code dh = (ŷ−y)·V}. The loss is reduced on the device (one GEMM against
 * ones) and read back as one number. Parameter gradients accumulate until {@link #zeroGrad()};
 * dh is assigned.
 */
public final class SoftmaxHead implements AutoCloseable {
    private final Backend backend;
    private final int hidden, classes;
    private final DType dtype;
    private final DeviceBuffer weight, bias, gradWeight, gradBias;
    private DeviceBuffer logits, targets, rowLoss, ones, lossSum, hiddenGrad;
    private DeviceSlice lastInput;
    private int lastRows;
    private boolean backwardPending;

    public SoftmaxHead(Backend backend, int hiddenSize, int classes, DType dtype) {
        if (hiddenSize < 1) throw new IllegalArgumentException("hiddenSize: expected >= 1, got " + hiddenSize);
        if (classes < 1) throw new IllegalArgumentException("classes: expected >= 1, got " + classes);
        if (dtype == null || !dtype.isFloatingPoint()) throw new IllegalArgumentException("dtype: expected F32 or F64, got " + dtype);
        this.backend = backend;
        this.hidden = hiddenSize;
        this.classes = classes;
        this.dtype = dtype;
        weight = backend.allocate(dtype, (long) classes * hiddenSize);
        bias = backend.allocate(dtype, classes);
        gradWeight = backend.allocate(dtype, (long) classes * hiddenSize);
        gradBias = backend.allocate(dtype, classes);
    }

    public int classes() {
        return classes;
    }

    public int hiddenSize() {
        return hidden;
    }

    /** {@code torch.nn.Linear}'s default initialisation: weight and bias from U(−1/√H, 1/√H). */
    public void initialize(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(hidden);
        Tensor w = Tensor.zeros(DType.F64, classes, hidden), b = Tensor.zeros(DType.F64, classes);
        for (int i = 0; i < w.size(); i++) w.setDouble(i, (random.nextDouble() * 2 - 1) * bound);
        for (int i = 0; i < b.size(); i++) b.setDouble(i, (random.nextDouble() * 2 - 1) * bound);
        setParameter("weight", w);
        setParameter("bias", b);
        zeroGrad();
    }

    private DeviceBuffer buffer(String name, boolean gradient) {
        switch (name) {
            case "weight": return gradient ? gradWeight : weight;
            case "bias": return gradient ? gradBias : bias;
            default: throw new IllegalArgumentException("head parameter '" + name + "': expected weight or bias");
        }
    }

    private int[] shape(String name) {
        return name.equals("weight") ? new int[]{classes, hidden} : new int[]{classes};
    }

    public void setParameter(String name, Tensor value) {
        DeviceBuffer b = buffer(name, false);
        if (!Arrays.equals(shape(name), value.shape())) {
            throw new IllegalArgumentException("head " + name + ": expected shape " + Arrays.toString(shape(name)) + ", got " + Arrays.toString(value.shape()));
        }
        backend.upload(value.dtype() == dtype ? value : value.to(dtype), DeviceSlice.of(b));
    }

    public Tensor parameter(String name) {
        return backend.download(DeviceSlice.of(buffer(name, false)), shape(name));
    }

    public Tensor gradient(String name) {
        return backend.download(DeviceSlice.of(buffer(name, true)), shape(name));
    }

    /** {@code weight} (C, H) and {@code bias} (C), the names of {@code torch.nn.Linear}'s state_dict. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", parameter("weight"));
        m.put("bias", parameter("bias"));
        return m;
    }

    public Map<String, DeviceBuffer> parameterBuffers() {
        Map<String, DeviceBuffer> m = new LinkedHashMap<>();
        m.put("weight", weight);
        m.put("bias", bias);
        return m;
    }

    public Map<String, DeviceBuffer> gradientBuffers() {
        Map<String, DeviceBuffer> m = new LinkedHashMap<>();
        m.put("weight", gradWeight);
        m.put("bias", gradBias);
        return m;
    }

    public void zeroGrad() {
        Packing.fill(backend, DeviceSlice.of(gradWeight), gradWeight.elements(), 0.0);
        Packing.fill(backend, DeviceSlice.of(gradBias), gradBias.elements(), 0.0);
    }

    private DeviceBuffer grow(DeviceBuffer b, DType t, long n) {
        if (b != null && b.elements() >= n) return b;
        if (b != null) b.close();
        return backend.allocate(t, Math.max(1, n));
    }

    /**
     * Logits, softmax and cross-entropy of {@code rows} hidden rows (H wide) from a device slice,
     * e.g. {@code pass.outputOnDevice()} (y where the RNN keeps it, no copy), rows in the order
     * t·B + b. Returns L; keeps ∂L/∂o for {@link #backward}, so the rows must stay unchanged until then.
     *
     * @param targets I32, {@code rows} class ids in the rows' order, −1 for masked rows
     * @param batch   B, the divisor of {@link Reduction#MEAN}
     */
    public double forward(DeviceSlice hiddenRows, int rows, Tensor targets, int batch, Reduction reduction) {
        if (targets.dtype() != DType.I32 || targets.size() != rows) {
            throw new IllegalArgumentException("targets: expected " + rows + " I32 class ids, got " + targets);
        }
        DeviceBuffer in = hiddenRows.buffer();
        if (in.dtype() != dtype || hiddenRows.offset() + (long) rows * hidden > in.elements()) {
            throw new IllegalArgumentException("hidden rows: expected a " + dtype + " buffer of >= " + (long) rows * hidden
                    + " elements from offset " + hiddenRows.offset() + ", got " + in.dtype() + " of " + in.elements());
        }
        for (int i = 0; i < rows; i++) {
            int t = targets.i32()[i];
            if (t < -1 || t >= classes) throw new IllegalArgumentException("targets[" + i + "]: expected -1..." + (classes - 1) + ", got " + t);
        }
        double scale = reduction == Reduction.MEAN ? 1.0 / batch : 1.0;
        logits = grow(logits, dtype, (long) rows * classes);
        this.targets = grow(this.targets, DType.I32, rows);
        rowLoss = grow(rowLoss, dtype, rows);
        if (ones == null || ones.elements() < rows) {
            ones = grow(ones, dtype, rows);
            Packing.fill(backend, DeviceSlice.of(ones), ones.elements(), 1.0);
        }
        lossSum = grow(lossSum, dtype, 1);
        DeviceSlice z = DeviceSlice.of(logits), one = DeviceSlice.of(ones), losses = DeviceSlice.of(rowLoss), sum = DeviceSlice.of(lossSum);
        backend.upload(targets, DeviceSlice.of(this.targets));
        backend.gemm(false, true, rows, classes, hidden, 1.0, hiddenRows, hidden, DeviceSlice.of(weight), hidden, 0.0, z, classes);
        backend.gemm(false, false, rows, classes, 1, 1.0, one, 1, DeviceSlice.of(bias), classes, 1.0, z, classes);
        backend.training().softmaxCrossEntropy(z, DeviceSlice.of(this.targets), losses, rows, classes, scale);
        backend.gemm(false, false, 1, 1, rows, scale, one, rows, losses, 1, 0.0, sum, 1);
        lastInput = hiddenRows;
        lastRows = rows;
        backwardPending = true;
        return backend.download(sum, 1).getDouble(0);
    }

    /**
     * Accumulates dV and dc of the last {@link #forward} and returns dL/dh as a device slice of
     * rows × H (valid until the next call), to pass to {@code Rnn.Pass.backwardOnDevice}.
     */
    public DeviceSlice backward() {
        if (!backwardPending) throw new IllegalStateException("head backward: no forward to differentiate");
        backwardPending = false;
        int rows = lastRows;
        hiddenGrad = grow(hiddenGrad, dtype, (long) rows * hidden);
        DeviceSlice z = DeviceSlice.of(logits), dh = DeviceSlice.of(hiddenGrad);
        backend.gemm(true, false, classes, hidden, rows, 1.0, z, classes, lastInput, hidden, 1.0, DeviceSlice.of(gradWeight), hidden);
        backend.gemm(false, false, 1, classes, rows, 1.0, DeviceSlice.of(ones), rows, z, classes, 1.0, DeviceSlice.of(gradBias), classes);
        backend.gemm(false, false, rows, hidden, classes, 1.0, z, classes, DeviceSlice.of(weight), hidden, 0.0, dh, hidden);
        return dh;
    }

    /** Logits of host hidden rows (n, H) → (n, C), computed on the host in double; for sampling and reports. */
    public double[] logitsOf(double[] hiddenRow) {
        double[] w = parameter("weight").toDoubleArray(), b = parameter("bias").toDoubleArray();
        double[] out = new double[classes];
        for (int c = 0; c < classes; c++) {
            double s = b[c];
            for (int j = 0; j < hidden; j++) s += w[c * hidden + j] * hiddenRow[j];
            out[c] = s;
        }
        return out;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[]{weight, bias, gradWeight, gradBias, logits, targets, rowLoss, ones, lossSum, hiddenGrad}) {
            if (b != null) b.close();
        }
    }
}
