package dev.bptt4j.demo;

import dev.bptt4j.cell.States;
import dev.bptt4j.backend.Backend;
import dev.bptt4j.diagnostics.GradientFlow;
import dev.bptt4j.diagnostics.Plots;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Adam;
import dev.bptt4j.train.GradientClipper;
import dev.bptt4j.train.Parameters;
import dev.bptt4j.train.Progress;
import dev.bptt4j.train.Reduction;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TruncatedBptt;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A character-level language model trained on the bundled King James text (Genesis and Exodus)
 * for a time budget: B parallel streams through the text, truncated BPTT with chunks of k
 * characters carrying each stream's state, Adam, clipping by global norm. Writes the loss curve,
 * gradient flow before and after training, the weights (PyTorch names) and a generated sample.
 */
public final class CharLanguageModelDemo {
    public static final String TEXT_RESOURCE = "/demo/kjv-genesis-exodus.txt";

    /**
     * What to run; {@link #defaults()} is the one-minute demo. Training stops when the time budget
     * is spent and at least {@code minSteps} steps are done (tests set it so that a slow machine
     * still trains enough).
     */
    public record Settings(double seconds, int hidden, int batch, int chunk, double lr, double clip, long seed,
                           int sampleLength, DType dtype, long minSteps) {
        public static Settings defaults() {
            return new Settings(60, 128, 32, 32, 1e-2, 1.0, 1234, 400, DType.F32, 0);
        }

        public Settings withSeconds(double s) {
            return new Settings(s, hidden, batch, chunk, lr, clip, seed, sampleLength, dtype, minSteps);
        }

        public Settings withHidden(int h) {
            return new Settings(seconds, h, batch, chunk, lr, clip, seed, sampleLength, dtype, minSteps);
        }

        public Settings withMinSteps(long n) {
            return new Settings(seconds, hidden, batch, chunk, lr, clip, seed, sampleLength, dtype, n);
        }
    }

    /** Validation loss (nats per character) before and after, steps, characters seen, seconds, and the sample. */
    public record Outcome(double initialLoss, double finalLoss, long steps, long characters, double seconds, String sample) {
    }

    private final String text;
    private final char[] vocabulary;
    private final int[] classOf = new int[Character.MAX_VALUE + 1];

    public CharLanguageModelDemo(String text) {
        this.text = text;
        TreeSet<Character> chars = new TreeSet<>();
        for (char c : text.toCharArray()) chars.add(c);
        vocabulary = new char[chars.size()];
        int i = 0;
        for (char c : chars) {
            classOf[c] = i;
            vocabulary[i++] = c;
        }
    }

    public static String bundledText() throws IOException {
        try (InputStream in = CharLanguageModelDemo.class.getResourceAsStream(TEXT_RESOURCE)) {
            if (in == null) throw new IOException("demo text " + TEXT_RESOURCE + " is missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    public int vocabularySize() {
        return vocabulary.length;
    }

    /** One-hot inputs (T, B, V) of text[start_b + t] and targets (T, B) of text[start_b + t + 1]. */
    private void batch(int[] starts, int steps, Tensor x, Tensor y, DType dtype) {
        int batch = starts.length, v = vocabulary.length;
        if (x.dtype() == DType.F32) java.util.Arrays.fill(x.f32(), 0f);
        else java.util.Arrays.fill(x.f64(), 0.0);
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int at = starts[b] + t;
                int row = t * batch + b;
                x.setDouble(row * v + classOf[text.charAt(at)], 1.0);
                y.i32()[row] = classOf[text.charAt(at + 1)];
            }
        }
    }

