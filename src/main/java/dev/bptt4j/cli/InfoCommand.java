package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.backend.cuda.CudaProbe;
import picocli.CommandLine.Command;

import java.io.PrintStream;

/** {@code info}: version, Java, and which backends work here and why not. */
@Command(name = "info", description = {"Show the version and which backends work here.",
        "Prints the version, Java, the GPU probe's verdict and, per device, its backend or why it is unavailable."})
final class InfoCommand extends CliCommand {
    @Override
    int run(PrintStream out) {
        String version = Main.class.getPackage().getImplementationVersion();
        out.println("bptt4j " + (version == null ? "(development build)" : version));
        out.println("java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + "), "
                + Runtime.getRuntime().availableProcessors() + " cores, " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        out.println("gpu probe: " + CudaProbe.verdict());
        for (String device : new String[]{"cpu", "gpu", "cuda-emulated"}) {
            try (Backend b = Backends.create(device)) {
                out.println(device + ": available: " + b.description());
                if (b.notice() != null) out.println(device + ": " + b.notice());
            } catch (Exception | LinkageError e) {
                out.println(device + ": unavailable: " + Main.oneLine(e));
            }
        }
        out.println("default device: " + Backends.defaultDevice() + " (set with --device, -Dbptt4j.device or BPTT4J_DEVICE)");
        return 0;
    }
}
