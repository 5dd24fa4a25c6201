package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.model.CaseRunner;
import dev.bptt4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code grad CASE OUT}: forward and backward of a case, written with the case's result names.
 * OUT must not exist (with {@code --force} an existing file is replaced, and only once the
 * results are complete); it is never the case itself.
 */
@Command(name = "grad", description = {"Write the outputs and gradients of one case.",
        "Runs the forward and backward pass of CASE and writes y, hn, grad.x, grad.h0 and grad.<param> (LSTM: also cn and grad.c0)"
                + " to OUT with the names, shapes and dtype of the case's expected tensors. OUT must not exist unless --force."})
final class GradCommand extends CliCommand {
    @Parameters(index = "0", paramLabel = "CASE", description = "The case (.safetensors; see src/main/resources/cases/README.md).")
    Path in;
    @Parameters(index = "1", paramLabel = "OUT", description = "Where to write the results (.safetensors): a new file.")
    Path dest;
    @Option(names = "--force", description = "Replace OUT when it exists (never when it is CASE itself).")
    boolean force;
    @Mixin
    Options.DeviceOption deviceOption;

    @Override
    int run(PrintStream out) throws Exception {
        String device = deviceOption.name();
        checkPaths();
        ReferenceCase c = ReferenceCase.load(in);
        Map<String, Tensor> results;
        try (Backend backend = Backends.create(device)) {
            results = CaseRunner.run(c, backend);
        }
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        write(SafeTensors.toBytes(results, meta));
        out.println("wrote " + results.size() + " tensors to " + dest);
        return 0;
    }

    /** Refuses, before any work, an OUT that would overwrite CASE, a directory, or (without --force) any existing file. */
    private void checkPaths() throws IOException {
        if (Files.isDirectory(in)) throw new UsageException("CASE is a directory: " + in + " (grad takes one case file; check and compare take a directory)");
        if (Files.isDirectory(dest)) throw new UsageException("OUT is a directory: " + dest + " (give the name of a file to write)");
        if (Files.exists(dest)) {
            // isSameFile compares the files themselves: through symbolic links, relative paths and hard links.
            if (Files.exists(in) && Files.isSameFile(in, dest)) {
                throw new UsageException("OUT is the case itself: " + dest + " (writing the results there would destroy the case)");
            }
            if (!force) throw new UsageException("OUT exists: " + dest + " (choose a new file, or --force to replace it)");
        }
        Path parent = dest.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) throw new UsageException("OUT's directory does not exist: " + parent);
    }

    private void write(byte[] bytes) throws IOException {
        if (!force) {
            // CREATE_NEW: a file that appeared while the case ran is not overwritten either.
            Files.write(dest, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            return;
        }
        // Written beside OUT and moved over it, so a failed write leaves the old file whole.
        Path parent = dest.toAbsolutePath().getParent();
        Path partial = Files.createTempFile(parent, "." + dest.getFileName(), ".partial");
        try {
            Files.write(partial, bytes);
            Files.move(partial, dest, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }
}
