package dev.bptt4j.model;

import dev.bptt4j.io.SafeTensors;
import dev.bptt4j.io.SafeTensorsException;
import dev.bptt4j.io.SafeTensorsFile;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A test case in the format of {@code shared/cases/README.md}: a stack's configuration (from
 * {@code __metadata__}), its weights by PyTorch name, inputs, upstream gradients, and, when
 * present, the expected outputs ({@code y}, {@code hn}, {@code grad.*}).
 */
public final class ReferenceCase {
    private final String name;
    private final RnnConfig config;
    private final SafeTensorsFile file;

    private ReferenceCase(String name, RnnConfig config, SafeTensorsFile file) {
        this.name = name;
        this.config = config;
        this.file = file;
    }

    public static ReferenceCase load(Path path) throws IOException {
        return from(SafeTensors.read(path), path.getFileName().toString());
    }

    public static ReferenceCase load(byte[] bytes, String name) throws IOException {
        return from(SafeTensors.read(bytes, name), name);
    }

    private static ReferenceCase from(SafeTensorsFile f, String name) throws SafeTensorsException {
        Map<String, String> m = f.metadata();
        try {
            RnnMode mode = RnnMode.parse(required(m, "mode"));
            int projSize = m.containsKey("proj_size") ? intValue(m, "proj_size") : 0;
            boolean batchFirst = m.containsKey("batch_first") && boolValue(m, "batch_first");
            RnnConfig cfg = new RnnConfig(mode, intValue(m, "input_size"), intValue(m, "hidden_size"), intValue(m, "num_layers"),
                    boolValue(m, "bidirectional"), boolValue(m, "bias"), DType.parseFloat(required(m, "dtype")), false, projSize,
                    batchFirst, 0.0);
            return new ReferenceCase(stripExtension(name), cfg, f);
        } catch (IllegalArgumentException e) {
            throw new SafeTensorsException(name + ": invalid case metadata: " + e.getMessage());
        }
    }

    private static String stripExtension(String n) {
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    private static String required(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException("__metadata__ lacks '" + key + "'");
        return v;
    }

    private static int intValue(Map<String, String> m, String key) {
        String v = required(m, key);
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("__metadata__ '" + key + "': expected an integer, got '" + v + "'");
        }
    }

    private static boolean boolValue(Map<String, String> m, String key) {
        String v = required(m, key).trim().toLowerCase(Locale.ROOT);
        if (v.equals("true")) return true;
        if (v.equals("false")) return false;
        throw new IllegalArgumentException("__metadata__ '" + key + "': expected true or false, got '" + v + "'");
    }

    public String name() {
        return name;
    }

    public RnnConfig config() {
        return config;
    }

    public Map<String, String> metadata() {
        return file.metadata();
    }

    /** A required tensor; a missing one is a clear error naming the case. */
    public Tensor tensor(String key) throws SafeTensorsException {
        return file.get(key);
    }

    /** An optional tensor, or null. */
    public Tensor optional(String key) {
        return file.tensors().get(key);
    }

    /** The parameters by PyTorch name, in the stack's order. */
    public Map<String, Tensor> weights() throws SafeTensorsException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var spec : config.parameters()) out.put(spec.name(), tensor(spec.name()));
        return out;
    }

    /** Expected results: y, the final states (hn, cn) and every grad.* tensor present in the file. */
    public Map<String, Tensor> expected() {
        java.util.Set<String> finals = new java.util.HashSet<>();
        for (var s : config.cell().states()) finals.add(s.finalName());
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : file.tensors().entrySet()) {
            String k = e.getKey();
            if (k.equals("y") || finals.contains(k) || k.startsWith("grad.")) out.put(k, e.getValue());
        }
        return out;
    }
}
