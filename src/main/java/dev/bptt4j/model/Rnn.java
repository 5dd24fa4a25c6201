package dev.bptt4j.model;

import dev.bptt4j.algo.BatchLayout;
import dev.bptt4j.algo.BufferPool;
import dev.bptt4j.algo.LayerWeights;
import dev.bptt4j.algo.StackBptt;
import dev.bptt4j.algo.WorkspaceLimits;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A recurrent stack with {@code torch.nn.RNN}, {@code torch.nn.LSTM} or {@code torch.nn.GRU}
 * semantics whose parameters and gradients live on a backend's device. Parameters are named,
 * shaped and gate-ordered as PyTorch's state_dict (LSTM i, f, g, o; GRU r, z, n). The LSTM also
 * takes c0 and returns cn, and its backward takes dcn and returns dL/dc0.
 *
 * <pre>{@code
 * try (Backend backend = Backends.create(Device.AUTO);
 *      Rnn rnn = new Rnn(RnnConfig.of(RnnMode.RNN_TANH, 8, 16).withLayers(2), backend)) {
 *     rnn.initialize(42);
 *     try (Rnn.Pass pass = rnn.forward(x, null, lengths)) {
 *         Tensor y = pass.output();
 *         Rnn.InputGradients g = pass.backward(dy, null);
 *     }
 *     Tensor dWhh = rnn.gradient("weight_hh_l0");
 * }
 * }</pre>
 *
 * <p>One forward pass is live at a time: a new forward invalidates the previous pass, whose
 * backward then fails with a clear message (the workspace is shared so that repeated steps do
 * not allocate).
 *
 * <p><b>Threads.</b> Not thread-safe: an {@code Rnn} and its {@link Backend} belong to one thread
 * at a time and are never shared. Independent models, each on its own backend, may train in
 * parallel threads and give bitwise the results they give one after another.
 *
 * <p><b>Finite check.</b> With {@link #setCheckFinite(boolean) setCheckFinite(true)} (or
 * {@code -Dbptt4j.checkFinite=true} when the model is built) every input is checked on the host
 * and every hidden/cell state, state gradient and parameter gradient on the device after each
 * step; the first NaN or ±Inf throws a {@link NonFiniteException} naming the tensor, layer,
 * direction and step. Off by default, and then it costs nothing.
 */
public final class Rnn implements AutoCloseable {
    private final RnnConfig config;
    private final Backend backend;
    private final List<ParameterSpec> specs;
    private final Map<String, ParameterSpec> specByName = new LinkedHashMap<>();
    private final Map<String, DeviceBuffer> parameters = new LinkedHashMap<>();
    private final Map<String, DeviceBuffer> gradients = new LinkedHashMap<>();
    private final BufferPool workspace;
    private final StackBptt algorithm;
    private long generation;
    private boolean checkFinite;
    private boolean closed;

