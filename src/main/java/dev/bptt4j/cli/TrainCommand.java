package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.charlm.CharModelSettings;
import dev.bptt4j.charlm.CharModelTrainer;
import dev.bptt4j.charlm.CharText;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.train.Checkpoints;
import dev.bptt4j.train.Progress;
import dev.bptt4j.train.TrainingState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/** {@code train}: a character-level language model on the user's text (see dev.bptt4j.charlm). */
@Command(name = "train", description = {"Train a character-level language model on your own text.",
        "Reads UTF-8 text files, trains with truncated BPTT and writes the plots, loss.csv, the weights (PyTorch names), the head"
                + " with the vocabulary and a sample to --out; --checkpoint-every/--checkpoint-seconds write checkpoints there,"
                + " from which --resume continues bit for bit. The defaults are the demo's."})
final class TrainCommand extends CliCommand {
    @Option(names = "--text", arity = "1..*", paramLabel = "FILE", description = "UTF-8 text file(s), read one after another (required unless --resume).")
    List<Path> texts;
    @Option(names = "--mode", paramLabel = "MODE", converter = Options.Mode.class,
            description = "Cell: RNN_TANH, RNN_RELU, LSTM or GRU (default: ${DEFAULT-VALUE}).")
    RnnMode mode = RnnMode.RNN_TANH;
    @Option(names = "--layers", paramLabel = "L", converter = Options.Size.class, description = "Layers (default: ${DEFAULT-VALUE}).")
    int layers = 1;
    @Option(names = "--hidden", paramLabel = "H", converter = Options.Size.class, description = "Hidden size (default: ${DEFAULT-VALUE}).")
    int hidden = 128;
    @Option(names = "--proj", paramLabel = "P", converter = Options.Count.class,
            description = "LSTM projection size, below --hidden (default: 0, none).")
    int proj = 0;
    @Option(names = "--dropout", paramLabel = "p", converter = Options.Fraction.class,
            description = "Dropout between layers, 0 <= p < 1 (default: 0).")
    double dropout = 0;
    @Option(names = "--dtype", paramLabel = "T", converter = Options.FloatType.class, description = "f32 or f64 (default: f32).")
    DType dtype = DType.F32;
    @Option(names = "--batch", paramLabel = "B", converter = Options.Size.class,
            description = "Parallel streams through the text, the batch of each step (default: ${DEFAULT-VALUE}).")
    int batch = 32;
    @Option(names = "--bptt", paramLabel = "K", converter = Options.Size.class,
            description = "Characters per step: truncated BPTT's chunk, states carried from step to step (default: ${DEFAULT-VALUE}).")
    int bptt = 32;
    @Option(names = "--micro-batches", paramLabel = "P", converter = Options.Size.class,
            description = "Run each step's batch as P micro-batches of B/P streams whose gradients add up to the step's (default: ${DEFAULT-VALUE}).")
    int microBatches = 1;
    @Option(names = "--optimizer", paramLabel = "NAME", description = "adam or sgd (default: ${DEFAULT-VALUE}).")
    String optimizer = CharModelSettings.ADAM;
    @Option(names = "--momentum", paramLabel = "M", converter = Options.NonNegative.class, description = "SGD's momentum (default: 0).")
    double momentum = 0;
    @Option(names = "--lr", paramLabel = "LR", converter = Options.Positive.class,
            description = "Learning rate, decaying linearly to a tenth over the budget (default: 0.01).")
    double lr = 1e-2;
    @Option(names = "--clip", paramLabel = "NORM", converter = Options.NonNegative.class,
            description = "Clip the gradient's global norm to NORM; 0: no clipping (default: ${DEFAULT-VALUE}).")
    double clip = 1.0;
    @Option(names = "--steps", paramLabel = "N", converter = Options.Size.class,
            description = "Train N steps: a run that repeats bit for bit on one backend (default: a time budget, --seconds).")
    Integer steps;
    @Option(names = "--seconds", paramLabel = "S", converter = Options.Positive.class,
            description = "Train for S seconds (default: 60 unless --steps).")
    Double seconds;
    @Option(names = "--seed", paramLabel = "N", converter = Options.AnyLong.class, description = "Initialisation, dropout and sampling seed (default: ${DEFAULT-VALUE}).")
    long seed = 1234;
    @Option(names = "--valid-fraction", paramLabel = "F", converter = Options.OpenFraction.class,
            description = "The end of the text held out for the validation loss, 0 < F < 1 (default: ${DEFAULT-VALUE}).")
    double validFraction = 0.05;
    @Option(names = "--sample", paramLabel = "N", converter = Options.Count.class, description = "Characters to generate at the end (default: ${DEFAULT-VALUE}).")
    int sampleLength = 400;
    @Option(names = "--prompt", paramLabel = "TEXT", description = "The sample's prompt (default: the text's first line, up to 12 characters).")
    String prompt;
    @Option(names = "--checkpoint-every", paramLabel = "N", converter = Options.Size.class,
            description = "Write a checkpoint to DIR/checkpoints every N steps (and at the end).")
    Integer checkpointEvery;
    @Option(names = "--checkpoint-seconds", paramLabel = "S", converter = Options.Positive.class,
            description = "Write a checkpoint every S seconds (and at the end).")
    Double checkpointSeconds;
    @Option(names = "--resume", paramLabel = "DIR",
            description = "Continue the run in DIR from its newest valid checkpoint, with its settings; --steps or --seconds may set a new budget.")
    Path resume;
    @Option(names = "--checkpoint-activations", paramLabel = "K", arity = "0..1", fallbackValue = "auto",
            converter = Options.CheckpointInterval.class,
            description = "Activation checkpointing: keep the states about every K steps of a --bptt chunk and recompute the rest in"
                    + " the backward (auto, the default when given alone: every ⌈√k⌉ steps of a k-step chunk); the same results, less memory.")
    Integer checkpointActivations;
    @Option(names = "--out", paramLabel = "DIR",
            description = "Directory for the plots, CSV, weights, sample and checkpoints: new, empty, or an earlier run's (default: ${DEFAULT-VALUE}).")
    Path output = Path.of("train-out");
    @Mixin
    Options.DeviceOption deviceOption;
    @Spec
    CommandSpec spec;