    public Outcome run(Backend backend, Settings s, Path outDir, PrintStream out, boolean terminal) throws IOException {
        Files.createDirectories(outDir);
        int v = vocabulary.length, batch = s.batch(), k = s.chunk();
        int validationStart = (int) (text.length() * 0.95);
        int streamLength = validationStart / batch;
        RnnConfig config = RnnConfig.of(RnnMode.RNN_TANH, v, s.hidden()).withDType(s.dtype());
        out.printf(Locale.ROOT, "char-level language model on %s: %,d characters, vocabulary %d; %s, hidden %d, batch %d, tBPTT k=%d, Adam lr %.0e decaying linearly to a tenth, clip %.1f, %s, %.0f s budget%n",
                TEXT_RESOURCE.substring(1), text.length(), v, config.mode(), s.hidden(), batch, k, s.lr(), s.clip(),
                backend.name(), s.seconds());
        try (Rnn rnn = new Rnn(config, backend); SoftmaxHead head = new SoftmaxHead(backend, s.hidden(), v, s.dtype())) {
            rnn.initialize(s.seed());
            head.initialize(s.seed() + 1);
            var params = Parameters.of(rnn, head);
            TruncatedBptt trainer = new TruncatedBptt(rnn, head, k, Reduction.MEAN);

            // Validation: a fixed held-out slice, B streams of 4k characters, from zero states.
            int valSteps = Math.min(4 * k, (text.length() - validationStart - 2) / batch);
            int[] valStarts = new int[batch];
            for (int b = 0; b < batch; b++) valStarts[b] = validationStart + b * valSteps;
            Tensor valX = Tensor.zeros(s.dtype(), valSteps, batch, v), valY = Tensor.zeros(DType.I32, valSteps, batch);
            batch(valStarts, valSteps, valX, valY, s.dtype());
            double initial = validationLoss(trainer, valX, valY, valSteps);
            GradientFlow.Report flowBefore = gradientFlow(rnn, head, valX, valY);

            List<double[]> curve = new ArrayList<>();
            List<double[]> valCurve = new ArrayList<>();
            valCurve.add(new double[]{0, initial});
            Tensor x = Tensor.zeros(s.dtype(), k, batch, v), y = Tensor.zeros(DType.I32, k, batch);
            int[] starts = new int[batch];
            for (int b = 0; b < batch; b++) starts[b] = b * streamLength;
            int offset = 0;
            States state = States.ZEROS;
            long step = 0, characters = 0;
            double smooth = Double.NaN;
            Progress progress = new Progress(out, "train", s.seconds(), 0, terminal, 5);
            try (Adam adam = Adam.withDefaults(backend, params, s.lr()); GradientClipper clipper = new GradientClipper(backend, params)) {
                double nextValidation = s.seconds() / 6;
                while (progress.elapsedSeconds() < s.seconds() || step < s.minSteps()) {
                    if (offset + k + 1 >= streamLength) {
                        offset = 0;
                        state = States.ZEROS;
                    }
                    int[] at = new int[batch];
                    for (int b = 0; b < batch; b++) at[b] = starts[b] + offset;
                    batch(at, k, x, y, s.dtype());
                    // Linear decay to a tenth of the learning rate over the budget.
                    adam.setLearningRate(s.lr() * (1 - 0.9 * progress.fraction(step)));
                    adam.zeroGrad();
                    TruncatedBptt.Result r = trainer.run(x, y, state, null);
                    clipper.clipNorm(s.clip());
                    adam.step();
                    state = r.finalStates();
                    offset += k;
                    step++;
                    characters += r.tokens();
                    double perChar = r.loss() / k;
                    smooth = Double.isNaN(smooth) ? perChar : 0.95 * smooth + 0.05 * perChar;
                    curve.add(new double[]{step, perChar});
                    progress.update(step, smooth, characters);
                    if (progress.elapsedSeconds() >= nextValidation) {
                        valCurve.add(new double[]{step, validationLoss(trainer, valX, valY, valSteps)});
                        nextValidation += s.seconds() / 6;
                    }
                }
                progress.finish(step, smooth, characters);
            }
            double seconds = progress.elapsedSeconds();
            double fin = validationLoss(trainer, valX, valY, valSteps);
            valCurve.add(new double[]{step, fin});
            GradientFlow.Report flowAfter = gradientFlow(rnn, head, valX, valY);

            writeCurves(outDir, curve, valCurve);
            Map<String, GradientFlow.Report> flows = new LinkedHashMap<>();
            flows.put("initial", flowBefore);
            flows.put("trained", flowAfter);
            Plots.gradientFlow(outDir.resolve("gradient-flow.png"), flows);
            flowAfter.writeCsv(outDir.resolve("gradient-flow.csv"));
            rnn.save(outDir.resolve("rnn.safetensors"));
            SafeTensors.write(outDir.resolve("head.safetensors"), head.stateDict(), Map.of("vocabulary", new String(vocabulary)));
            String sample = sample(rnn, head, "And God said", s.sampleLength(), 0.7, new SplittableRandom(s.seed()));
            Files.writeString(outDir.resolve("sample.txt"), sample);

            out.printf(Locale.ROOT, "validation loss %.3f -> %.3f nats/char (uniform guess %.3f) after %,d steps, %,d characters, %.1f s%n",
                    initial, fin, Math.log(v), step, characters, seconds);
            out.println("initial " + flowBefore.summary());
            for (String line : flowBefore.layerSummaries()) out.println("  " + line);
            out.println("trained " + flowAfter.summary());
            for (String line : flowAfter.layerSummaries()) out.println("  " + line);
            out.println("sample (temperature 0.7):");
            out.println(sample);
            out.println("wrote " + outDir.resolve("loss.png") + ", loss.csv, gradient-flow.png, gradient-flow.csv, rnn.safetensors, head.safetensors, sample.txt");
            return new Outcome(initial, fin, step, characters, seconds, sample);
        }
    }

