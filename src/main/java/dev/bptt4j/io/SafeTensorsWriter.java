package dev.bptt4j.io;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

/**
 * Writes safetensors bytes in the reference implementation's layout: compact JSON with
 * "__metadata__" first, keys dtype/shape/data_offsets, header padded with spaces to a multiple
 * of 8 bytes, then tensors back to back in the map's iteration order. The same inputs always
 * give the same bytes.
 */
final class SafeTensorsWriter {
    private static final int HEADER_ALIGNMENT = 8;

    private SafeTensorsWriter() {
    }

    static byte[] toBytes(Map<String, Tensor> tensors, Map<String, String> metadata) {
        if (tensors == null) throw new IllegalArgumentException("tensors must not be null");
        StringBuilder json = new StringBuilder("{");
        if (metadata != null && !metadata.isEmpty()) {
            appendString(json, SafeTensorsHeader.METADATA_KEY, "metadata key");
            json.append(":{");
            boolean first = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null) {
                    throw new IllegalArgumentException("metadata must not hold null keys or values: " + m.getKey() + "=" + m.getValue());
                }
                if (!first) json.append(',');
                first = false;
                appendString(json, m.getKey(), "metadata key");
                json.append(':');
                appendString(json, m.getValue(), "metadata value for '" + m.getKey() + "'");
            }
            json.append('}');
        }
        long dataBytes = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            requireWritable(name, t);
            long bytes = (long) t.size() * t.dtype().byteSize();
            if (json.length() > 1) json.append(',');
            appendString(json, name, "tensor name");
            json.append(":{\"dtype\":\"").append(t.dtype().safetensorsName()).append("\",\"shape\":");
            json.append(Arrays.toString(t.shape()).replace(" ", ""));
            json.append(",\"data_offsets\":[").append(dataBytes).append(',').append(dataBytes + bytes).append("]}");
            dataBytes += bytes;
        }
        json.append('}');

        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        int paddedLength = (header.length + HEADER_ALIGNMENT - 1) / HEADER_ALIGNMENT * HEADER_ALIGNMENT;
        if (paddedLength > SafeTensorsReader.MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("header would be " + paddedLength + " bytes, more than readers accept ("
                    + SafeTensorsReader.MAX_HEADER_BYTES + ")");
        }
        long total = SafeTensorsReader.LENGTH_FIELD_BYTES + paddedLength + dataBytes;
        if (total > SafeTensorsReader.MAX_FILE_BYTES) {
            throw new IllegalArgumentException("file would be " + total + " bytes; files of 2 GiB or more are not supported");
        }

        byte[] out = new byte[(int) total];
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(paddedLength);
        System.arraycopy(header, 0, out, SafeTensorsReader.LENGTH_FIELD_BYTES, header.length);
        Arrays.fill(out, SafeTensorsReader.LENGTH_FIELD_BYTES + header.length,
                SafeTensorsReader.LENGTH_FIELD_BYTES + paddedLength, (byte) ' ');
        int pos = SafeTensorsReader.LENGTH_FIELD_BYTES + paddedLength;
        for (Tensor t : tensors.values()) {
            int bytes = t.size() * t.dtype().byteSize();
            encode(t, ByteBuffer.wrap(out, pos, bytes).slice().order(ByteOrder.LITTLE_ENDIAN));
            pos += bytes;
        }
        return out;
    }

    private static void requireWritable(String name, Tensor t) {
        if (name == null) throw new IllegalArgumentException("tensor names must not be null");
        if (name.equals(SafeTensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("'" + name + "' is reserved for metadata and cannot name a tensor");
        }
        if (t == null) throw new IllegalArgumentException("tensor '" + name + "' is null");
        DType d = t.dtype();
        if (d != DType.F32 && d != DType.F64 && d != DType.I64) {
            throw new IllegalArgumentException("tensor '" + name + "' has dtype " + d
                    + "; safetensors files hold only F32, F64 and I64 here");
        }
    }

    private static void encode(Tensor t, ByteBuffer raw) {
        switch (t.dtype()) {
            case F32: raw.asFloatBuffer().put(t.f32()); break;
            case F64: raw.asDoubleBuffer().put(t.f64()); break;
            case I64: raw.asLongBuffer().put(t.i64()); break;
            default: throw new AssertionError(t.dtype());
        }
    }

    /** Appends {@code s} as a JSON string, escaping as serde_json does (raw UTF-8 otherwise). */
    private static void appendString(StringBuilder json, String s, String what) {
        json.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                json.append(c).append(s.charAt(++i));
                continue;
            }
            if (Character.isSurrogate(c)) {
                // UTF-8 cannot encode it; String.getBytes would silently write '?' instead.
                throw new IllegalArgumentException(what + " \"" + s + "\" has an unpaired surrogate at index " + i);
            }
            switch (c) {
                case '"': json.append("\\\""); break;
                case '\\': json.append("\\\\"); break;
                case '\b': json.append("\\b"); break;
                case '\f': json.append("\\f"); break;
                case '\n': json.append("\\n"); break;
                case '\r': json.append("\\r"); break;
                case '\t': json.append("\\t"); break;
                default:
                    if (c < 0x20) json.append(String.format("\\u%04x", (int) c));
                    else json.append(c);
            }
        }
        json.append('"');
    }
}