    /** The options that make the computation: a resumed run takes them from its checkpoint. */
    private static final List<String> SETTINGS = List.of("--mode", "--layers", "--hidden", "--proj", "--dropout", "--dtype", "--batch",
            "--bptt", "--micro-batches", "--optimizer", "--momentum", "--lr", "--clip", "--seed", "--valid-fraction", "--sample", "--prompt");

    @Override
    int run(PrintStream out) throws Exception {
        ParseResult parsed = spec.commandLine().getParseResult();
        if (steps != null && seconds != null) throw new UsageException("--steps and --seconds: give one budget, not both");
        CharModelSettings settings;
        CharText text;
        List<Path> files;
        Path outDir;
        TrainingState state = null;
        CharModelTrainer.Checkpointing checkpointing;
        if (resume != null) {
            for (String name : SETTINGS) {
                if (parsed.hasMatchedOption(name)) {
                    throw new UsageException(name + ": a resumed run keeps the settings of its checkpoint; only --steps, --seconds,"
                            + " --checkpoint-every, --checkpoint-seconds, --checkpoint-activations, --text and --device may be given with --resume");
                }
            }
            if (parsed.hasMatchedOption("--out") && !output.toAbsolutePath().normalize().equals(resume.toAbsolutePath().normalize())) {
                throw new UsageException("--out: a resumed run writes to the directory it resumes (" + resume + ")");
            }
            outDir = resume;
            CharModelTrainer.checkOutputDirectory(outDir, true);
            Path dir = outDir.resolve(CharModelTrainer.CHECKPOINT_DIRECTORY);
            PrintWriter err = spec.commandLine().getErr();
            Checkpoints.Found found = Checkpoints.newest(dir, problem -> {
                err.println("bptt4j train: skipping " + problem);
                err.flush();
            });
            if (found == null) {
                throw new IOException(dir + ": no usable checkpoint" + (Checkpoints.list(dir).isEmpty()
                        ? " (a run writes them with --checkpoint-every or --checkpoint-seconds)" : ""));
            }
            state = found.state();
            out.println("resuming from " + found.file());
            settings = CharModelTrainer.settingsOf(state);
            if (steps != null) settings = settings.withSteps(steps);
            if (seconds != null) settings = settings.withSeconds(seconds);
            if (settings.steps() > 0 && state.step() > settings.steps()) {
                throw new UsageException("--steps " + settings.steps() + ": the checkpoint is already at step " + state.step());
            }
            files = texts != null ? texts : CharModelTrainer.textFiles(state);
            try {
                text = CharText.read(files);
            } catch (IOException e) {
                throw new IOException(e.getMessage() + (texts == null ? " (the text of the checkpoint's run; give it with --text)" : ""));
            }
            String mismatch = CharModelTrainer.textMismatch(state, text);
            if (mismatch != null) throw new IOException(mismatch);
            CharModelTrainer.Checkpointing before = CharModelTrainer.checkpointingOf(state);
            checkpointing = new CharModelTrainer.Checkpointing(checkpointEvery != null ? checkpointEvery : before.everySteps(),
                    checkpointSeconds != null ? checkpointSeconds : before.everySeconds());
        } else {
            if (texts == null) throw new UsageException("--text FILE is required (or --resume DIR to continue a run)");
            try {
                settings = new CharModelSettings(mode, layers, hidden, proj, dropout, dtype, batch, bptt, microBatches,
                        optimizer.toLowerCase(java.util.Locale.ROOT), momentum, lr, clip, steps == null ? 0 : steps,
                        steps == null ? (seconds == null ? 60 : seconds) : 0, 0, seed, validFraction, sampleLength, prompt);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--" + e.getMessage());
            }
            outDir = output;
            CharModelTrainer.checkOutputDirectory(outDir, false);
            files = texts;
            text = CharText.read(files);
            checkpointing = new CharModelTrainer.Checkpointing(checkpointEvery == null ? 0 : checkpointEvery,
                    checkpointSeconds == null ? 0 : checkpointSeconds);
        }
        CharModelTrainer trainer = new CharModelTrainer(text, settings).recordFiles(files)
                .withActivationCheckpoints(checkpointActivations == null ? 0 : checkpointActivations);
        oneBlasThreadUnlessSet();
        try (Backend backend = Backends.create(deviceOption.name())) {
            CharModelSettings s = trainer.settings();
            MemoryCheck.requireTraining(backend, "--hidden " + s.hidden(), trainer.rnnConfig(), trainer.vocabularySize(), s.bptt(), s.batch(),
                    s.batch() / s.microBatches(), trainer.gradientFlowSteps());
            trainer.run(backend, outDir, out, Progress.stdoutIsTerminal(), checkpointing, state);
        }
        return 0;
    }

    /**
     * The text model's GEMMs are small (32 x 128 x 128 per step): one BLAS thread beats several,
     * which mostly wait on each other (3x faster measured on a loaded 2-core machine); unless
     * -Dbptt4j.threads or BPTT4J_THREADS says otherwise.
     */
    static void oneBlasThreadUnlessSet() {
        if (System.getProperty("bptt4j.threads") == null && System.getenv("BPTT4J_THREADS") == null) {
            System.setProperty("bptt4j.threads", "1");
        }
    }
}
