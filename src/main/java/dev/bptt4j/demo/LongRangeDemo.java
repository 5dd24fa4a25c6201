package dev.bptt4j.demo;

import dev.bptt4j.cell.States;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.diagnostics.GradientFlow;
import dev.bptt4j.diagnostics.Plots;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Adam;
import dev.bptt4j.train.GradientClipper;
import dev.bptt4j.train.Parameters;
import dev.bptt4j.train.Reduction;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TruncatedBptt;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * Which cells learn long-range dependencies: the "remember the first symbol" task (a one-symbol
 * copy-memory problem). Step 0 shows one of {@value #SYMBOLS} symbols, the following lag−1 steps
 * show a blank marker, and the last step asks for the symbol; only that step has a target (the
 * others are masked), so the only gradient reaching the symbol crosses the whole lag. Chance is
 * 1/{@value #SYMBOLS}. Each contender is trained for an equal share of the time budget per lag
 * with full BPTT, Adam and clipping, then scored on fresh sequences.
 */
public final class LongRangeDemo {
    public static final int SYMBOLS = 4;
    static final int INPUT = SYMBOLS + 2; // symbol one-hot, blank, recall
    static final int[] LAGS = {5, 10, 20, 40, 80};

    /** A cell to compare: a name, its configuration for an input and hidden size, and any special initialisation. */
    public record Contender(String name, IntFunction<RnnConfig> config, Consumer<Rnn> init) {
    }

    /** One line per contender; LSTM and GRU take part as soon as the build supports them (else they are skipped). */
    static List<Contender> contenders() {
        return List.of(
                new Contender("tanh RNN", h -> RnnConfig.of(RnnMode.RNN_TANH, INPUT, h).withDType(DType.F32), r -> { }),
                new Contender("residual RNN", h -> RnnConfig.of(RnnMode.RNN_TANH, INPUT, h).withDType(DType.F32).withResidual(true),
                        LongRangeDemo::zeroRecurrentWeights),
                new Contender("LSTM", h -> RnnConfig.of(RnnMode.LSTM, INPUT, h).withDType(DType.F32), r -> { }),
                new Contender("GRU", h -> RnnConfig.of(RnnMode.GRU, INPUT, h).withDType(DType.F32), r -> { }));
    }

    /** The configuration of the largest contender at hidden size {@code hidden}: the one whose memory bounds the demo's. */
    public static RnnConfig largestConfig(int hidden) {
        RnnConfig largest = null;
        for (Contender c : contenders()) {
            RnnConfig config = c.config().apply(hidden);
            if (largest == null || Rnn.parameterBytes(config) > Rnn.parameterBytes(largest)) largest = config;
        }
        return largest;
    }

    /** The longest lag the demo trains at: its longest sequences. */
    public static int longestLag() {
        return java.util.Arrays.stream(LAGS).max().orElseThrow();
    }

    /** The identity initialisation of the residual cell: W_hh = 0, so h_t = h_{t−1} + tanh(W_ih x_t + b) at first. */
    static void zeroRecurrentWeights(Rnn rnn) {
        for (String name : rnn.parameterNames()) {
            if (name.startsWith("weight_hh")) rnn.setParameter(name, Tensor.zeros(rnn.config().dtype(), rnn.parameterShape(name)));
        }
    }

    private final int hidden;
    /** Sequences per training step. */
    public static final int BATCH = 32;
    private final int batch = BATCH;

    public LongRangeDemo(int hidden) {
        this.hidden = hidden;
    }

    /** Accuracy per contender and lag (NaN for a contender this build cannot run). */
    public record Outcome(List<String> contenders, int[] lags, double[][] accuracy) {
    }

    static void sequences(SplittableRandom random, int lag, int batch, Tensor x, Tensor y) {
        java.util.Arrays.fill(x.f32(), 0f);
        java.util.Arrays.fill(y.i32(), -1);
        for (int b = 0; b < batch; b++) {
            int symbol = random.nextInt(SYMBOLS);
            x.f32()[b * INPUT + symbol] = 1f;
            for (int t = 1; t < lag; t++) x.f32()[(t * batch + b) * INPUT + (t == lag - 1 ? SYMBOLS + 1 : SYMBOLS)] = 1f;
            y.i32()[(lag - 1) * batch + b] = symbol;
        }
    }

    public Outcome run(Backend backend, double seconds, Path outDir, PrintStream out) throws IOException {
        return run(backend, seconds, LAGS, outDir, out);
    }

    public Outcome run(Backend backend, double seconds, int[] lags, Path outDir, PrintStream out) throws IOException {
        Files.createDirectories(outDir);
        List<Contender> all = contenders();
        List<Contender> runnable = new ArrayList<>();
        for (Contender c : all) {
            try (Rnn probe = new Rnn(c.config().apply(hidden), backend)) {
                runnable.add(c);
            } catch (UnsupportedOperationException e) {
                out.println("skipping " + c.name() + ": " + e.getMessage());
            }
        }
        double share = seconds / (runnable.size() * lags.length);
        out.printf(Locale.ROOT, "remember the first of %d symbols over a lag (chance %.0f%%): hidden %d, batch %d, full BPTT, Adam, clip 1; %s s per cell and lag%n",
                SYMBOLS, 100.0 / SYMBOLS, hidden, batch, seconds(share));
        double[][] accuracy = new double[runnable.size()][lags.length];
        Map<String, GradientFlow.Report> flows = new LinkedHashMap<>();
        for (int ci = 0; ci < runnable.size(); ci++) {
            Contender c = runnable.get(ci);
            for (int li = 0; li < lags.length; li++) {
                accuracy[ci][li] = train(backend, c, lags[li], share, 17 + li, li == lags.length / 2 ? flows : null);
                out.printf(Locale.ROOT, "  %-14s lag %3d: accuracy %5.1f%%%n", c.name(), lags[li], 100 * accuracy[ci][li]);
            }
        }
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%-8s", "lag"));
        for (Contender c : runnable) table.append(String.format(Locale.ROOT, "%16s", c.name()));
        table.append('\n');
        for (int li = 0; li < lags.length; li++) {
            table.append(String.format(Locale.ROOT, "%-8d", lags[li]));
            for (int ci = 0; ci < runnable.size(); ci++) table.append(String.format(Locale.ROOT, "%15.1f%%", 100 * accuracy[ci][li]));
            table.append('\n');
        }
        out.print(table);
        Files.writeString(outDir.resolve("long-range.txt"), table.toString());
        Map<String, double[][]> series = new LinkedHashMap<>();
        double[] lagAxis = new double[lags.length];
        for (int i = 0; i < lags.length; i++) lagAxis[i] = lags[i];
        for (int ci = 0; ci < runnable.size(); ci++) {
            double[] acc = new double[lags.length];
            for (int li = 0; li < lags.length; li++) acc[li] = 100 * accuracy[ci][li];
            series.put(runnable.get(ci).name(), new double[][]{lagAxis, acc});
        }
        series.put("chance", new double[][]{lagAxis, java.util.stream.DoubleStream.generate(() -> 100.0 / SYMBOLS).limit(lags.length).toArray()});
        Plots.lines(outDir.resolve("long-range.png"), accuracyTitle(share), "lag (steps)", "accuracy (%)", series, true, false);
        for (Map.Entry<String, GradientFlow.Report> e : flows.entrySet()) {
            out.println(e.getKey() + ": " + e.getValue().summary());
            for (String line : e.getValue().layerSummaries()) out.println("  " + line);
        }
        Plots.gradientFlow(outDir.resolve("long-range-gradient-flow.png"), flows);
        out.println("wrote " + outDir.resolve("long-range.png") + ", long-range.txt, long-range-gradient-flow.png");
        List<String> names = new ArrayList<>();
        for (Contender c : runnable) names.add(c.name());
        return new Outcome(names, lags.clone(), accuracy);
    }

    /** The accuracy figure's title: the training time per cell and lag, as precise as it is (1.5 s, not 2 s). */
    static String accuracyTitle(double secondsPerCellAndLag) {
        return "remember the first symbol: accuracy after " + seconds(secondsPerCellAndLag) + " s of training per cell and lag";
    }

    /** Seconds to two decimals at most, without trailing zeros: 1.5, 0.25, 12; below 0.01 to two significant digits (0.00005, not 0). */
    static String seconds(double s) {
        java.math.BigDecimal d = java.math.BigDecimal.valueOf(s);
        d = s > 0 && s < 0.01 ? d.round(new java.math.MathContext(2, java.math.RoundingMode.HALF_UP)) : d.setScale(2, java.math.RoundingMode.HALF_UP);
        return d.stripTrailingZeros().toPlainString();
    }

    private double train(Backend backend, Contender c, int lag, double seconds, long seed, Map<String, GradientFlow.Report> flows) {
        SplittableRandom random = new SplittableRandom(seed);
        RnnConfig config = c.config().apply(hidden);
        try (Rnn rnn = new Rnn(config, backend); SoftmaxHead head = new SoftmaxHead(backend, hidden, SYMBOLS, DType.F32)) {
            rnn.initialize(seed);
            c.init().accept(rnn);
            head.initialize(seed + 1);
            Tensor x = Tensor.zeros(DType.F32, lag, batch, INPUT), y = Tensor.zeros(DType.I32, lag, batch);
            if (flows != null) {
                // Gradient flow at initialisation, for a loss at every step (random dL/dy).
                sequences(random, lag, batch, x, y);
                Tensor dy = Tensor.zeros(DType.F32, lag, batch, hidden);
                for (int i = 0; i < dy.size(); i++) dy.setDouble(i, random.nextDouble() * 2 - 1);
                flows.put(c.name() + ", lag " + lag, GradientFlow.measure(rnn, x, null, dy));
            }
            var params = Parameters.of(rnn, head);
            TruncatedBptt trainer = new TruncatedBptt(rnn, head, lag, Reduction.MEAN);
            long end = System.nanoTime() + (long) (seconds * 1e9);
            try (Adam adam = Adam.withDefaults(backend, params, 3e-3); GradientClipper clip = new GradientClipper(backend, params)) {
                while (System.nanoTime() < end) {
                    sequences(random, lag, batch, x, y);
                    adam.zeroGrad();
                    trainer.run(x, y, States.ZEROS, null);
                    clip.clipNorm(1.0);
                    adam.step();
                }
            }
            // Score on fresh sequences: the arg-max of the logits at the last step.
            int correct = 0, total = 0;
            for (int round = 0; round < 8; round++) {
                sequences(random, lag, batch, x, y);
                try (Rnn.Pass pass = rnn.forward(x, States.ZEROS, null)) {
                    double[] h = pass.output().toDoubleArray();
                    for (int b = 0; b < batch; b++) {
                        int row = (lag - 1) * batch + b;
                        double[] z = head.logitsOf(java.util.Arrays.copyOfRange(h, row * hidden, (row + 1) * hidden));
                        int best = 0;
                        for (int k = 1; k < z.length; k++) if (z[k] > z[best]) best = k;
                        if (best == y.i32()[row]) correct++;
                        total++;
                    }
                }
            }
            return (double) correct / total;
        }
    }
}