    public Rnn(RnnConfig config, Backend backend) {
        this.config = config;
        this.backend = backend;
        this.specs = config.parameters();
        this.workspace = new BufferPool(backend);
        try {
            for (ParameterSpec s : specs) {
                specByName.put(s.name(), s);
                parameters.put(s.name(), backend.allocate(config.dtype(), s.elements()));
                gradients.put(s.name(), backend.allocate(config.dtype(), s.elements()));
            }
            LayerWeights[][] layerWeights = new LayerWeights[config.numLayers()][config.directions()];
            for (int l = 0; l < config.numLayers(); l++) {
                for (int d = 0; d < config.directions(); d++) {
                    String sfx = RnnConfig.suffix(l, d);
                    layerWeights[l][d] = new LayerWeights(
                            parameters.get("weight_ih" + sfx), parameters.get("weight_hh" + sfx),
                            parameters.get("bias_ih" + sfx), parameters.get("bias_hh" + sfx),
                            gradients.get("weight_ih" + sfx), gradients.get("weight_hh" + sfx),
                            gradients.get("bias_ih" + sfx), gradients.get("bias_hh" + sfx));
                }
            }
            this.algorithm = new StackBptt(config, backend, layerWeights, workspace);
            setCheckFinite(Boolean.getBoolean("bptt4j.checkFinite"));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Reuse of the host result tensors: when on, {@code forward} and {@code backward} return the
     * same y, hn (cn) and dL/dx, dL/dh0 (dL/dc0) tensors call after call, each overwritten by the
     * next call with that shape, so a warmed-up training loop allocates almost nothing on the Java
     * heap (the default returns fresh tensors, which a step of 100×64×256 spends 13 MB on). Copy
     * a result before the next call if it must survive it.
     */
    public void setReuseResults(boolean on) {
        checkOpen();
        algorithm.setReuseResults(on);
    }

    /** Turns the NaN/Inf check of inputs, activations and gradients on or off (see the class comment). */
    public void setCheckFinite(boolean on) {
        checkFinite = on;
        algorithm.setCheckFinite(on);
    }

    public boolean checksFinite() {
        return checkFinite;
    }

    public RnnConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /** Parameter names in PyTorch's state_dict order. */
    public List<String> parameterNames() {
        return List.copyOf(specByName.keySet());
    }

    public int[] parameterShape(String name) {
        return spec(name).shape().clone();
    }

    private ParameterSpec spec(String name) {
        ParameterSpec s = specByName.get(name);
        if (s == null) {
            throw new IllegalArgumentException("parameter '" + name + "': no such parameter; this stack has " + specByName.keySet());
        }
        return s;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the Rnn has been closed");
    }

    /** PyTorch's default initialisation distribution, U(−1/√H, 1/√H), from a seeded generator. */
    public void initialize(long seed) {
        checkOpen();
        SplittableRandom random = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(config.hiddenSize());
        for (ParameterSpec s : specs) {
            Tensor t = Tensor.zeros(DType.F64, s.shape());
            double[] v = t.f64();
            for (int i = 0; i < v.length; i++) v[i] = (random.nextDouble() * 2 - 1) * bound;
            setParameter(s.name(), t.to(config.dtype()));
        }
        zeroGrad();
    }

    /** Copies a host tensor into a parameter; the shape must match and the dtype is converted. */
    public void setParameter(String name, Tensor value) {
        checkOpen();
        ParameterSpec s = spec(name);
        if (!Arrays.equals(s.shape(), value.shape())) {
            throw new IllegalArgumentException("parameter '" + name + "': expected shape " + Arrays.toString(s.shape())
                    + ", got " + Arrays.toString(value.shape()));
        }
        if (!value.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("parameter '" + name + "': expected a floating-point tensor, got " + value.dtype());
        }
        backend.upload(value.dtype() == config.dtype() ? value : value.to(config.dtype()), parameters.get(name), 0);
    }

    public Tensor parameter(String name) {
        checkOpen();
        return backend.download(parameters.get(spec(name).name()), 0, spec(name).shape());
    }

    /** The accumulated gradient of a parameter since the last {@link #zeroGrad()}. */
    public Tensor gradient(String name) {
        checkOpen();
        return backend.download(gradients.get(spec(name).name()), 0, spec(name).shape());
    }

    /** Every parameter by PyTorch name, in state_dict order. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String n : specByName.keySet()) out.put(n, parameter(n));
        return out;
    }

    /** Every gradient by parameter name. */
    public Map<String, Tensor> gradients() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String n : specByName.keySet()) out.put(n, gradient(n));
        return out;
    }

    /**
     * Loads every parameter by PyTorch name. With {@code strict}, missing or unexpected names are
     * an error (as {@code load_state_dict(strict=True)}); otherwise extra entries are ignored but
     * missing ones are still an error.
     */
    public void loadStateDict(Map<String, Tensor> state, boolean strict) {
        for (String n : specByName.keySet()) {
            if (!state.containsKey(n)) throw new IllegalArgumentException("state dict: missing parameter '" + n + "'");
        }
        if (strict) {
            for (String n : state.keySet()) {
                if (!specByName.containsKey(n)) {
                    throw new IllegalArgumentException("state dict: unexpected entry '" + n + "' for a stack with " + specByName.keySet());
                }
            }
        }
        for (String n : specByName.keySet()) setParameter(n, state.get(n));
    }

