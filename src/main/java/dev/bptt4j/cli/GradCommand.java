package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.Backends;
import dev.bptt4j.model.ReferenceCase;
import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.model.CaseRunner;
import dev.bptt4j.tensor.Tensor;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code grad CASE OUT}: forward and backward of a case, written with the case's result names. */
final class GradCommand implements Command {
    @Override
    public String name() {
        return "grad";
    }

    @Override
    public String usage() {
        return "grad CASE.safetensors OUT.safetensors [--device cpu|gpu|cuda-emulated|auto]";
    }

    @Override
    public int run(Args args, PrintStream out) throws Exception {
        Path in = Path.of(args.positional(0, "CASE.safetensors"));
        Path dest = Path.of(args.positional(1, "OUT.safetensors"));
        String device = args.option("device", null);
        args.finish(2);
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
