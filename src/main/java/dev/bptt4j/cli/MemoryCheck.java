package dev.bptt4j.cli;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.model.ParameterSpec;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.tensor.DType;

import java.util.Comparator;
import java.util.Locale;

/**
 * Refusals, before anything large is allocated, of a command whose sizes cannot fit: a host tensor
 * beyond a Java array, host tensors beyond the Java heap left, or parameters and workspace beyond
 * what the backend can still allocate. Each says in one line what was needed and what there is,
 * where allocating first ended in an OutOfMemoryError part-way through.
 */
final class MemoryCheck {
    private MemoryCheck() {
    }

    /** The most elements a host tensor (one Java array) holds. */
    static final long MAX_ARRAY_ELEMENTS = Integer.MAX_VALUE - 8;

    /** A host tensor of {@code elements}: at most what one Java array holds. */
    static void requireArray(String tensor, long elements) {
        if (elements > MAX_ARRAY_ELEMENTS) {
            throw new IllegalArgumentException("too large: " + tensor + " would hold " + elements + " elements, more than a Java array can ("
                    + MAX_ARRAY_ELEMENTS + "); use smaller sizes");
        }
    }

    /** Java heap not yet in use: what new host tensors can take (garbage counts as used, so this errs low). */
    static long heapAvailable() {
        Runtime r = Runtime.getRuntime();
        return r.maxMemory() - (r.totalMemory() - r.freeMemory());
    }

    /** Host tensors of {@code bytes} in all ({@code what} names them) against the Java heap left. */
    static void requireHeap(String what, long bytes) {
        long available = heapAvailable();
        if (bytes > available) {
            throw new IllegalArgumentException("not enough memory: " + what + " need " + size(bytes) + " of Java heap, " + size(available)
                    + " available (-Xmx " + size(Runtime.getRuntime().maxMemory()) + "); use smaller sizes, or give Java more with"
                    + " BPTT4J_JAVA_OPTS=-Xmx<size>");
        }
    }

    /** {@code bytes} on {@code backend} ({@code what} says of what) against what it can still allocate. */
    static void requireBackend(Backend backend, String what, long bytes) {
        long available = backend.availableBytes();
        if (bytes > available) {
            // The CPU backend's memory is JavaCPP's, capped by default at the JVM's -Xmx.
            String more = backend.name().equals("cpu") ? ", or raise the limit (-Xmx, or -Dorg.bytedeco.javacpp.maxBytes)" : "";
            throw new IllegalArgumentException("not enough memory on the " + backend.name() + " backend: " + what + " need " + size(bytes) + ", "
                    + size(available) + " available; use smaller sizes" + more);
        }
    }

    /**
     * A training run (demo, train) of a stack of {@code config} under an output layer of {@code outputs}:
     * a parameter beyond one backend buffer; the largest parameter's float64 initial draw and its copy
     * beyond the Java heap; or, on the backend, the parameters four times over (values, gradients and
     * Adam's two moments), the output layer's four, the workspace of the largest pass (training chunks
     * of {@code steps} over micro-batches of {@code microBatch}, validation chunks over all {@code batch},
     * the gradient-flow forward of {@code flowSteps}), and the gradient-flow measurement's copy of the
     * stack with its own workspace. {@code label} starts each message (the option to change).
     */
    static void requireTraining(Backend backend, String label, RnnConfig config, int outputs, int steps, int batch, int microBatch, int flowSteps) {
        Rnn.requireParametersFit(config, backend);
        long bytes = config.dtype().byteSize();
        ParameterSpec largest = config.parameters().stream().max(Comparator.comparingLong(ParameterSpec::elements)).orElseThrow();
        requireArray(label + ": " + largest.name() + " in float64", largest.elements());
        requireHeap(label + ": the initial draw of " + largest.name() + " in float64 and its copy", largest.elements() * (DType.F64.byteSize() + bytes));
        long parameters = Rnn.parameterBytes(config), head = 4L * outputs * (config.outputSize() + 1) * bytes;
        long workspace = Math.max(Rnn.estimatedWorkspaceBytes(config, steps, microBatch, null, true, false),
                Math.max(Rnn.estimatedWorkspaceBytes(config, steps, batch, null, false, false),
                        Rnn.estimatedWorkspaceBytes(config, flowSteps, batch, null, false, false)));
        long flow = parameters + Rnn.estimatedWorkspaceBytes(config, flowSteps, batch, null, true, false);
        requireBackend(backend, label + ": the parameters with their gradients and Adam's moments (" + size(2 * parameters) + "), the output"
                + " layer (" + size(head) + "), a pass's workspace (" + size(workspace) + ") and the gradient-flow measurement's copy ("
                + size(flow) + ")", 2 * parameters + head + workspace + flow);
    }

    /** Bytes as people read them: 512 bytes, 12.5 KiB, 3.1 MiB, 4.0 GiB. */
    static String size(long bytes) {
        if (bytes < 1024) return bytes + " bytes";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
