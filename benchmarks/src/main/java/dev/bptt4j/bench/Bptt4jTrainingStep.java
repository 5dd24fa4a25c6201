package dev.bptt4j.bench;

import dev.bptt4j.cell.States;

import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One bptt4j training step (tanh RNN by default, or the {@code mode} cell) on the CPU backend (OpenBLAS, 2 threads): x uploaded from a host
 * tensor, forward, backward of sum(y·dy) with dL/dx (or without, {@code inputGrad=false}), and
 * y, hn, dL/dx and dL/dh0 returned as host tensors. Parameter gradients accumulate on the device.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
// The heap is touched once at start: otherwise the fresh result arrays of the host-array step pay
// the first-touch page faults of heap never used before until the 6 GB have gone round once, a
// JVM warm-up effect and not the step's (`bench`, 100×64×256×256: 28.8 ms, pre-touched 22.9).
// The peers' forks do the same.
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Xms6g", "-XX:+AlwaysPreTouch"})
public class Bptt4jTrainingStep {
    @Param({"100x64x256x256", "50x256x512x512", "200x32x128x128", "20x1024x1024x1024",
            "50x64x256x256", "200x64x256x256", "400x64x256x256"})
    public String config;

    @Param({"f32", "f64"})
    public String dtype;

    @Param({"true"})
    public boolean inputGrad;

    @Param({"2"})
    public int threads;

    /**
     * Rnn.setReuseResults: false (fresh y and dL/dx arrays each step, like the peers' benchmarks)
     * for the main tables; {@code -p reuse=true} measures what a caller reusing them gets.
     */
    @Param({"false"})
    public boolean reuse;

    /**
     * true: x, dy and dL/dx live in CPU-backend buffers (uploaded once) and y is read in place
     * (Rnn.forwardOnDevice with a DeviceSlice), the step without host copies; run.sh adds these rows.
     */
    @Param({"false"})
    public boolean resident;

    /** The cell (RNN_TANH, LSTM, GRU); run.sh adds an LSTM row with {@code -p mode=LSTM}, and every cell with PARTS=cells. */
    @Param({"RNN_TANH"})
    public String mode;

    private CpuBackend backend;
    private Rnn rnn;
    private Tensor x, dy;
    private DeviceBuffer xs, dys, dxs;
    private Shapes s;

    @Setup(Level.Trial)
    public void setUp() {
        s = Shapes.parse(config);
        DType d = DType.parseFloat(dtype);
        backend = new CpuBackend(threads);
        rnn = new Rnn(RnnConfig.of(RnnMode.parse(mode), s.input, s.hidden).withDType(d), backend);
        rnn.initialize(42);
        rnn.setReuseResults(reuse);
        SplittableRandom r = new SplittableRandom(1);
        x = Tensor.of(Shapes.random(r, s.steps * s.batch * s.input), s.steps, s.batch, s.input).to(d);
        dy = Tensor.of(Shapes.random(r, s.steps * s.batch * s.hidden), s.steps, s.batch, s.hidden).to(d);
        if (resident) {
            xs = backend.allocate(d, x.size());
            dys = backend.allocate(d, dy.size());
            dxs = backend.allocate(d, x.size());
            backend.upload(x, DeviceSlice.of(xs));
            backend.upload(dy, DeviceSlice.of(dys));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (resident) {
            xs.close();
            dys.close();
            dxs.close();
        }
        rnn.close();
        backend.close();
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        if (resident) {
            try (Rnn.Pass pass = rnn.forwardOnDevice(new DeviceSlice(xs, 0), s.steps, s.batch, States.ZEROS, null)) {
                bh.consume(pass.outputOnDevice());
                bh.consume(pass.backwardOnDevice(new DeviceSlice(dys, 0), States.ZEROS, inputGrad ? new DeviceSlice(dxs, 0) : null));
            }
            return;
        }
        try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
            bh.consume(pass.output());
            bh.consume(pass.backward(dy, States.ZEROS, inputGrad));
        }
    }
}
