package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.demo.CharLanguageModelDemo;
import dev.bptt4j.demo.LongRangeDemo;
import dev.bptt4j.train.Progress;

import java.io.PrintStream;
import java.nio.file.Path;

/** {@code demo [long-range]}: the training demos (see dev.bptt4j.demo). */
final class DemoCommand implements Command {
    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String usage() {
        return "demo [long-range] [--seconds N] [--out DIR] [--hidden N] [--device cpu|gpu|auto]";
    }

    @Override
    public int run(Args args, PrintStream out) throws Exception {
        String which = args.positional().isEmpty() ? "text" : args.positional(0, "demo");
        double seconds;
        try {
            seconds = Double.parseDouble(args.option("seconds", "60"));
        } catch (NumberFormatException e) {
            throw new UsageException("option --seconds: expected a number, got '" + args.option("seconds", "") + "'");
        }
        if (!(seconds > 0)) throw new UsageException("option --seconds: expected a positive number, got " + seconds);
        Path outDir = Path.of(args.option("out", "demo-out"));
        int hidden = args.intOption("hidden", 0);
        String device = args.option("device", null);
        args.finish(1);
        if (!which.equals("text") && !which.equals("long-range")) {
            throw new UsageException("unknown demo '" + which + "': expected nothing (the text model) or long-range");
        }
        boolean terminal = Progress.stdoutIsTerminal();
        // The demo's GEMMs are small (32 x 128 x 128 per step): one BLAS thread beats several,
        // which mostly wait on each other (3x faster measured on a loaded 2-core machine).
        if (System.getProperty("bptt4j.threads") == null && System.getenv("BPTT4J_THREADS") == null) {
            System.setProperty("bptt4j.threads", "1");
        }
        try (Backend backend = Backends.create(device)) {
            switch (which) {
                case "text": {
                    CharLanguageModelDemo.Settings s = CharLanguageModelDemo.Settings.defaults().withSeconds(seconds);
                    if (hidden > 0) s = s.withHidden(hidden);
                    new CharLanguageModelDemo(CharLanguageModelDemo.bundledText()).run(backend, s, outDir, out, terminal);
                    return 0;
                }
                case "long-range": {
                    new LongRangeDemo(hidden > 0 ? hidden : 32).run(backend, seconds, outDir, out);
                    return 0;
                }
                default:
                    throw new UsageException("unknown demo '" + which + "': expected nothing (the text model) or long-range");
            }
        }
    }
}
