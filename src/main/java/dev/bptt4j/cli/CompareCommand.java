package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.backend.cuda.CudaProbe;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.model.CaseRunner;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code compare CASE|DIR}: runs each case on the CPU backend and on the GPU backend (the
 * emulated one when no GPU is usable, and it says so) and prints, per tensor, the largest
 * elementwise difference relative to the CPU tensor's largest magnitude,
 * {@code max|gpu − cpu| / max|cpu|}. Differences above 1e-12 (float64) or 1e-5 (float32) fail.
 */
@Command(name = "compare", description = {"Compare the GPU backend with the CPU, per tensor.",
        "Runs each case on the CPU and on a GPU backend (the emulated one, saying so, when no GPU is usable) and prints per tensor"
                + " max|gpu − cpu| / max|cpu|; above 1e-5 (float32) or 1e-12 (float64) fails (exit 1)."})
final class CompareCommand extends CliCommand {
    @Parameters(index = "0", paramLabel = "CASE|DIR", description = "A case (.safetensors), or a directory of them.")
    Path where;
    @Option(names = "--device", paramLabel = "DEVICE", converter = Options.GpuDevice.class, completionCandidates = Options.GpuDevice.class,
            description = "The backend compared with the CPU: ${COMPLETION-CANDIDATES} (default: gpu when one is usable, else cuda-emulated).")
    Options.Device gpuDevice;

    static double tolerance(DType dtype) {
        return dtype == DType.F32 ? 1e-5 : 1e-12;
    }

    @Override
    int run(PrintStream out) throws Exception {
        String device = gpuDevice == null ? null : gpuDevice.label;
        if (device == null) {
            CudaProbe.Verdict gpu = CudaProbe.verdict();
            device = gpu.usable() ? "gpu" : "cuda-emulated";
            if (!gpu.usable()) out.println("no usable GPU (" + gpu.detail() + "): comparing with the emulated CUDA backend");
        }
        List<Path> files = cases(where);
        int cases = 0, tensors = 0, above = 0, failed = 0;
        double largest = 0;
        String largestAt = "-";
        try (Backend cpu = new CpuBackend(); Backend gpu = Backends.create(device)) {
            out.println("reference: " + cpu.description());
            out.println("compared:  " + gpu.description());
            out.printf("%-28s %-26s %14s %10s  %s%n", "case", "tensor", "max rel.diff", "tolerance", "result");
            for (Path file : files) {
                String name = file.getFileName().toString().replace(".safetensors", "");
                Map<String, Tensor> onCpu, onGpu;
                ReferenceCase c;
                try {
                    c = ReferenceCase.load(file);
                    onCpu = CaseRunner.run(c, cpu);
                    onGpu = CaseRunner.run(c, gpu);
                } catch (UnsupportedOperationException e) {
                    out.printf("%-28s %-26s %14s %10s  SKIP (%s)%n", name, "-", "-", "-", e.getMessage());
                    continue;
                } catch (IOException | RuntimeException e) {
                    out.printf("%-28s %-26s %14s %10s  FAIL (%s)%n", name, "-", "-", "-", Main.oneLine(e));
                    failed++;
                    continue;
                }
                cases++;
                double tol = tolerance(c.config().dtype());
                for (Map.Entry<String, Tensor> e : onCpu.entrySet()) {
                    double d = largestRelativeDifference(onGpu.get(e.getKey()), e.getValue());
                    boolean ok = d <= tol;
                    out.printf("%-28s %-26s %14.3e %10.0e  %s%n", name, e.getKey(), d, tol, ok ? "ok" : "ABOVE");
                    tensors++;
                    if (!ok) above++;
                    if (!(d <= largest)) {
                        largest = d;
                        largestAt = name + " " + e.getKey();
                    }
                }
            }
        }
        out.printf("%d case(s), %d tensor(s) compared: largest relative difference %.3e (%s); %d above tolerance, %d case(s) failed%n",
                cases, tensors, largest, largestAt, above, failed);
        return above == 0 && failed == 0 && cases > 0 ? 0 : 1;
    }

    /** max|a − b| / max|b| (0 when both are zero; NaN or a shape mismatch gives NaN). */
    static double largestRelativeDifference(Tensor a, Tensor b) {
        if (a == null || !java.util.Arrays.equals(a.shape(), b.shape())) return Double.NaN;
        double diff = 0, scale = 0;
        for (int i = 0; i < b.size(); i++) {
            double x = a.getDouble(i), y = b.getDouble(i);
            double d = Math.abs(x - y);
            if (Double.isNaN(d)) return Double.NaN;
            diff = Math.max(diff, d);
            scale = Math.max(scale, Math.abs(y));
        }
        return diff == 0 ? 0 : diff / scale;
    }

    private static List<Path> cases(Path where) throws IOException {
        if (!Files.exists(where)) throw new UsageException("no such case or directory: " + where);
        // Anything else that exists is taken as a case: its loading says what is wrong with it (a device, a pipe).
        if (!Files.isDirectory(where)) return List.of(where);
        try (Stream<Path> s = Files.list(where)) {
            List<Path> out = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            if (out.isEmpty()) throw new UsageException("no *.safetensors cases in " + where);
            return out;
        }
    }
}
