package dev.bptt4j.charlm;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.cell.States;
import dev.bptt4j.diagnostics.GradientFlow;
import dev.bptt4j.diagnostics.Plots;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Checkpoints;
import dev.bptt4j.train.GradientClipper;
import dev.bptt4j.train.Optimizer;
import dev.bptt4j.train.Parameters;
import dev.bptt4j.train.Progress;
import dev.bptt4j.train.Reduction;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TrainingState;
import dev.bptt4j.train.TruncatedBptt;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * Trains a character-level language model on a text: B parallel streams through the training
 * part, truncated BPTT with chunks of k characters carrying each stream's states from step to
 * step, each step's batch optionally as P micro-batches, Adam or SGD with the learning rate
 * decaying linearly to a tenth over the budget, clipping by global norm. Writes the loss curve,
 * the gradient flow before and after, the weights (PyTorch names), the head with the vocabulary,
 * and a sample; with checkpointing on, a {@link TrainingState} every N steps or S seconds from
 * which {@link #run} continues bit for bit.
 *
 * <p>The data: the first {@code 1 − validFraction} of the text is cut into B equal streams; step
 * i reads characters [offset, offset + k] of each (inputs and next-character targets), offset
 * advancing by k; when a stream has fewer than k + 2 characters left, every stream starts again
 * from its beginning with zero states. Nothing is drawn at random, so the data cursor (the offset)
 * and the carried states are all a continued run needs of the data. The validation loss is the
 * mean cross-entropy per character over the last part, B streams of up to 4k characters from
 * zero states, measured in evaluation mode (no dropout).
 *
 * <p><b>Determinism.</b> With a step budget the learning-rate schedule and the validation steps
 * depend on the step alone, so a run repeats bit for bit on one backend, and checkpoints, which
 * only read, change nothing. With a time budget they follow the clock.
 */
public final class CharModelTrainer {
    /** Files a run writes into its output directory. */
    public static final List<String> OUTPUT_FILES = List.of("loss.png", "loss.csv", "gradient-flow.png", "gradient-flow.csv",
            "rnn.safetensors", "head.safetensors", "sample.txt");
    /** Where the checkpoints go, inside the output directory. */
    public static final String CHECKPOINT_DIRECTORY = "checkpoints";
    /** Files the long-range demo writes into the same default directory: a directory holding them is still one of ours. */
    /** The gradient-flow measurement's steps: the first of the validation part. */
    private static final int GRADIENT_FLOW_STEPS = 24;
    private static final Set<String> OTHER_DEMO_FILES = Set.of("long-range.png", "long-range.txt", "long-range-gradient-flow.png");

    /** Validation loss (nats per character) before and after, steps, characters seen, seconds, and the sample. */
    public record Outcome(double initialLoss, double finalLoss, long steps, long characters, double seconds, String sample) {
    }

    /**
     * When to write checkpoints: every {@code everySteps} steps and/or every {@code everySeconds}
     * seconds (0: not by that measure), and once more at the end; {@link #NONE} for none.
     */
    public record Checkpointing(long everySteps, double everySeconds) {
        public static final Checkpointing NONE = new Checkpointing(0, 0);

        public Checkpointing {
            if (everySteps < 0) throw new IllegalArgumentException("checkpoint-every: expected >= 0, got " + everySteps);
            if (!(everySeconds >= 0) || Double.isInfinite(everySeconds)) {
                throw new IllegalArgumentException("checkpoint-seconds: expected >= 0, got " + everySeconds);
            }
        }

        public boolean enabled() {
            return everySteps > 0 || everySeconds > 0;
        }
    }

    private final CharText text;
    private final CharModelSettings settings;
    private final String prompt;
    /** How the first line and the loss plot's title call the text. */
    private String describedText, plotLabel;
    /** The text's files (absolute), recorded in checkpoints so that a resumed run can read them again. */
    private List<Path> files = List.of();
    /** Activation checkpointing of the recurrent stack (RnnConfig's k; 0 off): saves memory, computes the same bits. */
    private int activationCheckpoints;
    /** Characters [0, trainEnd) are the training part, [trainEnd, length) the validation part. */
    private final int trainEnd;
    /** Each of the B streams: characters [b·streamLength, (b+1)·streamLength). */
    private final int streamLength;
    private final int validationSteps;

    /**
     * Checks that the text suits the settings (long enough for B streams of k + 2 characters and a
     * validation part of B + 2, the prompt's characters in the vocabulary), so that a run fails
     * here, before anything is allocated, rather than part-way.
     */
    public CharModelTrainer(CharText text, CharModelSettings settings) {
        this.text = text;
        this.settings = settings;
        this.describedText = text.name();
        this.plotLabel = text.name();
        int n = text.length(), batch = settings.batch(), k = settings.bptt();
        trainEnd = (int) (n * (1 - settings.validFraction()));
        streamLength = trainEnd / batch;
        if (streamLength < k + 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s: %,d characters are too few: batch %d and bptt %d need %,d training characters (batch x (bptt + 2)), and after"
                            + " holding out a valid-fraction of %s there are %,d", text.source(), n, batch, k, (long) batch * (k + 2),
                    settings.validFraction(), trainEnd));
        }
        int heldOut = n - trainEnd;
        if (heldOut < batch + 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s: the validation part (valid-fraction %s of %,d characters: %,d) is too short for batch %d: it needs batch + 2 = %d",
                    text.source(), settings.validFraction(), n, heldOut, batch, batch + 2));
        }
        validationSteps = Math.min(4 * k, (heldOut - 2) / batch);
        prompt = settings.prompt() != null ? settings.prompt() : defaultPrompt(text);
        if (prompt.isEmpty()) throw new IllegalArgumentException("prompt: empty");
        prompt.codePoints().filter(c -> text.classOf(c) < 0).findFirst().ifPresent(c -> {
            throw new IllegalArgumentException("prompt: the character '" + new String(Character.toChars(c)) + "' (U+"
                    + String.format(Locale.ROOT, "%04X", c) + ") does not occur in " + text.source());
        });
    }

    /** The text's first line, up to 12 characters (at least its first character). */
    static String defaultPrompt(CharText text) {
        String head = text.prefix(12);
        int newline = head.indexOf('\n');
        return newline > 0 ? head.substring(0, newline) : newline == 0 ? head.substring(0, 1) : head;
    }

    public CharModelSettings settings() {
        return settings;
    }

    /** The recurrent stack {@link #run} builds: for a check of its memory before anything is allocated. */
    public RnnConfig rnnConfig() {
        return settings.rnnConfig(text.vocabularySize()).withActivationCheckpoints(activationCheckpoints);
    }

    /** The characters the model predicts among: the output layer's width. */
    public int vocabularySize() {
        return text.vocabularySize();
    }

    /** Steps of the gradient-flow measurement's passes: the first 24 validation steps (fewer when validation is shorter). */
    public int gradientFlowSteps() {
        return Math.min(GRADIENT_FLOW_STEPS, validationSteps);
    }

    /**
     * Refuses an output directory that might hold the user's own files: it must be new, empty, or
     * hold nothing but what these runs and the demos write; and a fresh run must not start in a
     * directory with checkpoints (which {@code --resume} continues). Nothing is changed here.
     */
    public static void checkOutputDirectory(Path dir, boolean resuming) throws IOException {
        if (!Files.exists(dir)) return;
        if (!Files.isDirectory(dir)) throw new IOException(dir + ": exists and is not a directory");
        List<String> foreign = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                if (!OUTPUT_FILES.contains(name) && !OTHER_DEMO_FILES.contains(name) && !name.equals(CHECKPOINT_DIRECTORY)) foreign.add(name);
            }
        }
        if (!foreign.isEmpty()) {
            foreign.sort(null);
            throw new IOException(dir + ": holds files a training run does not write (" + String.join(", ", foreign.subList(0, Math.min(3, foreign.size())))
                    + (foreign.size() > 3 ? ", ..." : "") + "); choose a new or empty directory for --out (nothing was changed)");
        }
        List<Path> checkpoints = Checkpoints.list(dir.resolve(CHECKPOINT_DIRECTORY));
        if (!resuming && !checkpoints.isEmpty()) {
            throw new IOException(dir + ": holds the checkpoints of an earlier run (newest " + checkpoints.get(0).getFileName()
                    + "); continue it with --resume " + dir + ", or choose another --out (nothing was changed)");
        }
    }

    /**
     * Trains and writes the outputs to {@code outDir}, starting afresh or, given a checkpoint's
     * state, from where it stopped (its settings and text must be these: see {@link #describe}).
     *
     * @param resume a state {@link #capture}d by a run with these settings on this text, or null
     */
    public Outcome run(Backend backend, Path outDir, PrintStream out, boolean terminal, Checkpointing checkpointing,
                       TrainingState resume) throws IOException {
        Files.createDirectories(outDir);
        int v = text.vocabularySize(), batch = settings.batch(), k = settings.bptt();
        RnnConfig config = rnnConfig();
        out.println(header(config, backend));
        try (Rnn rnn = new Rnn(config, backend);
             SoftmaxHead head = new SoftmaxHead(backend, config.outputSize(), v, settings.dtype());
             Session session = new Session(rnn, head)) {
            rnn.initialize(settings.seed());
            head.initialize(settings.seed() + 1);

            // Validation: a fixed held-out slice, B streams of up to 4k characters, from zero states.
            int[] valStarts = new int[batch];
            for (int b = 0; b < batch; b++) valStarts[b] = trainEnd + b * validationSteps;
            Tensor valX = Tensor.zeros(settings.dtype(), validationSteps, batch, v), valY = Tensor.zeros(DType.I32, validationSteps, batch);
            text.batch(valStarts, valX, valY);
            TruncatedBptt validation = new TruncatedBptt(rnn, head, k, Reduction.MEAN);
            // Measured at initialisation also when resuming: the same seed gives the same figures.
            double initial = validationLoss(rnn, validation, valX, valY);
            GradientFlow.Report flowBefore = gradientFlow(rnn, head, valX, valY);

            History history = new History();
            double elapsedBefore = 0, nextValidation;
            long validateEvery = Math.max(1, settings.steps() / 6);
            if (resume != null) {
                session.restore(resume);
                history.restore(resume);
                elapsedBefore = Double.parseDouble(resume.value("elapsed_seconds"));
                nextValidation = Double.parseDouble(resume.value("next_validation_seconds"));
                out.println(resumeLine(resume));
            } else {
                history.validation.add(new double[]{0, initial});
                nextValidation = settings.seconds() / 6;
            }
            Path checkpointDir = outDir.resolve(CHECKPOINT_DIRECTORY);
            Progress progress = new Progress(out, "train", settings.seconds(), settings.steps(), terminal, 5);
            progress.continueFrom(elapsedBefore);
            double lastCheckpoint = progress.elapsedSeconds();
            long checkpointedStep = resume == null ? -1 : resume.step();
            // At least one step: a budget too short for any still ends with a loss curve, a trained model and a sample.
            while (settings.steps() > 0 ? session.step < settings.steps()
                    : progress.elapsedSeconds() < settings.seconds() || session.step < Math.max(1, settings.minSteps())) {
                // Linear decay to a tenth of the learning rate over the budget.
                double loss = session.step(settings.lr() * (1 - 0.9 * progress.fraction(session.step)));
                double perChar = loss / k;
                history.smooth = Double.isNaN(history.smooth) ? perChar : 0.95 * history.smooth + 0.05 * perChar;
                history.train.add(perChar);
                progress.update(session.step, history.smooth, session.characters);
                boolean validate = settings.steps() > 0 ? session.step % validateEvery == 0 && session.step < settings.steps()
                        : progress.elapsedSeconds() >= nextValidation;
                if (validate) {
                    history.validation.add(new double[]{session.step, validationLoss(rnn, validation, valX, valY)});
                    if (settings.steps() == 0) nextValidation += settings.seconds() / 6;
                }
                boolean due = checkpointing.everySteps() > 0 && session.step % checkpointing.everySteps() == 0
                        || checkpointing.everySeconds() > 0 && progress.elapsedSeconds() - lastCheckpoint >= checkpointing.everySeconds();
                if (due) {
                    checkpoint(checkpointDir, session, history, progress, nextValidation, checkpointing);
                    lastCheckpoint = progress.elapsedSeconds();
                    checkpointedStep = session.step;
                }
            }
            progress.finish(session.step, history.smooth, session.characters);
            if (checkpointing.enabled() && checkpointedStep != session.step) {
                checkpoint(checkpointDir, session, history, progress, nextValidation, checkpointing);
            }
            double seconds = progress.elapsedSeconds();
            double fin = validationLoss(rnn, validation, valX, valY);
            history.validation.add(new double[]{session.step, fin});
            GradientFlow.Report flowAfter = gradientFlow(rnn, head, valX, valY);

            writeCurves(outDir, history);
            Map<String, GradientFlow.Report> flows = new LinkedHashMap<>();
            flows.put("initial", flowBefore);
            flows.put("trained", flowAfter);
            Plots.gradientFlow(outDir.resolve("gradient-flow.png"), flows);
            flowAfter.writeCsv(outDir.resolve("gradient-flow.csv"));
            rnn.save(outDir.resolve("rnn.safetensors"));
            SafeTensors.write(outDir.resolve("head.safetensors"), head.stateDict(), Map.of("vocabulary", text.vocabulary()));
            String sample = sample(rnn, head, prompt, settings.sampleLength(), 0.7, new SplittableRandom(settings.seed()));
            Files.writeString(outDir.resolve("sample.txt"), sample);

            out.printf(Locale.ROOT, "validation loss %.3f -> %.3f nats/char (uniform guess %.3f) after %,d steps, %,d characters, %.1f s%n",
                    history.validation.get(0)[1], fin, Math.log(v), session.step, session.characters, seconds);
            out.println("initial " + flowBefore.summary());
            for (String line : flowBefore.layerSummaries()) out.println("  " + line);
            out.println("trained " + flowAfter.summary());
            for (String line : flowAfter.layerSummaries()) out.println("  " + line);
            out.println("sample (temperature 0.7):");
            out.println(sample);
            out.println("wrote " + outDir.resolve("loss.png") + ", loss.csv, gradient-flow.png, gradient-flow.csv, rnn.safetensors, head.safetensors, sample.txt");
            return new Outcome(history.validation.get(0)[1], fin, session.step, session.characters, seconds, sample);
        }
    }

    /** The first line: the text, the model and how it trains (the demo's line when the settings are the demo's). */
    private String header(RnnConfig config, Backend backend) {
        StringBuilder model = new StringBuilder(config.mode().name());
        if (settings.layers() > 1) model.append(", ").append(settings.layers()).append(" layers");
        model.append(", hidden ").append(settings.hidden());
        if (settings.proj() > 0) model.append(", projection ").append(settings.proj());
        if (settings.dropout() > 0) model.append(", dropout ").append(settings.dropout());
        if (settings.dtype() != DType.F32) model.append(", ").append(settings.dtype());
        String batches = settings.microBatches() > 1 ? " as " + settings.microBatches() + " micro-batches" : "";
        String clip = settings.clip() > 0 ? String.format(Locale.ROOT, "clip %.1f", settings.clip()) : "no clipping";
        String budget = settings.steps() > 0 ? String.format(Locale.ROOT, "%,d steps", settings.steps())
                : seconds(settings.seconds()) + " s budget";
        return String.format(Locale.ROOT, "char-level language model on %s: %,d characters, vocabulary %d; %s, batch %d%s, tBPTT k=%d, %s"
                        + " decaying linearly to a tenth, %s, %s, %s", describedText, text.length(), text.vocabularySize(), model,
                settings.batch(), batches, settings.bptt(), settings.optimizerLabel(), clip, backend.name(), budget);
    }

    /** Seconds to two decimals at most, without trailing zeros (60, 1.5, 0.25); below 0.01 to two significant digits (0.001, not 0). */
    static String seconds(double s) {
        BigDecimal d = BigDecimal.valueOf(s);
        d = s > 0 && s < 0.01 ? d.round(new MathContext(2, RoundingMode.HALF_UP)) : d.setScale(2, RoundingMode.HALF_UP);
        return d.stripTrailingZeros().toPlainString();
    }

    /** How the first line and the loss plot's title call the text (its file name unless set; the demo's resource and "the KJV"). */
    public CharModelTrainer describedAs(String name, String inPlotTitle) {
        describedText = name;
        plotLabel = inPlotTitle;
        return this;
    }

    /**
     * Runs the recurrent stack with activation checkpointing ({@link RnnConfig#withActivationCheckpoints(int)}):
     * less memory for long --bptt chunks, the same bits, so not a setting a checkpoint keeps.
     */
    public CharModelTrainer withActivationCheckpoints(int k) {
        activationCheckpoints = k;
        return this;
    }

    /** Records the text's files in checkpoints, so that a resumed run can read them again ({@link #textFiles}). */
    public CharModelTrainer recordFiles(List<Path> textFiles) {
        files = textFiles.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        return this;
    }

    private String resumeLine(TrainingState s) {
        String of = settings.steps() > 0 ? String.format(Locale.ROOT, " of %,d", settings.steps())
                : String.format(Locale.ROOT, " after %.1f s of %s", Double.parseDouble(s.value("elapsed_seconds")), seconds(settings.seconds()));
        return String.format(Locale.ROOT, "resuming at step %,d%s", s.step(), of);
    }

    private void checkpoint(Path dir, Session session, History history, Progress progress, double nextValidation,
                            Checkpointing checkpointing) throws IOException {
        TrainingState state = session.capture()
                .withValue("elapsed_seconds", Double.toString(progress.elapsedSeconds()))
                .withValue("next_validation_seconds", Double.toString(nextValidation))
                .withValue("smooth_loss", Double.toString(history.smooth))
                .withValue("checkpoint_every", Long.toString(checkpointing.everySteps()))
                .withValue("checkpoint_seconds", Double.toString(checkpointing.everySeconds()));
        state = history.store(state);
        Path file = Checkpoints.write(dir, state);
        progress.note(String.format(Locale.ROOT, "checkpoint step %d: %s", session.step, file));
    }

    /**
     * Everything about this run's setting that a checkpoint records beside the training state: the
     * settings, the text's files, name, length and fingerprint, and the vocabulary. A resumed run
     * reads its settings and text from these.
     */
    private TrainingState describe(TrainingState state) {
        for (Map.Entry<String, String> e : settings.toMetadata().entrySet()) state = state.withValue("config." + e.getKey(), e.getValue());
        return state.withValue("text.name", text.name())
                .withValue("text.length", Integer.toString(text.length()))
                .withValue("text.sha256", text.fingerprint())
                .withValue("vocabulary", text.vocabulary());
    }

    /** The text files a checkpoint's run read, as given to {@link #recordFiles}. */
    public static List<Path> textFiles(TrainingState state) {
        String files = state.value("text.files");
        List<Path> out = new ArrayList<>();
        if (files != null && !files.isEmpty()) for (String f : files.split("\n", -1)) out.add(Path.of(f));
        return out;
    }

    /** The settings a checkpoint's run had. */
    public static CharModelSettings settingsOf(TrainingState state) {
        Map<String, String> m = new LinkedHashMap<>();
        state.metadata().forEach((key, value) -> {
            if (key.startsWith("run.config.")) m.put(key.substring("run.config.".length()), value);
        });
        return CharModelSettings.fromMetadata(m);
    }

    /** The checkpointing a checkpoint's run had. */
    public static Checkpointing checkpointingOf(TrainingState state) {
        return new Checkpointing(Long.parseLong(state.value("checkpoint_every")), Double.parseDouble(state.value("checkpoint_seconds")));
    }

    /**
     * Whether a checkpoint was taken on this text: the same characters (by SHA-256). Returns null
     * when it was, else the problem in one line.
     */
    public static String textMismatch(TrainingState state, CharText text) {
        if (text.fingerprint().equals(state.value("text.sha256"))) return null;
        return String.format(Locale.ROOT, "the text differs from the one the checkpoint was trained on (%s, %,d characters; now %s, %,d characters)",
                state.value("text.name"), Long.parseLong(state.value("text.length")), text.name(), text.length());
    }

    /** The loss curves, and the progress line's smoothed loss, as a checkpoint keeps them. */
    private static final class History {
        final List<Double> train = new ArrayList<>();
        /** (step, loss) pairs. */
        final List<double[]> validation = new ArrayList<>();
        double smooth = Double.NaN;

        TrainingState store(TrainingState state) {
            double[] t = new double[train.size()];
            for (int i = 0; i < t.length; i++) t[i] = train.get(i);
            double[] val = new double[2 * validation.size()];
            for (int i = 0; i < validation.size(); i++) {
                val[2 * i] = validation.get(i)[0];
                val[2 * i + 1] = validation.get(i)[1];
            }
            return state.withTensor("train_loss", Tensor.of(t, t.length))
                    .withTensor("validation_loss", Tensor.of(val, validation.size(), 2));
        }

        void restore(TrainingState state) {
            for (double x : state.tensor("train_loss").f64()) train.add(x);
            double[] val = state.tensor("validation_loss").f64();
            for (int i = 0; i < val.length; i += 2) validation.add(new double[]{val[i], val[i + 1]});
            smooth = Double.parseDouble(state.value("smooth_loss"));
        }
    }

    /**
     * The live state of training: the model, the optimiser and clipper, the step, the data cursor
     * (the offset of the next chunk in each stream) and the states carried into it.
     */
    final class Session implements AutoCloseable {
        final Rnn rnn;
        final SoftmaxHead head;
        final Optimizer optimizer;
        final GradientClipper clipper;
        /** One walk per micro-batch size; its MEAN divides by the whole batch (see {@link TruncatedBptt#withMeanOver}). */
        final TruncatedBptt walk;
        final int micro;
        /** A micro-batch's inputs (k, B/P, V) and targets (k, B/P), refilled for each. */
        final Tensor x, y;
        long step, characters;
        int offset;
        States carried = States.ZEROS;
        /** The final states of the batch {@link #accumulate} ran: carried into the next step once this one is taken. */
        States next;

        Session(Rnn rnn, SoftmaxHead head) {
            this.rnn = rnn;
            this.head = head;
            var params = Parameters.of(rnn, head);
            this.optimizer = settings.optimizer(rnn.backend(), params);
            this.clipper = new GradientClipper(rnn.backend(), params);
            this.micro = settings.batch() / settings.microBatches();
            this.walk = new TruncatedBptt(rnn, head, settings.bptt(), Reduction.MEAN).withMeanOver(settings.batch());
            this.x = Tensor.zeros(settings.dtype(), settings.bptt(), micro, text.vocabularySize());
            this.y = Tensor.zeros(DType.I32, settings.bptt(), micro);
        }

        /**
         * Zeroes the gradients and accumulates those of the next batch, micro-batch by micro-batch
         * (streams [j·B/P, (j+1)·B/P) in micro-batch j); returns the batch's loss (the sum over
         * steps of the mean over all B streams) and leaves the batch's final states in {@link #next}.
         */
        double accumulate() {
            int k = settings.bptt(), parts = settings.microBatches();
            if (offset + k + 1 >= streamLength) {
                offset = 0;
                carried = States.ZEROS;
            }
            optimizer.zeroGrad();
            double loss = 0;
            States[] finals = new States[parts];
            int[] starts = new int[micro];
            for (int j = 0; j < parts; j++) {
                for (int b = 0; b < micro; b++) starts[b] = (j * micro + b) * streamLength + offset;
                text.batch(starts, x, y);
                TruncatedBptt.Result r = walk.run(x, y, parts == 1 ? carried : streams(carried, j * micro, micro), null);
                loss += r.loss();
                characters += r.tokens();
                finals[j] = r.finalStates();
            }
            next = parts == 1 ? finals[0] : joined(finals);
            return loss;
        }

        /** One training step at learning rate {@code lr}: gradients, clipping, update, and the cursor moved on. Returns the loss. */
        double step(double lr) {
            optimizer.setLearningRate(lr);
            double loss = accumulate();
            if (settings.clip() > 0) clipper.clipNorm(settings.clip());
            optimizer.step();
            carried = next;
            offset += settings.bptt();
            step++;
            return loss;
        }

        TrainingState capture() {
            TrainingState s = TrainingState.capture(step, rnn, head, optimizer, carried)
                    .withValue("cursor.offset", Integer.toString(offset))
                    .withValue("characters", Long.toString(characters))
                    .withValue("text.files", String.join("\n", files.stream().map(Path::toString).toList()));
            return describe(s);
        }

        void restore(TrainingState s) {
            s.restore(rnn, head, optimizer);
            step = s.step();
            offset = Integer.parseInt(s.value("cursor.offset"));
            characters = Long.parseLong(s.value("characters"));
            carried = s.carriedStates();
        }

        @Override
        public void close() {
            optimizer.close();
            clipper.close();
        }
    }

    /** Streams [from, from + count) of every state (rows of dim 1 of each (L·D, B, width) tensor). */
    static States streams(States all, int from, int count) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        all.asMap().forEach((name, t) -> {
            int rows = t.dim(0), batch = t.dim(1), width = t.dim(2);
            Tensor out = Tensor.zeros(t.dtype(), rows, count, width);
            for (int r = 0; r < rows; r++) Tensor.copy(t, ((long) r * batch + from) * width, out, (long) r * count * width, (long) count * width);
            m.put(name, out);
        });
        return States.of(m);
    }

    /** The micro-batches' states side by side again, (L·D, B, width) each. */
    static States joined(States[] parts) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String name : parts[0].names()) {
            Tensor first = parts[0].get(name);
            int rows = first.dim(0), count = first.dim(1), width = first.dim(2);
            Tensor out = Tensor.zeros(first.dtype(), rows, count * parts.length, width);
            for (int j = 0; j < parts.length; j++) {
                for (int r = 0; r < rows; r++) {
                    Tensor.copy(parts[j].get(name), (long) r * count * width, out, ((long) r * count * parts.length + (long) j * count) * width,
                            (long) count * width);
                }
            }
            m.put(name, out);
        }
        return States.of(m);
    }

    private static double validationLoss(Rnn rnn, TruncatedBptt walk, Tensor x, Tensor y) {
        rnn.eval();
        try {
            return walk.evaluate(x, y, States.ZEROS).loss() / x.dim(0);
        } finally {
            rnn.train();
        }
    }

    private static GradientFlow.Report gradientFlow(Rnn rnn, SoftmaxHead head, Tensor x, Tensor y) {
        int steps = Math.min(GRADIENT_FLOW_STEPS, x.dim(0));
        Tensor xs = TruncatedBptt.timeSlice(x, 0, steps), ys = TruncatedBptt.timeSlice(y, 0, steps);
        rnn.eval(); // the flow of the model as it predicts; and no dropout mask is drawn
        try {
            Tensor dy = GradientFlow.lossGradient(rnn, head, xs, null, ys);
            return GradientFlow.measure(rnn, xs, null, dy);
        } finally {
            rnn.train();
        }
    }

    /** loss.csv (the training loss of every step and the validation loss where measured) and loss.png. */
    private void writeCurves(Path dir, History history) throws IOException {
        Map<Long, Double> validationAt = new LinkedHashMap<>();
        for (double[] p : history.validation) validationAt.put((long) p[0], p[1]);
        StringBuilder csv = new StringBuilder("step,train_loss_per_char,validation_loss_per_char\n");
        TreeSet<Long> steps = new TreeSet<>(validationAt.keySet());
        for (long s = 1; s <= history.train.size(); s++) steps.add(s);
        for (long s : steps) {
            csv.append(s).append(',');
            if (s >= 1 && s <= history.train.size()) csv.append(history.train.get((int) s - 1));
            csv.append(',');
            if (validationAt.containsKey(s)) csv.append(validationAt.get(s));
            csv.append('\n');
        }
        Files.writeString(dir.resolve("loss.csv"), csv.toString());
        // Average the per-step training loss over windows so that the line is readable.
        List<Double> train = history.train;
        int window = Math.max(1, train.size() / 200);
        List<double[]> smooth = new ArrayList<>();
        for (int i = 0; i + window <= train.size(); i += window) {
            double sum = 0;
            for (int j = i; j < i + window; j++) sum += train.get(j);
            smooth.add(new double[]{i + window, sum / window});
        }
        Map<String, double[][]> series = new LinkedHashMap<>();
        series.put("training (mean of " + window + " steps)", columns(smooth));
        series.put("validation", columns(history.validation));
        String cell = settings.mode().isElman() ? "RNN" : settings.mode().name();
        Plots.lines(dir.resolve("loss.png"), "char-level " + cell + " on " + plotLabel + ": cross-entropy per character", "step", "nats / char",
                series, false);
    }

    private static double[][] columns(List<double[]> points) {
        double[][] c = new double[2][points.size()];
        for (int i = 0; i < points.size(); i++) {
            c[0][i] = points.get(i)[0];
            c[1][i] = points.get(i)[1];
        }
        return c;
    }

    /** Generates text one character at a time from a prompt, sampling softmax(logits / temperature), in evaluation mode. */
    public String sample(Rnn rnn, SoftmaxHead head, String prompt, int length, double temperature, SplittableRandom random) {
        int v = text.vocabularySize(), hidden = head.hiddenSize();
        double[] w = head.parameter("weight").toDoubleArray(), c = head.parameter("bias").toDoubleArray();
        DType dtype = rnn.config().dtype();
        int[] given = prompt.codePoints().map(text::classOf).toArray();
        StringBuilder sb = new StringBuilder(prompt);
        States state = States.ZEROS;
        double[] h = null;
        int last = given[0];
        rnn.eval();
        try {
            for (int i = 0; i < given.length + length - 1; i++) {
                int in = i < given.length ? given[i] : last;
                Tensor x = Tensor.zeros(dtype, 1, 1, v);
                x.setDouble(in, 1.0);
                try (Rnn.Pass pass = rnn.forward(x, state, null)) {
                    state = pass.finalStates();
                    h = pass.output().toDoubleArray();
                }
                if (i < given.length - 1) continue;
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
                sb.appendCodePoint(text.codePoint(pick));
                last = pick;
            }
        } finally {
            rnn.train();
        }
        return sb.toString();
    }
}
