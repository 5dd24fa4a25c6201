package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.charlm.CharModelSettings;
import dev.bptt4j.charlm.CharModelTrainer;
import dev.bptt4j.demo.CharLanguageModelDemo;
import dev.bptt4j.demo.LongRangeDemo;
import dev.bptt4j.train.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;

/** {@code demo [long-range]}: the training demos (see dev.bptt4j.demo). */
@Command(name = "demo", description = {"Train a demo model.",
        "The default trains a character-level language model on Genesis and Exodus; long-range asks which cells learn a dependency"
                + " across a growing lag. Plots, CSV and weights go to --out."})
final class DemoCommand extends CliCommand {
    @Parameters(index = "0", arity = "0..1", paramLabel = "long-range",
            description = "Run the long-range demo instead of the text model (also accepted: text, the default).")
    String demo;
    @Option(names = "--seconds", paramLabel = "S", converter = Options.Positive.class,
            description = "Training time budget in seconds (default: ${DEFAULT-VALUE}).")
    double budget = 60;
    @Option(names = "--out", paramLabel = "DIR", description = "Directory for the plots, CSV, weights and sample (default: ${DEFAULT-VALUE}).")
    Path output = Path.of("demo-out");
    @Option(names = "--hidden", paramLabel = "N", converter = Options.Size.class,
            description = "Hidden size (default: 128 for the text model, 32 for long-range).")
    Integer hiddenSize;
    @Mixin
    Options.DeviceOption deviceOption;

    @Override
    int run(PrintStream out) throws Exception {
        String which = demo == null ? "text" : demo;
        double seconds = budget;
        Path outDir = output;
        int hidden = hiddenSize == null ? 0 : hiddenSize;
        String device = deviceOption.name();
        if (!which.equals("text") && !which.equals("long-range")) {
            throw new UsageException("unknown demo '" + which + "': expected nothing (the text model) or long-range");
        }
        boolean terminal = Progress.stdoutIsTerminal();
        // The text demo is `train` on the bundled text with the default settings.
        CharModelTrainer text = null;
        if (which.equals("text")) {
            CharModelSettings s = CharLanguageModelDemo.settings().withSeconds(seconds);
            if (hidden > 0) s = s.withHidden(hidden);
            CharModelTrainer.checkOutputDirectory(outDir, false);
            text = CharLanguageModelDemo.trainer(s);
        }
        TrainCommand.oneBlasThreadUnlessSet();
        try (Backend backend = Backends.create(device)) {
            switch (which) {
                case "text": {
                    MemoryCheck.requireTraining(backend, "--hidden " + text.settings().hidden(), text.rnnConfig(), text.vocabularySize(),
                            text.settings().bptt(), text.settings().batch(), text.settings().batch(), text.gradientFlowSteps());
                    text.run(backend, outDir, out, terminal, CharModelTrainer.Checkpointing.NONE, null);
                    return 0;
                }
                case "long-range": {
                    int h = hidden > 0 ? hidden : 32;
                    // The LSTM is the largest contender (four gates), at the longest lag (full BPTT: one chunk).
                    int lag = LongRangeDemo.longestLag();
                    MemoryCheck.requireTraining(backend, "--hidden " + h, LongRangeDemo.largestConfig(h), LongRangeDemo.SYMBOLS, lag,
                            LongRangeDemo.BATCH, LongRangeDemo.BATCH, lag);
                    new LongRangeDemo(h).run(backend, seconds, outDir, out);
                    return 0;
                }
                default:
                    throw new UsageException("unknown demo '" + which + "': expected nothing (the text model) or long-range");
            }
        }
    }
}