    /**
     * Saves every parameter to a safetensors file under its PyTorch name, with the configuration
     * in {@code __metadata__}; {@code safetensors.torch.load_file} plus {@code load_state_dict}
     * reads it back into a {@code torch.nn.RNN}.
     */
    public void save(java.nio.file.Path path) throws java.io.IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("mode", config.mode().name());
        meta.put("input_size", Integer.toString(config.inputSize()));
        meta.put("hidden_size", Integer.toString(config.hiddenSize()));
        meta.put("num_layers", Integer.toString(config.numLayers()));
        meta.put("bidirectional", Boolean.toString(config.bidirectional()));
        meta.put("bias", Boolean.toString(config.bias()));
        meta.put("dtype", config.dtype().safetensorsName());
        if (config.residual()) meta.put("residual", "true");
        dev.bptt4j.io.SafeTensors.write(path, stateDict(), meta);
    }

    /**
     * Loads parameters saved by {@link #save} or by PyTorch ({@code safetensors.torch.save_file(rnn.state_dict())}):
     * every parameter must be present with its shape; extra tensors are an error.
     */
    public void load(java.nio.file.Path path) throws java.io.IOException {
        loadStateDict(dev.bptt4j.io.SafeTensors.read(path).tensors(), true);
    }

    /** Device buffers of the parameters and their gradients, for optimisers running on the device. */
    public Map<String, DeviceBuffer> parameterBuffers() {
        return java.util.Collections.unmodifiableMap(parameters);
    }

    public Map<String, DeviceBuffer> gradientBuffers() {
        return java.util.Collections.unmodifiableMap(gradients);
    }

    public void zeroGrad() {
        checkOpen();
        for (DeviceBuffer g : gradients.values()) backend.fill(g, 0, g.elements(), 0.0);
    }

    /** Bytes of workspace currently held (activations and scratch), for memory reports. */
    public long workspaceBytes() {
        return workspace.heldBytes();
    }

    /**
     * Forward over a padded, time-major batch.
     *
     * @param x       (T, B, I) in the stack's dtype
     * @param h0      (L·D, B, H) or null for zeros
     * @param lengths each sequence's length in 1..T, or null when all are T
     */
    public Pass forward(Tensor x, Tensor h0, int[] lengths) {
        return forward(x, h0, null, lengths);
    }

    /**
     * Forward with an initial cell state (LSTM only).
     *
     * @param c0 (L·D, B, H) or null for zeros; must be null for cells without a cell state
     */
    public Pass forward(Tensor x, Tensor h0, Tensor c0, int[] lengths) {
        checkOpen();
        InputChecks.requireShape("x", x, config.dtype(), -1, -1, config.inputSize());
        int steps = x.dim(0), batch = x.dim(1);
        if (steps < 1) throw new IllegalArgumentException("x: sequence length T (dim 0) must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("x: batch size B (dim 1) must be >= 1, got " + batch);
        checkStates("h0", h0, "c0", c0, batch, "initial");
        BatchLayout layout = BatchLayout.of(steps, batch, lengths);
        WorkspaceLimits.check(config, layout, backend);
        if (checkFinite) InputChecks.requireFinite("input x", x, null);
        generation++;
        StackBptt.Outputs out = algorithm.forward(x, h0, c0, layout);
        return new Pass(generation, layout, out, null);
    }

    /**
     * Forward that leaves y and hn on the device, for a loss computed there (dev.bptt4j.train):
     * {@link Pass#outputBuffer()} is y, {@link Pass#backwardOnDevice} takes dy from a device
     * buffer; {@link Pass#output()} and {@link Pass#finalHidden()} download on first use. An LSTM
     * starts from c0 = 0 on this path.
     */
    public Pass forwardOnDevice(Tensor x, Tensor h0, int[] lengths) {
        checkOpen();
        InputChecks.requireShape("x", x, config.dtype(), -1, -1, config.inputSize());
        int steps = x.dim(0), batch = x.dim(1);
        if (steps < 1) throw new IllegalArgumentException("x: sequence length T (dim 0) must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("x: batch size B (dim 1) must be >= 1, got " + batch);
        checkStates("h0", h0, "c0", null, batch, "initial");
        BatchLayout layout = BatchLayout.of(steps, batch, lengths);
        generation++;
        algorithm.forwardOnDevice(x, h0, null, layout);
        return new Pass(generation, layout, null, null);
    }

    /**
     * Forward of x already on the device: (T, B, I) padded, row t·B + b, in a buffer of this
     * Rnn's backend and dtype from element {@code x.offset()}. Nothing crosses to the host: x is
     * read in place (with every sequence of length T, also by the backward's dW_ih, so it must
     * stay open and unchanged until this pass's backward), y is {@link Pass#outputOnDevice()}
     * and the backward is {@link Pass#backwardOnDevice(DeviceSlice, Tensor, Tensor, DeviceSlice)}.
     * {@link Pass#output()}, {@link Pass#finalHidden()} and {@link Pass#finalCell()} still
     * download on first use.
     *
     * @param c0 (L·D, B, H) or null for zeros; must be null for cells without a cell state
     */
    public Pass forwardOnDevice(DeviceSlice x, int steps, int batch, Tensor h0, Tensor c0, int[] lengths) {
        checkOpen();
        if (x == null) throw new IllegalArgumentException("x: device slice is null");
        if (steps < 1) throw new IllegalArgumentException("x: sequence length T must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("x: batch size B must be >= 1, got " + batch);
        requireSlice("x", x, (long) steps * batch * config.inputSize(), "(" + steps + ", " + batch + ", " + config.inputSize() + ")");
        checkStates("h0", h0, "c0", c0, batch, "initial");
        BatchLayout layout = BatchLayout.of(steps, batch, lengths);
        WorkspaceLimits.check(config, layout, backend);
        generation++;
        algorithm.forwardOnDevice(x, h0, c0, layout);
        return new Pass(generation, layout, null, x);
    }

    /**
     * Checks a pair of per-state tensors, (L·D, B, H) each or null: h0 and c0 ("initial") or dhn
     * and dcn ("final"); the cell one only for a cell with a cell state; finite when the check is on.
     */
    private void checkStates(String hiddenName, Tensor hidden, String cellName, Tensor cell, int batch, String which) {
        int states = config.numLayers() * config.directions();
        if (hidden != null) InputChecks.requireShape(hiddenName, hidden, config.dtype(), states, batch, config.hiddenSize());
        if (cell != null) {
            if (!algorithm.hasCellState()) throw new IllegalArgumentException(cellName + ": " + config.mode() + " has no cell state; pass null");
            InputChecks.requireShape(cellName, cell, config.dtype(), states, batch, config.hiddenSize());
        }
        if (checkFinite) {
            boolean gradients = which.equals("final");
            InputChecks.requireFinite(which + " hidden state" + (gradients ? " gradient " : " ") + hiddenName, hidden, null);
            InputChecks.requireFinite(which + " cell state" + (gradients ? " gradient " : " ") + cellName, cell, null);
        }
    }

    /** A device slice of this Rnn's dtype, open, holding {@code need} elements from its offset. */
    private void requireSlice(String name, DeviceSlice s, long need, String shape) {
        DeviceBuffer b = s.buffer();
        if (b.isClosed()) throw new IllegalStateException(name + ": the device buffer is closed");
        if (b.dtype() != config.dtype()) {
            throw new IllegalArgumentException(name + ": expected a " + config.dtype() + " buffer, got " + b.dtype());
        }
        if (s.offset() + need > b.elements()) {
            throw new IllegalArgumentException(name + ": " + shape + " needs " + need + " elements from offset " + s.offset()
                    + ", the buffer holds " + b.elements());
        }
    }

    /**
     * Observes dL/dh carried back through the recurrence at every step of each backward (see
     * {@link StackBptt.CarryObserver}); null removes it. Costs a host sync per step while set.
     */
    public void setCarryObserver(StackBptt.CarryObserver observer) {
        algorithm.setCarryObserver(observer);
    }

    /** Loads lengths given as I64 (the case files' dtype) after range checks. */
    public static int[] lengthsFrom(Tensor lengths) {
        if (lengths == null) return null;
        if (lengths.rank() != 1) throw new IllegalArgumentException("lengths: expected a 1-D tensor, got shape " + Arrays.toString(lengths.shape()));
        int[] out = new int[lengths.size()];
        for (int i = 0; i < out.length; i++) {
            double v = lengths.getDouble(i);
            if (v != Math.rint(v) || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("lengths[" + i + "]: expected an integer, got " + v);
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** Gradients of the inputs of a pass; {@code initialCell} (dL/dc0) is null except for the LSTM. */
    public record InputGradients(Tensor input, Tensor initialHidden, Tensor initialCell) {
        public InputGradients(Tensor input, Tensor initialHidden) {
            this(input, initialHidden, null);
        }
    }

    /** One forward pass: its outputs, and its backward. */
    public final class Pass implements AutoCloseable {
        private final long id;
        private final BatchLayout layout;
        private StackBptt.Outputs outputs;
        private boolean used;
        /** x of {@link #forwardOnDevice(DeviceSlice, int, int, Tensor, Tensor, int[])}, read again by the backward; else null. */
        private final DeviceSlice deviceInput;

        private Pass(long id, BatchLayout layout, StackBptt.Outputs outputs, DeviceSlice deviceInput) {
            this.id = id;
            this.layout = layout;
            this.outputs = outputs;
            this.deviceInput = deviceInput;
        }

        /** y: (T, B, D·H), zero past each sequence's length. */
        public Tensor output() {
            return outputs().output();
        }

        /** hn: (L·D, B, H), each sequence's state after its own last step. */
        public Tensor finalHidden() {
            return outputs().finalHidden();
        }

        private StackBptt.Outputs outputs() {
            if (outputs == null) {
                checkCurrent("output");
                int dirs = config.directions(), h = config.hiddenSize();
                outputs = new StackBptt.Outputs(
                        backend.download(algorithm.paddedOutput(), 0, layout.steps(), layout.batch(), dirs * h),
                        backend.download(algorithm.paddedFinalHidden(), 0, config.numLayers() * dirs, layout.batch(), h),
                        config.mode().gates() == 4
                                ? backend.download(algorithm.paddedFinalCell(), 0, config.numLayers() * dirs, layout.batch(), h) : null);
            }
            return outputs;
        }

        private void checkCurrent(String what) {
            checkOpen();
            if (id != generation) throw new IllegalStateException(what + ": a newer forward pass has replaced this one on the same Rnn");
        }

        /** y of this pass on the device, (T·B) rows of D·H (row t·B + b), valid until the next forward. */
        public DeviceBuffer outputBuffer() {
            checkCurrent("outputBuffer");
            return algorithm.paddedOutput();
        }

        /**
         * y on the device, (T, B, D·H) padded from the slice's offset, without a copy when every
         * sequence has length T and there is one direction (y is then the top layer's stored
         * states; otherwise it is gathered once). Read-only: the backward reads the states. Valid
         * until the next forward.
         */
        public DeviceSlice outputOnDevice() {
            checkCurrent("outputOnDevice");
            return algorithm.outputInPlace();
        }

        /**
         * Backward with dy on the device and dL/dx written to the device: dy (T, B, D·H) padded
         * from {@code dy.offset()} (read only; rows past a sequence's length are ignored) and dL/dx
         * (T, B, I) into {@code inputGradient} from its offset (zero past the lengths), or not
         * formed when it is null. Accumulates the parameter gradients; returns dL/dh0 (and dL/dc0)
         * as host tensors, with {@code input} null. dL/dx must not overlap dy or the pass's x.
         *
         * @param dhn (L·D, B, H) or null for zeros
         * @param dcn (L·D, B, H) or null for zeros; LSTM only
         */
        public InputGradients backwardOnDevice(DeviceSlice dy, Tensor dhn, Tensor dcn, DeviceSlice inputGradient) {
            checkCurrent("backward");
            if (used) throw new IllegalStateException("backward: this pass has already been differentiated");
            if (dy == null) throw new IllegalArgumentException("dy: device slice is null");
            int steps = layout.steps(), batch = layout.batch();
            long dyElements = (long) steps * batch * config.directions() * config.hiddenSize();
            requireSlice("dy", dy, dyElements, "(" + steps + ", " + batch + ", " + config.directions() * config.hiddenSize() + ")");
            long dxElements = (long) steps * batch * config.inputSize();
            if (inputGradient != null) {
                requireSlice("dL/dx", inputGradient, dxElements, "(" + steps + ", " + batch + ", " + config.inputSize() + ")");
                requireApart("dL/dx", inputGradient, dxElements, "dy", dy, dyElements);
                if (deviceInput != null) requireApart("dL/dx", inputGradient, dxElements, "x", deviceInput, dxElements);
            }
            requireInputOpen();
            checkStates("dhn", dhn, "dcn", dcn, batch, "final");
            used = true;
            StackBptt.InputGradients g = algorithm.backwardOnDevice(dy, dhn, dcn, inputGradient);
            return new InputGradients(null, g.initialHidden(), g.initialCell());
        }

        private void requireInputOpen() {
            if (deviceInput != null && deviceInput.buffer().isClosed()) {
                throw new IllegalStateException("x: the device buffer given to forwardOnDevice was closed before backward");
            }
        }

        private void requireApart(String name, DeviceSlice a, long aCount, String otherName, DeviceSlice b, long bCount) {
            if (a.buffer() == b.buffer() && a.offset() < b.offset() + bCount && b.offset() < a.offset() + aCount) {
                throw new IllegalArgumentException(name + ": elements [" + a.offset() + ", " + (a.offset() + aCount) + ") overlap "
                        + otherName + " at [" + b.offset() + ", " + (b.offset() + bCount) + ") of the same buffer");
            }
        }

        /**
         * {@link #backward(Tensor, Tensor, boolean)} with dy, (T, B, D·H), read from a device buffer
         * of this Rnn's dtype at element {@code dyOffset}; rows past a sequence's length are ignored.
         */
        public InputGradients backwardOnDevice(DeviceBuffer dy, long dyOffset, Tensor dhn, boolean inputGradient) {
            checkCurrent("backward");
            if (used) throw new IllegalStateException("backward: this pass has already been differentiated");
            long need = (long) layout.steps() * layout.batch() * config.directions() * config.hiddenSize();
            if (dy.dtype() != config.dtype() || dyOffset < 0 || dyOffset + need > dy.elements()) {
                throw new IllegalArgumentException("dy: expected a " + config.dtype() + " buffer with " + need + " elements from offset "
                        + dyOffset + ", got " + dy.dtype() + " of " + dy.elements());
            }
            if (dhn != null) {
                InputChecks.requireShape("dhn", dhn, config.dtype(), config.numLayers() * config.directions(), layout.batch(), config.hiddenSize());
            }
            requireInputOpen();
            used = true;
            StackBptt.InputGradients g = algorithm.backwardOnDevice(dy, dyOffset, dhn, null, inputGradient);
            return new InputGradients(g.input(), g.initialHidden(), g.initialCell());
        }

        /** cn: (L·D, B, H), each sequence's cell state after its own last step (LSTM); null for other cells. */
        public Tensor finalCell() {
            return outputs().finalCell();
        }

        public BatchLayout layout() {
            return layout;
        }

        /** Backward with dL/dx; see {@link #backward(Tensor, Tensor, boolean)}. */
        public InputGradients backward(Tensor dy, Tensor dhn) {
            return backward(dy, dhn, true);
        }

        /**
         * Backpropagates {@code dy} (T, B, D·H) and {@code dhn} (L·D, B, H, or null for zeros),
         * accumulating every parameter's gradient, and returns the gradients of x (null unless
         * {@code inputGradient}) and of h0. Values of dy at padded positions are ignored.
         */
        public InputGradients backward(Tensor dy, Tensor dhn, boolean inputGradient) {
            return backward(dy, dhn, null, inputGradient);
        }

        /**
         * Backward with the upstream gradient of cn as well ({@code dcn} (L·D, B, H), or null for
         * zeros; LSTM only). The returned gradients include dL/dc0 for the LSTM.
         */
        public InputGradients backward(Tensor dy, Tensor dhn, Tensor dcn, boolean inputGradient) {
            checkOpen();
            if (used) throw new IllegalStateException("backward: this pass has already been differentiated");
            if (id != generation) throw new IllegalStateException("backward: a newer forward pass has replaced this one on the same Rnn");
            int steps = layout.steps(), batch = layout.batch();
            InputChecks.requireShape("dy", dy, config.dtype(), steps, batch, config.directions() * config.hiddenSize());
            checkStates("dhn", dhn, "dcn", dcn, batch, "final");
            if (checkFinite) InputChecks.requireFinite("output gradient dy", dy, layout);
            requireInputOpen();
            used = true;
            StackBptt.InputGradients g = algorithm.backward(dy, dhn, dcn, inputGradient);
            return new InputGradients(g.input(), g.initialHidden(), g.initialCell());
        }

        @Override
        public void close() {
            used = true;
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        workspace.close();
        for (DeviceBuffer b : parameters.values()) b.close();
        for (DeviceBuffer b : gradients.values()) b.close();
    }
}
