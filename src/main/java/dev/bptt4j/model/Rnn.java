package dev.bptt4j.model;

import dev.bptt4j.algo.BufferPool;
import dev.bptt4j.algo.LayerParameters;
import dev.bptt4j.algo.StackBptt;
import dev.bptt4j.algo.StepwiseForward;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.Packing;
import dev.bptt4j.cell.Cell;
import dev.bptt4j.cell.StateSpec;
import dev.bptt4j.cell.States;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A recurrent stack with {@code torch.nn.RNN}, {@code torch.nn.LSTM} or {@code torch.nn.GRU}
 * semantics whose parameters and gradients live on a backend's device. Parameters are named,
 * shaped and gate-ordered as PyTorch's state_dict (LSTM i, f, g, o; GRU r, z, n). A cell's states
 * (h; h and c for the LSTM) travel together as one {@link States} value: every forward takes all
 * initial states and gives all final ones, and every backward takes the gradients of all final
 * states and gives those of all initial ones.
 *
 * <pre>{@code
 * try (Backend backend = Backends.create("auto");
 *      Rnn rnn = new Rnn(RnnConfig.of(RnnMode.LSTM, 8, 16).withLayers(2), backend)) {
 *     rnn.initialize(42);
 *     try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, lengths)) {
 *         Tensor y = pass.output();
 *         States last = pass.finalStates();                 // hn, cn
 *         Rnn.InputGradients g = pass.backward(dy, States.ZEROS);
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
 * and every state, state gradient and parameter gradient on the device after each step; the first
 * NaN or ±Inf throws a {@link dev.bptt4j.algo.NonFiniteException} naming the tensor, layer,
 * direction and step. Off by default, and then it costs nothing.
 */
public final class Rnn implements AutoCloseable {
    private final RnnConfig config;
    private final Cell cell;
    private final Backend backend;
    private final List<ParameterSpec> specs;
    private final Map<String, ParameterSpec> specByName = new LinkedHashMap<>();
    private final Map<String, DeviceBuffer> parameters = new LinkedHashMap<>();
    private final Map<String, DeviceBuffer> gradients = new LinkedHashMap<>();
    private final BufferPool workspace;
    private final StackBptt algorithm;
    private final LayerParameters[][] layerParameters;
    /** The step-wise forward of {@link #infer} and {@link Stream}, made on first use. */
    private StepwiseForward stepwise;
    private Stream openStream;
    /** Steps {@link #infer} moves to and from the device at a time: its memory is bounded by this, not by T. */
    static final int INFER_CHUNK = 256;
    private long generation;
    private static final java.util.concurrent.atomic.AtomicBoolean ONE_LAYER_DROPOUT_WARNED = new java.util.concurrent.atomic.AtomicBoolean();
    private boolean checkFinite;
    private boolean closed;

    /**
     * Sees dL/dh carried back through the recurrence at every step of each backward (for
     * diagnostics): after step τ of layer {@code layer}, direction {@code direction}, {@code carry}
     * (alive(τ) × width of h, sequences sorted longest first) is dL/dh_{τ−1}.
     */
    @FunctionalInterface
    public interface CarryObserver {
        void afterStep(int layer, int direction, int tau, Tensor carry);
    }

    public Rnn(RnnConfig config, Backend backend) {
        if (config == null) throw new IllegalArgumentException("config: must not be null");
        if (backend == null) throw new IllegalArgumentException("backend: must not be null");
        if (backend.isClosed()) throw new IllegalStateException("backend: the " + backend.name() + " backend has been closed");
        this.config = config;
        this.cell = config.cell();
        this.backend = backend;
        this.specs = config.parameters();
        requireParametersFit(config, backend);
        this.workspace = new BufferPool(backend);
        try {
            LayerParameters[][] layers = new LayerParameters[config.numLayers()][config.directions()];
            for (int l = 0; l < config.numLayers(); l++) {
                for (int d = 0; d < config.directions(); d++) {
                    layers[l][d] = new LayerParameters(new DeviceSlice[cell.parameterSlots()], new DeviceSlice[cell.parameterSlots()]);
                }
            }
            for (ParameterSpec s : specs) {
                specByName.put(s.name(), s);
                DeviceBuffer value = backend.allocate(config.dtype(), s.elements()), grad = backend.allocate(config.dtype(), s.elements());
                parameters.put(s.name(), value);
                gradients.put(s.name(), grad);
                layers[s.layer()][s.direction()].values()[s.slot()] = DeviceSlice.of(value);
                layers[s.layer()][s.direction()].gradients()[s.slot()] = DeviceSlice.of(grad);
            }
            this.layerParameters = layers;
            this.algorithm = new StackBptt(config.stackShape(), backend, layers, workspace);
            setCheckFinite(Boolean.getBoolean("bptt4j.checkFinite"));
            if (config.dropout() > 0 && config.numLayers() == 1 && ONE_LAYER_DROPOUT_WARNED.compareAndSet(false, true)) {
                // PyTorch's own warning, once per process.
                System.err.println("bptt4j: dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                        + "num_layers greater than 1, but got dropout=" + config.dropout() + " and num_layers=1");
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Reuse of the host result tensors: when on, {@code forward} and {@code backward} return the
     * same y, final states and dL/dx, initial-state gradients call after call, each overwritten by
     * the next call with that shape, so a warmed-up training loop allocates almost nothing on the
     * Java heap (the default returns fresh tensors). Copy a result before the next call if it must
     * survive it.
     */
    public void setReuseResults(boolean on) {
        checkOpen();
        algorithm.setReuseResults(on);
    }

    /** Whether the one-layer dropout warning has been printed in this process (for tests). */
    static boolean oneLayerDropoutWarned() {
        return ONE_LAYER_DROPOUT_WARNED.get();
    }

    /**
     * Training mode (the default, as a new {@code torch.nn.Module}): dropout between layers applies.
     * Returns this.
     */
    public Rnn train() {
        checkOpen();
        algorithm.setTraining(true);
        return this;
    }

    /** Evaluation mode, as {@code module.eval()}: no dropout. Returns this. */
    public Rnn eval() {
        checkOpen();
        algorithm.setTraining(false);
        return this;
    }

    public boolean isTraining() {
        return algorithm.isTraining();
    }

    /**
     * The seed of the dropout masks ({@link #initialize} sets it to its own seed). A mask is drawn
     * from Philox by (seed, forward count, layer, direction, step, sequence, unit), so it is the
     * same on every backend and a run with dropout repeats bit for bit.
     */
    public void setDropoutSeed(long seed) {
        algorithm.setDropoutSeed(seed);
    }

    public long dropoutSeed() {
        return algorithm.dropoutSeed();
    }

    /** Training forwards with dropout so far: the next one's masks come from this stream (part of a run's RNG state). */
    public long dropoutStream() {
        return algorithm.dropoutStream();
    }

    /** Sets the stream of the next dropping forward: to resume a run, or to replay a forward's masks. */
    public void setDropoutStream(long stream) {
        algorithm.setDropoutStream(stream);
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

    /** The cell of every layer and direction. */
    public Cell cell() {
        return cell;
    }

    /** The states the cell carries, h first: what {@link States} values hold for this stack. */
    public List<StateSpec> states() {
        return cell.states();
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
        if (backend.isClosed()) throw new IllegalStateException("the Rnn's " + backend.name() + " backend has been closed");
    }

    /** PyTorch's default initialisation distribution, U(−1/√H, 1/√H), from a seeded generator; the dropout seed too. */
    public void initialize(long seed) {
        checkOpen();
        setDropoutSeed(seed);
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
        backend.upload(value.dtype() == config.dtype() ? value : value.to(config.dtype()), DeviceSlice.of(parameters.get(name)));
    }

    public Tensor parameter(String name) {
        checkOpen();
        return backend.download(DeviceSlice.of(parameters.get(spec(name).name())), spec(name).shape());
    }

    /** The accumulated gradient of a parameter since the last {@link #zeroGrad()}. */
    public Tensor gradient(String name) {
        checkOpen();
        return backend.download(DeviceSlice.of(gradients.get(spec(name).name())), spec(name).shape());
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
        if (config.projSize() > 0) meta.put("proj_size", Integer.toString(config.projSize()));
        if (config.batchFirst()) meta.put("batch_first", "true");
        if (config.dropout() > 0) meta.put("dropout", Double.toString(config.dropout()));
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
        for (DeviceBuffer g : gradients.values()) Packing.fill(backend, DeviceSlice.of(g), g.elements(), 0.0);
    }

    /** Bytes of workspace currently held (activations and scratch), for memory reports. */
    public long workspaceBytes() {
        return workspace.heldBytes();
    }

    /**
     * Throws an {@link IllegalArgumentException} naming the first parameter of {@code config} too large
     * for one buffer of {@code backend}; the constructor checks this before allocating anything (a
     * buffer's own refusal would name neither the parameter nor its shape).
     */
    public static void requireParametersFit(RnnConfig config, Backend backend) {
        for (ParameterSpec s : config.parameters()) {
            if (s.elements() > backend.maxBufferElements()) {
                throw new IllegalArgumentException("parameter '" + s.name() + "': shape " + Arrays.toString(s.shape()) + " is " + s.elements()
                        + " elements, more than the " + backend.name() + " backend's limit of " + backend.maxBufferElements() + " per buffer");
            }
        }
    }

    /** Bytes a stack of {@code config} holds on its backend for its parameters and their gradients. */
    public static long parameterBytes(RnnConfig config) {
        long elements = 0;
        for (ParameterSpec s : config.parameters()) elements += s.elements();
        return 2 * elements * config.dtype().byteSize();
    }

    /**
     * The workspace ({@link #workspaceBytes()}) a training pass of (T, B) would hold, estimated from
     * the shapes before anything is allocated (never low, and a few percent high at most): the forward alone, or
     * with {@code backward} the forward and its backward, forming dL/dx when {@code inputGradient}.
     * To refuse a pass that cannot fit with the figures, instead of failing part-way through.
     */
    public static long estimatedWorkspaceBytes(RnnConfig config, int steps, int batch, int[] lengths, boolean backward, boolean inputGradient) {
        return dev.bptt4j.algo.WorkspaceEstimate.trainingBytes(config.stackShape(), steps, batch, lengths, backward, inputGradient);
    }

    /** As {@link #estimatedWorkspaceBytes}, for {@link #infer} of (T, B) with these lengths (null: all T). */
    public static long estimatedInferenceBytes(RnnConfig config, int steps, int batch, int[] lengths) {
        return dev.bptt4j.algo.WorkspaceEstimate.inferenceBytes(config.stackShape(), steps, batch, lengths, INFER_CHUNK);
    }

    /**
     * Forward over a padded, time-major batch. With activation checkpointing
     * ({@link RnnConfig#withActivationCheckpoints}) the backward reads x again, segment by
     * segment: keep it unchanged until then.
     *
     * @param x       (T, B, I) in the stack's dtype
     * @param initial the initial states (L·D, B, width) by name, or null ({@link States#ZEROS}) for zeros; absent ones are zeros
     * @param lengths each sequence's length in 1..T, or null when all are T
     */
    public Pass forward(Tensor x, States initial, int[] lengths) {
        checkOpen();
        int[] tb = checkInput(x);
        checkStates(initial, tb[1], true);
        if (checkFinite) InputChecks.requireFinite("input x", x, null, config.batchFirst());
        StackBptt.Outputs out = algorithm.forward(x, initial, lengths);
        return new Pass(++generation, tb[0], tb[1], lengths, out, null);
    }

    /**
     * Forward that leaves y and the final states on the device, for a loss computed there
     * (dev.bptt4j.train): {@link Pass#outputOnDevice()} is y, {@link Pass#backwardOnDevice} takes
     * dy from the device; {@link Pass#output()} and {@link Pass#finalStates()} download on first use.
     * With activation checkpointing the backward reads x again: keep it unchanged until then.
     */
    public Pass forwardOnDevice(Tensor x, States initial, int[] lengths) {
        checkOpen();
        int[] tb = checkInput(x);
        checkStates(initial, tb[1], true);
        if (checkFinite) InputChecks.requireFinite("input x", x, null, config.batchFirst());
        algorithm.forwardOnDevice(x, initial, lengths);
        return new Pass(++generation, tb[0], tb[1], lengths, null, null);
    }

    /**
     * Forward of x already on the device: (T, B, I) padded, row t·B + b, in a buffer of this
     * Rnn's backend and dtype from the slice's offset. Nothing crosses to the host: x is read in
     * place (with every sequence of length T, or with activation checkpointing, also by the
     * backward, so it must stay open and unchanged until this pass's backward), y is {@link Pass#outputOnDevice()} and the
     * backward is {@link Pass#backwardOnDevice(DeviceSlice, States, DeviceSlice)}.
     */
    public Pass forwardOnDevice(DeviceSlice x, int steps, int batch, States initial, int[] lengths) {
        checkOpen();
        if (x == null) throw new IllegalArgumentException("x: device slice is null");
        if (steps < 1) throw new IllegalArgumentException("x: sequence length T must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("x: batch size B must be >= 1, got " + batch);
        requireSlice("x", x, (long) steps * batch * config.inputSize(), shape(padded(steps, batch, config.inputSize())));
        checkStates(initial, batch, true);
        algorithm.forwardOnDevice(x, steps, batch, initial, lengths);
        return new Pass(++generation, steps, batch, lengths, null, x);
    }

    /** T and B of x ((T, B, I), or (B, T, I) batch-first) after checking its shape and dtype. */
    private int[] checkInput(Tensor x) {
        InputChecks.requireShape("x", x, config.dtype(), -1, -1, config.inputSize());
        int t = config.batchFirst() ? 1 : 0, b = 1 - t;
        int steps = x.dim(t), batch = x.dim(b);
        if (steps < 1) throw new IllegalArgumentException("x: sequence length T (dim " + t + ") must be >= 1, got " + steps);
        if (batch < 1) throw new IllegalArgumentException("x: batch size B (dim " + b + ") must be >= 1, got " + batch);
        return new int[]{steps, batch};
    }

    /** The shape of a padded (T, B, width) tensor in this stack's layout: (B, T, width) batch-first. */
    private int[] padded(int steps, int batch, int width) {
        return config.batchFirst() ? new int[]{batch, steps, width} : new int[]{steps, batch, width};
    }

    private static String shape(int[] dims) {
        return "(" + dims[0] + ", " + dims[1] + ", " + dims[2] + ")";
    }

    /**
     * Checks states given to a forward ({@code initial}: h0, c0) or a backward (gradients of hn,
     * cn): each must be a state of this cell, (L·D, B, width) in the stack's dtype, and finite when
     * the check is on. Null stands for all zeros.
     */
    private void checkStates(States given, int batch, boolean initial) {
        if (given == null) return;
        int rows = config.numLayers() * config.directions();
        for (String name : given.names()) {
            StateSpec spec = null;
            for (StateSpec s : cell.states()) if (s.name().equals(name)) spec = s;
            String label = initial ? name + "0" : "d" + name + "n";
            if (spec == null) {
                throw new IllegalArgumentException(label + ": " + config.mode() + " has no " + (name.equals("c") ? "cell state" : "state '" + name + "'") + " (its states are "
                        + cell.states().stream().map(StateSpec::name).toList() + ")");
            }
            Tensor t = given.get(name);
            InputChecks.requireShape(label, t, config.dtype(), rows, batch, spec.width());
            if (checkFinite) {
                InputChecks.requireFinite((initial ? "initial " : "final ") + (name.equals("c") ? "cell state" : name.equals("h") ? "hidden state" : "state")
                        + (initial ? " " : " gradient ") + label, t, null, false);
            }
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

    /** Observes dL/dh carried back through the recurrence at every step of each backward; null removes it. Costs a host sync per step while set. */
    public void setCarryObserver(CarryObserver observer) {
        algorithm.setCarryObserver(observer == null ? null : observer::afterStep);
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

    /** What {@link #infer} gives: y, and every state after each sequence's last step. */
    public record Inference(Tensor output, States finalStates) {
    }

    /**
     * The forward for inference: y ((T, B, D·H), or batch-first) and the final states of x from
     * the initial states (null: zeros), with no activations kept for a backward and no dropout.
     * A unidirectional stack runs one step at a time through every layer keeping only the running
     * states, so its device memory is O(B·H) per layer plus a chunk of x and y, whatever T is (see
     * {@link Stream}, which gives the same bits fed in pieces). A bidirectional stack needs each
     * sequence's end first: it runs the training forward in evaluation mode.
     */
    public Inference infer(Tensor x, States initial, int[] lengths) {
        checkOpen();
        int[] tb = checkInput(x);
        int steps = tb[0], batch = tb[1];
        checkStates(initial, batch, true);
        if (checkFinite) InputChecks.requireFinite("input x", x, null, config.batchFirst());
        if (config.bidirectional()) {
            boolean training = isTraining();
            eval();
            try (Pass pass = forward(x, initial, lengths)) {
                return new Inference(pass.output(), pass.finalStates());
            } finally {
                algorithm.setTraining(training);
            }
        }
        if (openStream != null) throw new IllegalStateException("infer: a Stream is open on this Rnn; close it first");
        StepwiseForward f = stepwise();
        f.begin(batch, steps, lengths, initial);
        Tensor y = Tensor.zeros(config.dtype(), padded(steps, batch, config.outputSize()));
        for (int from = 0; from < steps; from += INFER_CHUNK) {
            int to = Math.min(steps, from + INFER_CHUNK);
            copySteps(f.next(slice(x, from, to)), y, from);
        }
        return new Inference(y, f.states());
    }

    private StepwiseForward stepwise() {
        if (stepwise == null) stepwise = new StepwiseForward(config.stackShape(), backend, layerParameters, workspace);
        return stepwise;
    }

    /** Steps [from, to) of a padded tensor in this stack's layout. */
    private Tensor slice(Tensor t, int from, int to) {
        if (!config.batchFirst()) return t.slice(from, to);
        int batch = t.dim(0), steps = t.dim(1), width = t.dim(2), n = to - from;
        Tensor out = Tensor.zeros(t.dtype(), batch, n, width);
        for (int b = 0; b < batch; b++) Tensor.copy(t, ((long) b * steps + from) * width, out, (long) b * n * width, (long) n * width);
        return out;
    }

    /** A chunk of steps (in this stack's layout) into {@code whole} from step {@code from}. */
    private void copySteps(Tensor chunk, Tensor whole, int from) {
        if (!config.batchFirst()) {
            Tensor.copy(chunk, 0, whole, (long) from * whole.dim(1) * whole.dim(2), chunk.size());
            return;
        }
        int batch = whole.dim(0), steps = whole.dim(1), width = whole.dim(2), n = chunk.dim(1);
        for (int b = 0; b < batch; b++) Tensor.copy(chunk, (long) b * n * width, whole, ((long) b * steps + from) * width, (long) n * width);
    }

    /**
     * Opens a stream of B sequences from the initial states (null: zeros), fed one step or one
     * chunk at a time with its states carried, as DL4J's {@code rnnTimeStep}: the outputs equal
     * {@link #infer} of the whole sequence bit for bit. No dropout; unidirectional stacks only. One
     * stream at a time per Rnn; training passes may run in between.
     */
    public Stream stream(int batch, States initial) {
        checkOpen();
        if (config.bidirectional()) {
            throw new IllegalArgumentException("stream: a bidirectional stack's reverse direction needs each sequence's end first");
        }
        if (batch < 1) throw new IllegalArgumentException("batch: expected >= 1, got " + batch);
        if (openStream != null) throw new IllegalStateException("stream: one is already open on this Rnn; close it first");
        checkStates(initial, batch, true);
        StepwiseForward f = stepwise();
        f.begin(batch, Integer.MAX_VALUE, null, initial);
        openStream = new Stream(f, batch);
        return openStream;
    }

    /** B sequences fed a step or a chunk at a time, their states carried on the device between calls. */
    public final class Stream implements AutoCloseable {
        private final StepwiseForward forward;
        private final int batch;
        private boolean closed;

        private Stream(StepwiseForward forward, int batch) {
            this.forward = forward;
            this.batch = batch;
        }

        private void checkStreamOpen() {
            checkOpen();
            if (closed) throw new IllegalStateException("stream: closed");
        }

        /** One step: x_t (B, I) in, y_t (B, H·D) out. */
        public Tensor step(Tensor x) {
            checkStreamOpen();
            InputChecks.requireShape("x", x, config.dtype(), batch, config.inputSize());
            Tensor y = next(x.reshape(config.batchFirst() ? new int[]{batch, 1, config.inputSize()} : new int[]{1, batch, config.inputSize()}));
            return y.reshape(batch, config.outputSize());
        }

        /** A chunk of steps: x ((C, B, I), or (B, C, I) batch-first) in, y of the same layout out. */
        public Tensor next(Tensor x) {
            checkStreamOpen();
            int[] tb = checkInput(x);
            if (tb[1] != batch) throw new IllegalArgumentException("x: this stream runs " + batch + " sequences, got a batch of " + tb[1]);
            return forward.next(x);
        }

        /** Every state now (after the last step fed), (L, B, width) by name. */
        public States states() {
            checkStreamOpen();
            return forward.states();
        }

        /** Steps fed so far. */
        public int steps() {
            return forward.stepsDone();
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            if (openStream == this) openStream = null;
        }
    }

    /** Gradients of a pass's inputs: dL/dx (null unless asked for, or when written to the device) and of every initial state. */
    public record InputGradients(Tensor input, States initialStates) {
        /** dL/dh0. */
        public Tensor initialHidden() {
            return initialStates.hidden();
        }
    }

    /** One forward pass: its outputs, and its backward. */
    public final class Pass implements AutoCloseable {
        private final long id;
        private final int steps, batch;
        private final int[] lengths;
        private StackBptt.Outputs outputs;
        private boolean used, closedPass;
        /** x of {@link #forwardOnDevice(DeviceSlice, int, int, States, int[])}, read again by the backward; else null. */
        private final DeviceSlice deviceInput;

        private Pass(long id, int steps, int batch, int[] lengths, StackBptt.Outputs outputs, DeviceSlice deviceInput) {
            this.id = id;
            this.steps = steps;
            this.batch = batch;
            this.lengths = lengths == null ? null : lengths.clone();
            this.outputs = outputs;
            this.deviceInput = deviceInput;
        }

        /** T. */
        public int steps() {
            return steps;
        }

        /** B. */
        public int batch() {
            return batch;
        }

        /** y: (T, B, D·H), or (B, T, D·H) batch-first; zero past each sequence's length. */
        public Tensor output() {
            return outputs().output();
        }

        /** Every final state (hn; cn for the LSTM), (L·D, B, width) each: each sequence's state after its own last step. */
        public States finalStates() {
            return outputs().finalStates();
        }

        private StackBptt.Outputs outputs() {
            if (outputs == null) {
                checkCurrent("output");
                outputs = algorithm.outputs();
            }
            return outputs;
        }

        private void checkCurrent(String what) {
            checkOpen();
            if (closedPass) throw new IllegalStateException(what + ": this pass has been closed");
            if (id != generation) throw new IllegalStateException(what + ": a newer forward pass has replaced this one on the same Rnn");
        }

        private void checkBackward() {
            checkCurrent("backward");
            if (used) throw new IllegalStateException("backward: this pass has already been differentiated");
        }

        /**
         * y of this pass on the device, (T, B, D·H) padded from the slice's offset, without a copy
         * when every sequence has length T and there is one direction (y is then the top layer's
         * stored states; otherwise it is gathered once). Read-only: the backward reads the states.
         * Valid until the next forward.
         */
        public DeviceSlice outputOnDevice() {
            checkCurrent("outputOnDevice");
            return algorithm.outputInPlace();
        }

        /**
         * Backward with dy on the device and dL/dx written to the device: dy (T, B, D·H) padded
         * (read only; rows past a sequence's length are ignored) and dL/dx (T, B, I) into
         * {@code inputGradient} (zero past the lengths), or not formed when it is null. Accumulates
         * the parameter gradients; returns the initial states' gradients, with {@code input} null.
         * dL/dx must not overlap dy or the pass's x.
         *
         * @param finalGrads gradients of the final states by name, or null for zeros
         */
        public InputGradients backwardOnDevice(DeviceSlice dy, States finalGrads, DeviceSlice inputGradient) {
            checkBackward();
            if (dy == null) throw new IllegalArgumentException("dy: device slice is null");
            long dyElements = (long) steps * batch * config.outputSize();
            requireSlice("dy", dy, dyElements, shape(padded(steps, batch, config.outputSize())));
            long dxElements = (long) steps * batch * config.inputSize();
            if (inputGradient != null) {
                requireSlice("dL/dx", inputGradient, dxElements, shape(padded(steps, batch, config.inputSize())));
                requireApart("dL/dx", inputGradient, dxElements, "dy", dy, dyElements);
                if (deviceInput != null) requireApart("dL/dx", inputGradient, dxElements, "x", deviceInput, dxElements);
            }
            requireInputOpen();
            checkStates(finalGrads, batch, false);
            used = true;
            StackBptt.InputGradients g = algorithm.backwardOnDevice(dy, finalGrads, inputGradient);
            return new InputGradients(null, g.initialStates());
        }

        /**
         * Backward with dy, (T, B, D·H), read from the device (rows past a sequence's length are
         * ignored) and dL/dx returned as a host tensor when {@code inputGradient}.
         */
        public InputGradients backwardOnDevice(DeviceSlice dy, States finalGrads, boolean inputGradient) {
            checkBackward();
            if (dy == null) throw new IllegalArgumentException("dy: device slice is null");
            requireSlice("dy", dy, (long) steps * batch * config.outputSize(), shape(padded(steps, batch, config.outputSize())));
            requireInputOpen();
            checkStates(finalGrads, batch, false);
            used = true;
            StackBptt.InputGradients g = algorithm.backwardOnDevice(dy, finalGrads, inputGradient);
            return new InputGradients(g.input(), g.initialStates());
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

        /** Backward with dL/dx; see {@link #backward(Tensor, States, boolean)}. */
        public InputGradients backward(Tensor dy, States finalGrads) {
            return backward(dy, finalGrads, true);
        }

        /**
         * Backpropagates {@code dy} (T, B, D·H) and the gradients of the final states (by name, or
         * null for zeros), accumulating every parameter's gradient, and returns the gradients of x
         * (null unless {@code inputGradient}) and of every initial state. Values of dy at padded
         * positions are ignored.
         */
        public InputGradients backward(Tensor dy, States finalGrads, boolean inputGradient) {
            checkBackward();
            InputChecks.requireShape("dy", dy, config.dtype(), padded(steps, batch, config.outputSize()));
            checkStates(finalGrads, batch, false);
            if (checkFinite) InputChecks.requireFinite("output gradient dy", dy, lengths, config.batchFirst());
            requireInputOpen();
            used = true;
            StackBptt.InputGradients g = algorithm.backward(dy, finalGrads, inputGradient);
            return new InputGradients(g.input(), g.initialStates());
        }

        /** Ends the pass: its backward can no longer run. */
        @Override
        public void close() {
            closedPass = true;
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

    /** The parameter specs in state_dict order (for the training utilities). */
    List<ParameterSpec> specs() {
        return new ArrayList<>(specs);
    }
}