    private static double validationLoss(TruncatedBptt trainer, Tensor x, Tensor y, int steps) {
        return trainer.evaluate(x, y, States.ZEROS).loss() / steps;
    }

    private static GradientFlow.Report gradientFlow(Rnn rnn, SoftmaxHead head, Tensor x, Tensor y) {
        int steps = Math.min(24, x.dim(0));
        Tensor xs = TruncatedBptt.timeSlice(x, 0, steps), ys = TruncatedBptt.timeSlice(y, 0, steps);
        Tensor dy = GradientFlow.lossGradient(rnn, head, xs, null, ys);
        return GradientFlow.measure(rnn, xs, null, dy);
    }

    private static void writeCurves(Path dir, List<double[]> train, List<double[]> validation) throws IOException {
        StringBuilder csv = new StringBuilder("step,train_loss_per_char\n");
        for (double[] p : train) csv.append((long) p[0]).append(',').append(p[1]).append('\n');
        Files.writeString(dir.resolve("loss.csv"), csv.toString());
        // Average the per-step training loss over windows so that the line is readable.
        int window = Math.max(1, train.size() / 200);
        List<double[]> smooth = new ArrayList<>();
        for (int i = 0; i + window <= train.size(); i += window) {
            double sum = 0;
            for (int j = i; j < i + window; j++) sum += train.get(j)[1];
            smooth.add(new double[]{train.get(i + window - 1)[0], sum / window});
        }
        Map<String, double[][]> series = new LinkedHashMap<>();
        series.put("training (mean of " + window + " steps)", columns(smooth));
        series.put("validation", columns(validation));
        Plots.lines(dir.resolve("loss.png"), "char-level RNN on the KJV: cross-entropy per character", "step", "nats / char", series, false);
    }

    private static double[][] columns(List<double[]> points) {
        double[][] c = new double[2][points.size()];
        for (int i = 0; i < points.size(); i++) {
            c[0][i] = points.get(i)[0];
            c[1][i] = points.get(i)[1];
        }
        return c;
    }

    /** Generates text one character at a time from a prompt, sampling softmax(logits / temperature). */
    public String sample(Rnn rnn, SoftmaxHead head, String prompt, int length, double temperature, SplittableRandom random) {
        int v = vocabulary.length, hidden = head.hiddenSize();
        double[] w = head.parameter("weight").toDoubleArray(), c = head.parameter("bias").toDoubleArray();
        DType dtype = rnn.config().dtype();
        StringBuilder sb = new StringBuilder(prompt);
        States state = States.ZEROS;
        double[] h = null;
        for (int i = 0; i < prompt.length() + length - 1; i++) {
            char in = i < prompt.length() ? prompt.charAt(i) : sb.charAt(sb.length() - 1);
            Tensor x = Tensor.zeros(dtype, 1, 1, v);
            x.setDouble(classOf[in], 1.0);
            try (Rnn.Pass pass = rnn.forward(x, state, null)) {
                state = pass.finalStates();
                h = pass.output().toDoubleArray();
            }
            if (i < prompt.length() - 1) continue;
            double[] p = new double[v];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < v; j++) {
                double z = c[j];
                for (int q = 0; q < hidden; q++) z += w[j * hidden + q] * h[q];
                p[j] = z / temperature;
                max = Math.max(max, p[j]);
            }
            for (int j = 0; j < v; j++) sum += p[j] = Math.exp(p[j] - max);
            double u = random.nextDouble() * sum;
            int pick = v - 1;
            for (int j = 0; j < v; j++) {
                u -= p[j];
                if (u <= 0) {
                    pick = j;
                    break;
                }
            }
            sb.append(vocabulary[pick]);
        }
        return sb.toString();
    }
}
