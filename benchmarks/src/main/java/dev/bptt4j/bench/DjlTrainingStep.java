package dev.bptt4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.recurrent.GRU;
import ai.djl.nn.recurrent.LSTM;
import ai.djl.nn.recurrent.RNN;
import ai.djl.nn.recurrent.RecurrentBlock;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The same training step in PyTorch (libtorch 2.7.1 CPU) through DJL's PyTorch engine: DJL's
 * {@link RNN} block (tanh, one layer, biases, time-major) runs torch's fused {@code rnn_tanh};
 * with {@code mode=LSTM} its {@link LSTM} block runs torch's {@code lstm}, and with {@code mode=GRU} its
 * {@link GRU} block torch's {@code gru} (PyTorch's GRU: r, z, n gates, the reset gate applied to
 * W_hn·h + b_hn, the form oneDNN calls linear-before-reset). libtorch can run a CPU {@code lstm}
 * through oneDNN's RNN primitive (aten's {@code mkldnn_rnn_layer}, which has a backward) when its
 * build and the tensors allow; its tanh RNN and GRU run aten's own cell loop.
 * Per step, as bptt4j: x and dy are copied from host float[] into fresh NDArrays, forward in
 * training mode, backward of sum(y·dy) with x requiring a gradient (so dL/dx is formed), and
 * y and dL/dx are copied back to host arrays ({@code resident=true}: no copies, see there). Two intra-op threads, one inter-op thread
 * (system properties set on the fork), offline (the native library comes from Maven).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
// No heap pre-touch here (bptt4j's and DL4J's forks have it): with -Xms6g -XX:+AlwaysPreTouch
// PyTorch's host-array step at 20×1024³ measured 1470 and 1430 ms in two runs against 1015-1151
// without, so the peer keeps its better setting.
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=2",
        "-Dai.djl.pytorch.num_interop_threads=1"})
public class DjlTrainingStep {
    @Param({"100x64x256x256", "50x256x512x512", "200x32x128x128", "20x1024x1024x1024"})
    public String config;

    /** RNN_TANH (torch's rnn_tanh), LSTM (torch's lstm) or GRU (torch's gru), as bptt4j's {@code mode}. */
    @Param({"RNN_TANH"})
    public String mode;

    /**
     * true: x and dy are NDArrays made once, y and dL/dx stay NDArrays (no host copy): per step x
     * is detached (a view, no copy) and marked as requiring a gradient, so its gradient is a fresh
     * tensor rather than accumulated, as in PyTorch's {@code x.detach().requires_grad_()}.
     */
    @Param({"false"})
    public boolean resident;

    private Shapes s;
    private NDArray residentX, residentDy;
    private NDManager manager;
    private RecurrentBlock block;
    private ParameterStore parameters;
    private float[] x, dy;

    @Setup(Level.Trial)
    public void setUp() {
        s = Shapes.parse(config);
        manager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
        block = switch (mode) {
            case "LSTM" -> LSTM.builder().setStateSize(s.hidden).setNumLayers(1).optBatchFirst(false).optHasBiases(true)
                    .optReturnState(false).build();
            case "GRU" -> GRU.builder().setStateSize(s.hidden).setNumLayers(1).optBatchFirst(false).optHasBiases(true)
                    .optReturnState(false).build();
            case "RNN_TANH" -> RNN.builder().setStateSize(s.hidden).setNumLayers(1).setActivation(RNN.Activation.TANH)
                    .optBatchFirst(false).optHasBiases(true).optReturnState(false).build();
            default -> throw new IllegalArgumentException("mode: RNN_TANH, LSTM or GRU, got " + mode);
        };
        block.initialize(manager, DataType.FLOAT32, new Shape(s.steps, s.batch, s.input));
        parameters = new ParameterStore(manager, false);
        SplittableRandom r = new SplittableRandom(1);
        x = Shapes.random(r, s.steps * s.batch * s.input);
        dy = Shapes.random(r, s.steps * s.batch * s.hidden);
        if (resident) {
            residentX = manager.create(x, new Shape(s.steps, s.batch, s.input));
            residentDy = manager.create(dy, new Shape(s.steps, s.batch, s.hidden));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        if (resident) {
            try (NDManager step = manager.newSubManager();
                 GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray input = residentX.stopGradient();
                input.attach(step);
                input.setRequiresGradient(true);
                NDArray y = block.forward(parameters, new NDList(input), true).singletonOrThrow();
                collector.backward(y.mul(residentDy).sum());
                bh.consume(y);
                bh.consume(input.getGradient());
            }
            return;
        }
        try (NDManager step = manager.newSubManager();
             GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray input = step.create(x, new Shape(s.steps, s.batch, s.input));
            input.setRequiresGradient(true);
            NDArray outputGrad = step.create(dy, new Shape(s.steps, s.batch, s.hidden));
            NDList out = block.forward(parameters, new NDList(input), true);
            NDArray y = out.singletonOrThrow();
            collector.backward(y.mul(outputGrad).sum());
            bh.consume(y.toFloatArray());
            bh.consume(input.getGradient().toFloatArray());
        }
    }
}
