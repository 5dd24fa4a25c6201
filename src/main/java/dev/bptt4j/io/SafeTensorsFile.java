package dev.bptt4j.io;

import dev.bptt4j.tensor.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The decoded contents of one safetensors file: tensors in header order (the order of the keys in
 * the JSON header, not of their byte offsets) and the string metadata. The maps are unmodifiable;
 * the tensors are the caller's to use, each backed by its own freshly decoded array.
 */
public final class SafeTensorsFile {
    private final String sourceName;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    SafeTensorsFile(String sourceName, LinkedHashMap<String, Tensor> tensors, Map<String, String> metadata) {
        this.sourceName = sourceName;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** The file path or name given when reading; used in messages. */
    public String sourceName() {
        return sourceName;
    }

    /** All tensors, in header order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** The "__metadata__" entries, in header order; empty when the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * The tensor called {@code name}. A missing tensor is reported as a problem with the file
     * (it names the file, the tensor and what the file does contain), since callers ask for the
     * tensors a well-formed file of their kind must have.
     */
    public Tensor get(String name) throws SafeTensorsException {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new SafeTensorsException(sourceName + ": no tensor " + SafeTensorsHeader.quoteName(name)
                    + "; the file has " + describeNames());
        }
        return t;
    }

    /** The tensor names, capped so that a file with thousands of tensors still gives a readable message. */
    private String describeNames() {
        int shown = 50;
        if (tensors.size() <= shown) return tensors.keySet().toString();
        StringBuilder sb = new StringBuilder("[");
        tensors.keySet().stream().limit(shown).forEach(n -> sb.append(n).append(", "));
        return sb.append("... (").append(tensors.size() - shown).append(" more)]").toString();
    }

    @Override
    public String toString() {
        return "SafeTensorsFile(" + sourceName + ", " + tensors.size() + " tensors, metadata " + metadata.keySet() + ")";
    }
}
