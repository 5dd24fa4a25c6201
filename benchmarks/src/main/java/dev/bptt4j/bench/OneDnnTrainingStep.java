package dev.bptt4j.bench;

import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The same training step in oneDNN's RNN primitive ({@link OneDnnRnn}): per step the parameters
 * reordered from PyTorch's layout into the primitive's formats (as libtorch's oneDNN path does per
 * call, and as bptt4j packs its recurrent weight per pass), forward_training, backward with dL/dx,
 * dL/dh0 and the weight gradients accumulated, and those gradients reordered back into PyTorch's
 * layout. Host arrays ({@code resident=false}): x and dy copied in from float[] (converted to bf16
 * where the primitive runs in it), y and dL/dx copied out into fresh arrays, as for bptt4j and DJL;
 * {@code resident=true}: the tensors stay in oneDNN's memories.
 *
 * <p>Full-length batches only: oneDNN's RNN primitive has no packed (variable-length) input, so it
 * has no row in the packed-batch comparisons. Threads: oneDNN's OpenMP runtime takes
 * {@code OMP_NUM_THREADS} (the scripts set 2, the other peers' count); unset, it uses every core.
 * bf16 is a bar for a later bf16 mode of bptt4j, not a like-for-like peer: it rounds x, h and the
 * weights to 8-bit mantissas ({@link OneDnnAgreement}: relative errors of about 3e-3).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Xms6g", "-XX:+AlwaysPreTouch"})
public class OneDnnTrainingStep {
    @Param({"100x64x256x256", "50x256x512x512", "200x32x128x128", "20x1024x1024x1024"})
    public String config;

    /** RNN_TANH (vanilla_rnn, tanh), LSTM (vanilla_lstm) or GRU (lbr_gru), as bptt4j's {@code mode}. */
    @Param({"RNN_TANH"})
    public String mode;

    @Param({"f32"})
    public String dtype;

    @Param({"false"})
    public boolean resident;

    private OneDnnRnn rnn;
    private float[] x, dy;

    @Setup(Level.Trial)
    public void setUp() {
        Shapes s = Shapes.parse(config);
        if (!dtype.equals("f32") && !dtype.equals("bf16")) throw new IllegalArgumentException("dtype: f32 or bf16, got " + dtype);
        rnn = new OneDnnRnn(mode, s, dtype.equals("bf16"));
        int g = OneDnnRnn.gates(mode) * s.hidden;
        SplittableRandom r = new SplittableRandom(42);
        // PyTorch's default initialisation, U(-1/√H, 1/√H)
        float scale = (float) (1 / Math.sqrt(s.hidden));
        rnn.setParameters(scaled(Shapes.random(r, g * s.input), scale), scaled(Shapes.random(r, g * s.hidden), scale),
                scaled(Shapes.random(r, g), scale), scaled(Shapes.random(r, g), scale));
        rnn.zeroGrad();
        SplittableRandom data = new SplittableRandom(1);
        x = Shapes.random(data, s.steps * s.batch * s.input);
        dy = Shapes.random(data, s.steps * s.batch * s.hidden);
        rnn.upload(x, dy);
    }

    String implementation() {
        return rnn.implementation();
    }

    private static float[] scaled(float[] v, float scale) {
        for (int i = 0; i < v.length; i++) v[i] *= scale;
        return v;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        rnn.close();
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        if (resident) {
            rnn.trainingStep();
            return;
        }
        rnn.upload(x, dy);
        rnn.trainingStep();
        bh.consume(rnn.output());
        bh.consume(rnn.inputGradient());
    }
}
