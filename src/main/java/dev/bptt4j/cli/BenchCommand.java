package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * {@code bench}: times training steps (forward, then backward of sum(y·dy) with dL/dx unless
 * {@code --no-input-grad}) on random x and dy, after warm-up steps, and prints the median. With
 * {@code --resident} x, dy and dL/dx stay in device buffers (uploaded once) and y is read where it
 * lies: the step a pipeline keeping its tensors on the backend runs, without host copies.
 *
 * <p>FLOP per step, summed over layers l and directions (G = gates·H, I_l the layer's input
 * width): forward 2·T·B·G·(I_l + H); backward dW_ih, dW_hh and dh each 2·T·B·G·(I_l or H); dL/dx
 * 2·T·B·G·I_l (counted only when it is formed). With dL/dx this is the usual 6·T·B·G·(I_l + H).
 */
@Command(name = "bench", description = {"Time training steps (or forward passes, or inference) on random data.",
        "Each step is a forward pass, then the backward pass of sum(y·dy) (with dL/dx unless --no-input-grad); after the warm-up"
                + " steps it prints the median ms/step and GFLOP/s, the workspace held, and last a line ms_per_step=M."})
final class BenchCommand extends CliCommand {
    @Option(names = "--mode", paramLabel = "MODE", converter = Options.Mode.class,
            description = "Cell: ${COMPLETION-CANDIDATES} (any case; default: ${DEFAULT-VALUE}).")
    RnnMode cell = RnnMode.RNN_TANH;
    @Option(names = "--T", paramLabel = "N", converter = Options.Size.class, description = "Time steps (default: ${DEFAULT-VALUE}).")
    int timeSteps = 100;
    @Option(names = "--B", paramLabel = "N", converter = Options.Size.class, description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batchSize = 64;
    @Option(names = "--I", paramLabel = "N", converter = Options.Size.class, description = "Input size (default: ${DEFAULT-VALUE}).")
    int inputSize = 256;
    @Option(names = "--H", paramLabel = "N", converter = Options.Size.class, description = "Hidden size (default: ${DEFAULT-VALUE}).")
    int hiddenSize = 256;
    @Option(names = "--L", paramLabel = "N", converter = Options.Size.class, description = "Layers (default: ${DEFAULT-VALUE}).")
    int numLayers = 1;
    @Option(names = "--steps", paramLabel = "N", converter = Options.Size.class, description = "Timed steps (default: ${DEFAULT-VALUE}).")
    int timedSteps = 30;
    @Option(names = "--warmup", paramLabel = "N", converter = Options.Count.class,
            description = "Untimed warm-up steps first, at least (default: ${DEFAULT-VALUE}).")
    int warmupSteps = 10;
    // A 2-core machine compiles the hot code on the cores the steps run on: ten short steps can end
    // before the JIT does, and the timed steps then include compilation.
    @Option(names = "--warmup-seconds", paramLabel = "S", converter = Options.NonNegative.class,
            description = "Warm up for at least this long as well, so the JIT has finished (default: ${DEFAULT-VALUE}).")
    double warmupSeconds = 2;
    @Mixin
    Options.DeviceOption deviceOption;
    @Option(names = "--dtype", paramLabel = "DTYPE", converter = Options.FloatType.class, completionCandidates = Options.FloatType.class,
            description = "Element type: ${COMPLETION-CANDIDATES} (default: f32).")
    DType floatType = DType.F32;
    @Option(names = "--no-input-grad", description = "Do not form dL/dx (as for a first layer fed by data).")
    boolean noInputGrad;
    @Option(names = "--reuse-results", description = "Let each pass reuse the previous pass's result buffers (Rnn.setReuseResults).")
    boolean reuseResults;
    @Option(names = "--resident", description = "Keep x, dy and dL/dx in device buffers, uploaded once (no host copies per step).")
    boolean residentTensors;
    @Option(names = "--pass", paramLabel = "KIND", converter = PassKind.Converter.class,
            description = "What a step runs: train (forward and backward), forward (the training forward alone, activations kept"
                    + " for a backward), infer (Rnn.infer: no activations kept) (default: train).")
    PassKind passKind = PassKind.TRAIN;
    @Option(names = "--checkpoint-activations", paramLabel = "K", arity = "0..1", fallbackValue = "auto",
            converter = Options.CheckpointInterval.class,
            description = "Activation checkpointing: keep the states about every K steps and recompute each segment in the backward"
                    + " (K = auto, the default when given alone: every ⌈√T⌉ steps).")
    Integer checkpointActivations;
    @Option(names = "--min-length", paramLabel = "N", converter = Options.Size.class,
            description = "A packed batch: sequence lengths uniform in [N, T], the first T long (default: T, every sequence full).")
    Integer minimumLength;

    /** What one timed step runs. */
    enum PassKind {
        TRAIN, FORWARD, INFER;

        static final class Converter implements picocli.CommandLine.ITypeConverter<PassKind> {
            @Override
            public PassKind convert(String value) {
                for (PassKind k : values()) if (k.name().equalsIgnoreCase(value)) return k;
                throw new picocli.CommandLine.TypeConversionException("expected train, forward or infer, got '" + value + "'");
            }
        }
    }

    /** FLOP of one training step; see the class comment. */
    static double flopPerStep(RnnConfig c, int steps, int batch, boolean inputGrad) {
        return flopPerStep(c, steps, batch, inputGrad, true);
    }

    /** FLOP of one step, the forward's alone unless {@code backward}; see the class comment. */
    static double flopPerStep(RnnConfig c, int steps, int batch, boolean inputGrad, boolean backward) {
        double flop = 0;
        double g = c.gateRows(), h = c.hiddenSize();
        for (int l = 0; l < c.numLayers(); l++) {
            double in = c.layerInputSize(l);
            boolean dx = l > 0 || inputGrad;
            double perRow = 2 * g * (in + h) + (backward ? 2 * g * in + 2 * g * h + 2 * g * h + (dx ? 2 * g * in : 0) : 0);
            flop += c.directions() * (double) steps * batch * perRow;
        }
        return flop;
    }

    @Override
    int run(PrintStream out) throws Exception {
        RnnMode mode = cell;
        int steps = timeSteps, batch = batchSize;
        int input = inputSize, hidden = hiddenSize, layers = numLayers;
        int timed = timedSteps, warmup = warmupSteps;
        String device = deviceOption.name();
        DType dtype = floatType;
        boolean inputGrad = !noInputGrad;
        boolean reuse = reuseResults;
        boolean resident = residentTensors;
        int minLength = minimumLength == null ? steps : minimumLength;
        PassKind kind = passKind;
        if (kind == PassKind.INFER && resident) throw new UsageException("--resident: not with --pass infer (Rnn.infer takes host tensors)");
        if (kind != PassKind.TRAIN && noInputGrad) throw new UsageException("--no-input-grad: only with --pass train");
        if (minLength < 1 || minLength > steps) throw new UsageException("--min-length: expected 1.." + steps + " (T), got " + minLength);

        RnnConfig config = RnnConfig.of(mode, input, hidden).withLayers(layers).withDType(dtype);
        if (checkpointActivations != null) config = config.withActivationCheckpoints(checkpointActivations);
        // A packed batch: lengths uniform in [min-length, T] (the first sequence T long); FLOP and
        // work count only the real time steps, which is what packing promises.
        int[] lengths = null;
        long tokens = (long) steps * batch;
        if (minLength < steps) {
            SplittableRandom lengthRandom = new SplittableRandom(2);
            lengths = new int[batch];
            tokens = 0;
            for (int b = 0; b < batch; b++) {
                lengths[b] = b == 0 ? steps : minLength + lengthRandom.nextInt(steps - minLength + 1);
                tokens += lengths[b];
            }
        }
        double flop = flopPerStep(config, steps, batch, inputGrad, kind == PassKind.TRAIN) * tokens / ((double) steps * batch);
        double[] ms = new double[timed];
        long workspace;
        try (Backend backend = Backends.create(device)) {
            requireMemory(config, steps, batch, lengths, backend);
            SplittableRandom random = new SplittableRandom(1);
            Tensor x = randomTensor(random, dtype, steps, batch, input);
            Tensor dy = kind == PassKind.TRAIN ? randomTensor(random, dtype, steps, batch, hidden) : null;
            try (Rnn rnn = new Rnn(config, backend)) {
                rnn.initialize(42);
                rnn.setReuseResults(reuse);
                out.println(backend.description());
                if (backend.notice() != null) out.println(backend.notice());
                out.printf("%s T=%d B=%d I=%d H=%d L=%d %s%s: at least %d warm-up steps, then %d timed steps%n", mode, steps, batch, input, hidden,
                        layers, dtype, (kind == PassKind.TRAIN ? "" : " pass=" + kind.name().toLowerCase(java.util.Locale.ROOT))
                                + (inputGrad || kind != PassKind.TRAIN ? "" : " no-input-grad")
                                + (checkpointActivations == null ? "" : " checkpoint-activations="
                                + (checkpointActivations < 0 ? "auto(" + (int) Math.ceil(Math.sqrt(steps)) + ")" : checkpointActivations)) + (reuse ? " reuse-results" : "") + (resident ? " resident" : "")
                                + (lengths == null ? "" : String.format(" packed: lengths %d..%d, %d of %d time steps real (%.1f%%)",
                                minLength, steps, tokens, (long) steps * batch, 100.0 * tokens / ((double) steps * batch))), warmup, timed);
                try (DeviceBuffer xs = resident ? backend.allocate(dtype, x.size()) : null;
                     DeviceBuffer dys = resident && dy != null ? backend.allocate(dtype, dy.size()) : null;
                     DeviceBuffer dxs = resident && dy != null && inputGrad ? backend.allocate(dtype, x.size()) : null) {
                    if (resident) {
                        backend.upload(x, DeviceSlice.of(xs));
                        if (dys != null) backend.upload(dy, DeviceSlice.of(dys));
                    }
                    final int[] stepLengths = lengths;
                    Runnable step = () -> {
                        if (kind == PassKind.INFER) {
                            rnn.infer(x, States.ZEROS, stepLengths);
                        } else if (kind == PassKind.FORWARD) {
                            if (resident) {
                                try (Rnn.Pass pass = rnn.forwardOnDevice(DeviceSlice.of(xs), steps, batch, States.ZEROS, stepLengths)) {
                                    pass.outputOnDevice();
                                }
                            } else {
                                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, stepLengths)) {
                                    pass.output();
                                }
                            }
                        } else if (resident) {
                            try (Rnn.Pass pass = rnn.forwardOnDevice(DeviceSlice.of(xs), steps, batch, States.ZEROS, stepLengths)) {
                                pass.outputOnDevice();
                                pass.backwardOnDevice(DeviceSlice.of(dys), States.ZEROS, dxs == null ? null : DeviceSlice.of(dxs));
                            }
                        } else {
                            try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, stepLengths)) {
                                pass.backward(dy, States.ZEROS, inputGrad);
                            }
                        }
                    };
                    long start = System.nanoTime(), warmupEnd = start + (long) (warmupSeconds * 1e9);
                    int warmed = 0;
                    while (warmed < warmup || System.nanoTime() < warmupEnd) {
                        step.run();
                        warmed++;
                    }
                    out.printf("warm-up: %d steps in %.1f s%n", warmed, (System.nanoTime() - start) / 1e9);
                    for (int i = 0; i < timed; i++) {
                        long t0 = System.nanoTime();
                        step.run();
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                    }
                }
                workspace = rnn.workspaceBytes();
            }
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double median = timed % 2 == 1 ? sorted[timed / 2] : 0.5 * (sorted[timed / 2 - 1] + sorted[timed / 2]);
        out.printf("ms/step: median %.3f, min %.3f, max %.3f%n", median, sorted[0], sorted[timed - 1]);
        out.printf("GFLOP/s at the median: %.1f (%.3g FLOP/step; forward 2·T·B·G·(I+H)%s, G = gates·H, per layer and direction)%n",
                flop / (median * 1e6), flop, kind == PassKind.TRAIN ? " + backward 2·T·B·G·(I+2H) + dL/dx 2·T·B·G·I when formed" : "");
        // The workspace grows to the largest pass and is kept for the next: what it holds after
        // the steps is their peak device memory beyond parameters, gradients and caller tensors.
        out.printf("workspace held: %d bytes (%.1f MiB)%n", workspace, workspace / 1048576.0);
        out.printf("ms_per_step=%.4f%n", median);
        return 0;
    }

    /**
     * Refuses, before x, dy or the model is allocated, sizes that cannot fit (see {@link MemoryCheck}):
     * host tensors beyond a Java array or the heap left, a parameter beyond one backend buffer, and
     * parameters, gradients and the pass's workspace (estimated from the shapes) beyond what the
     * backend can still allocate. Allocating first ended in an OutOfMemoryError part-way through.
     */
    private void requireMemory(RnnConfig config, int steps, int batch, int[] lengths, Backend backend) {
        boolean train = passKind == PassKind.TRAIN, inputGrad = train && !noInputGrad;
        long padded = (long) steps * batch, bytes = config.dtype().byteSize();
        long xElements = padded * config.inputSize(), yElements = padded * config.outputSize();
        MemoryCheck.requireArray("x (T·B·I = " + steps + "·" + batch + "·" + config.inputSize() + ")", xElements);
        MemoryCheck.requireArray((train ? "y and dy" : "y") + " (T·B·H = " + steps + "·" + batch + "·" + config.outputSize() + ")", yElements);
        Rnn.requireParametersFit(config, backend);
        long host = (xElements + yElements + (train ? yElements : 0) + (inputGrad ? xElements : 0)) * bytes;
        // The layout's int maps on the host: the lengths, the sorted order and, packed, each padded row's slot and back.
        host += 16L * batch + (lengths == null ? 0 : 8 * padded);
        // initialize draws each parameter in float64, then converts it.
        var largest = config.parameters().stream().max(java.util.Comparator.comparingLong(p -> p.elements())).orElseThrow();
        host += largest.elements() * (DType.F64.byteSize() + bytes);
        MemoryCheck.requireHeap("the host tensors x" + (train ? ", dy" : "") + (inputGrad ? ", y, dL/dx" : ", y") + " and the initial draw of "
                + largest.name(), host);
        long parameters = Rnn.parameterBytes(config);
        long workspace = passKind == PassKind.INFER ? Rnn.estimatedInferenceBytes(config, steps, batch, lengths)
                : Rnn.estimatedWorkspaceBytes(config, steps, batch, lengths, train, inputGrad);
        long held = residentTensors ? (xElements + (train ? yElements : 0) + (inputGrad ? xElements : 0)) * bytes : 0;
        MemoryCheck.requireBackend(backend, "the parameters and their gradients (" + MemoryCheck.size(parameters) + ") and the workspace of a "
                + passKind.name().toLowerCase(java.util.Locale.ROOT) + " pass of T=" + steps + ", B=" + batch + " (" + MemoryCheck.size(workspace)
                + ")" + (residentTensors ? " with the resident tensors (" + MemoryCheck.size(held) + ")" : ""), parameters + workspace + held);
    }

    /** Uniform in [−1, 1), drawn in the tensor's own dtype (no double copy, which doubled the peak for float32). */
    private static Tensor randomTensor(SplittableRandom random, DType dtype, int... shape) {
        Tensor t = Tensor.zeros(dtype, shape);
        if (dtype == DType.F32) {
            float[] v = t.f32();
            for (int i = 0; i < v.length; i++) v[i] = (float) (random.nextDouble() * 2 - 1);
        } else {
            double[] v = t.f64();
            for (int i = 0; i < v.length; i++) v[i] = random.nextDouble() * 2 - 1;
        }
        return t;
    }
}
