package dev.bptt4j.bench;

import org.deeplearning4j.nn.api.OptimizationAlgorithm;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The same training step in Deeplearning4j 1.0.0-M2.1 (ND4J native, AVX-512 build): a
 * MultiLayerNetwork of one SimpleRnn layer (tanh, biases), forward in training mode, then
 * {@code backpropGradient(dy)} — DL4J's "external errors" path, i.e. the backward of sum(y·dy) —
 * which returns the parameter gradients and dL/dx. x and dy are copied from host float[] each
 * step, y and dL/dx copied back, as for bptt4j. DL4J's native layout NCW: x is (B, I, T).
 * SimpleRnn has a single bias vector (PyTorch has two that add up); the FLOP are the same.
 * Runs in its own JVM and classpath: ND4J pins JavaCPP 1.5.8, bptt4j uses 1.5.13.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xmx6g", "-Xms6g", "-XX:+AlwaysPreTouch"})
public class Dl4jTrainingStep {
    @Param({"100x64x256x256", "50x256x512x512", "200x32x128x128"})
    public String config;

    private Shapes s;
    private MultiLayerNetwork net;
    private float[] x, dy;

    @Setup(Level.Trial)
    public void setUp() {
        s = Shapes.parse(config);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .dataType(DataType.FLOAT)
                .optimizationAlgo(OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT)
                .seed(42)
                .list()
                .layer(new SimpleRnn.Builder().nIn(s.input).nOut(s.hidden).activation(Activation.TANH).build())
                .build();
        net = new MultiLayerNetwork(conf);
        net.init();
        SplittableRandom r = new SplittableRandom(1);
        x = Shapes.random(r, s.steps * s.batch * s.input);
        dy = Shapes.random(r, s.steps * s.batch * s.hidden);
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        INDArray input = Nd4j.create(x, new long[]{s.batch, s.input, s.steps}, 'c');
        INDArray outputGrad = Nd4j.create(dy, new long[]{s.batch, s.hidden, s.steps}, 'c');
        net.setInput(input);
        java.util.List<INDArray> activations = net.feedForward(true, false);
        INDArray y = activations.get(activations.size() - 1);
        Pair<Gradient, INDArray> g = net.backpropGradient(outputGrad, null);
        bh.consume(y.data().asFloat());
        bh.consume(g.getSecond().data().asFloat());
        bh.consume(g.getFirst());
    }
}
