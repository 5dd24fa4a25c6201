package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.model.CaseRunner;
import dev.bptt4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code grad CASE OUT}: forward and backward of a case, written with the case's result names. */
@Command(name = "grad", description = {"Write the outputs and gradients of one case.",
        "Runs the forward and backward pass of CASE and writes y, hn, grad.x, grad.h0 and grad.<param> (LSTM: also cn and grad.c0)"
                + " to OUT with the names, shapes and dtype of the case's expected tensors."})
final class GradCommand extends CliCommand {
    @Parameters(index = "0", paramLabel = "CASE", description = "The case (.safetensors; see src/main/resources/cases/README.md).")
    Path in;
    @Parameters(index = "1", paramLabel = "OUT", description = "Where to write the results (.safetensors).")
    Path dest;
    @Mixin
    Options.DeviceOption deviceOption;

    @Override
    int run(PrintStream out) throws Exception {
        String device = deviceOption.name();
        ReferenceCase c = ReferenceCase.load(in);
        Map<String, Tensor> results;
        try (Backend backend = Backends.create(device)) {
            results = CaseRunner.run(c, backend);
        }
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        SafeTensors.write(dest, results, meta);
        out.println("wrote " + results.size() + " tensors to " + dest);
        return 0;
    }
}
