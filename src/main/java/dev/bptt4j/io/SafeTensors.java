package dev.bptt4j.io;

import dev.bptt4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length, a UTF-8
 * JSON header, then raw little-endian row-major tensor data. Only F32, F64 and I64 tensors are
 * supported. Files are read whole into memory and must be smaller than 2 GiB.
 *
 * <p>Reading is strict: anything malformed is a {@link SafeTensorsException} naming the source,
 * the tensor and the expected versus actual value, raised before any allocation sized by the
 * file's claims. One deliberate leniency: unused gaps between tensors and trailing bytes are
 * accepted (the reference implementation rejects them); overlapping tensors are not.
 */
public final class SafeTensors {
    private SafeTensors() {
    }

    /** Reads a file; the file's size is checked before anything is allocated, and never exceeded. */
    public static SafeTensorsFile read(Path path) throws IOException {
        return SafeTensorsReader.read(path);
    }

    /** Decodes safetensors bytes; {@code sourceName} (e.g. a resource name) prefixes error messages. */
    public static SafeTensorsFile read(byte[] bytes, String sourceName) throws SafeTensorsException {
        return SafeTensorsReader.read(bytes, sourceName == null ? "<safetensors bytes>" : sourceName);
    }

    /**
     * Encodes tensors (in the map's iteration order) and optional metadata ({@code null} or empty
     * for none). Deterministic: equal inputs give equal bytes.
     *
     * @throws IllegalArgumentException for I32 tensors, the reserved name "__metadata__", null
     *     names, values or metadata entries, strings with unpaired surrogates, or output of 2 GiB or more
     */
    public static byte[] toBytes(Map<String, Tensor> tensors, Map<String, String> metadata) {
        return SafeTensorsWriter.toBytes(tensors, metadata);
    }

    /** Writes {@link #toBytes} to {@code path}, replacing any existing file. */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Files.write(path, toBytes(tensors, metadata));
    }
}
