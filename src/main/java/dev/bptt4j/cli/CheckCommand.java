package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.model.CaseRunner;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code check [DIR]}: runs every case in a directory (default: the cases bundled in the jar) and
 * prints, per case and tensor, the relative error ‖actual − expected‖/‖expected‖ against the
 * tolerance for the case's dtype.
 */
@Command(name = "check", description = {"Check the backend against reference cases.",
        "Runs every case in DIR (default: the cases bundled in the jar) and prints, per case and tensor,"
                + " ‖actual − expected‖/‖expected‖ against the tolerance for its dtype (1e-5 float32, 1e-10 float64); exits 1 when one fails."})
final class CheckCommand extends CliCommand {
    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "A directory of *.safetensors cases (default: the bundled ones).")
    String dir;
    @Mixin
    Options.DeviceOption deviceOption;

    /** The tolerances the reference cases were made for (see the cases' README). */
    static double tolerance(DType dtype) {
        return dtype == DType.F32 ? 1e-5 : 1e-10;
    }

    /** A case by name with a way to load it. */
    private interface CaseSource {
        String name();

        ReferenceCase load() throws IOException;
    }

    @Override
    int run(PrintStream out) throws Exception {
        String device = deviceOption.name();
        List<CaseSource> cases = dir == null ? bundled() : inDirectory(Path.of(dir));
        if (cases.isEmpty()) throw new UsageException("no *.safetensors cases in " + dir);
        int passed = 0, failed = 0, skipped = 0;
        try (Backend backend = Backends.create(device)) {
            out.println("backend: " + backend.description());
            out.printf("%-28s %-26s %12s %10s  %s%n", "case", "tensor", "rel.error", "tolerance", "result");
            for (CaseSource src : cases) {
                ReferenceCase c;
                Map<String, Tensor> actual;
                try {
                    c = src.load();
                    actual = CaseRunner.run(c, backend);
                } catch (UnsupportedOperationException e) {
                    out.printf("%-28s %-26s %12s %10s  SKIP (%s)%n", src.name(), "-", "-", "-", e.getMessage());
                    skipped++;
                    continue;
                } catch (IOException | RuntimeException e) {
                    out.printf("%-28s %-26s %12s %10s  FAIL (%s)%n", src.name(), "-", "-", "-", Main.oneLine(e));
                    failed++;
                    continue;
                }
                if (c.expected().isEmpty()) {
                    // Nothing to compare is not a pass: a case stripped of its results would otherwise "pass" every time.
                    out.printf("%-28s %-26s %12s %10s  FAIL (%s)%n", c.name(), "-", "-", "-",
                            "no expected tensors (y, " + String.join(", ", finalNames(c)) + ", grad.*): the case checks nothing");
                    failed++;
                    continue;
                }
                double tol = tolerance(c.config().dtype());
                boolean ok = true;
                for (Map.Entry<String, Tensor> e : c.expected().entrySet()) {
                    Tensor got = actual.get(e.getKey());
                    String verdict;
                    double err = Double.NaN;
                    if (got == null) {
                        verdict = "FAIL (not produced)";
                    } else if (!java.util.Arrays.equals(got.shape(), e.getValue().shape())) {
                        verdict = "FAIL (shape " + java.util.Arrays.toString(got.shape()) + ")";
                    } else {
                        err = got.relativeError(e.getValue());
                        verdict = err <= tol ? "ok" : "FAIL";
                    }
                    ok &= verdict.equals("ok");
                    out.printf("%-28s %-26s %12.3e %10.0e  %s%n", c.name(), e.getKey(), err, tol, verdict);
                }
                if (ok) passed++;
                else failed++;
            }
        }
        out.println(passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
        return failed == 0 ? 0 : 1;
    }

    private static List<String> finalNames(ReferenceCase c) {
        return c.config().cell().states().stream().map(dev.bptt4j.cell.StateSpec::finalName).toList();
    }

    private static List<CaseSource> inDirectory(Path dir) throws IOException {
        if (!Files.exists(dir)) throw new UsageException("no such directory: " + dir);
        if (!Files.isDirectory(dir)) throw new UsageException("not a directory: " + dir + " (check takes a directory of *.safetensors cases)");
        List<CaseSource> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().forEach(p -> out.add(new CaseSource() {
                public String name() {
                    return p.getFileName().toString().replace(".safetensors", "");
                }

                public ReferenceCase load() throws IOException {
                    return ReferenceCase.load(p);
                }
            }));
        }
        return out;
    }

    /** The cases bundled under /cases in the jar, listed in /cases/index.txt. */
    static List<CaseSource> bundled() throws IOException {
        List<CaseSource> out = new ArrayList<>();
        try (InputStream idx = CheckCommand.class.getResourceAsStream("/cases/index.txt")) {
            if (idx == null) throw new IOException("the bundled case index /cases/index.txt is missing from the jar");
            for (String line : new String(idx.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String file = line.trim();
                if (file.isEmpty()) continue;
                out.add(new CaseSource() {
                    public String name() {
                        return file.replace(".safetensors", "");
                    }

                    public ReferenceCase load() throws IOException {
                        try (InputStream in = CheckCommand.class.getResourceAsStream("/cases/" + file)) {
                            if (in == null) throw new IOException("bundled case " + file + " is missing");
                            return ReferenceCase.load(in.readAllBytes(), file);
                        }
                    }
                });
            }
        }
        return out;
    }
}
