package dev.bptt4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsRoundTripTest {

    private static Map<String, Tensor> sampleTensors() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("w32", Tensor.of(new float[] {1.5f, -0.0f, Float.NaN, Float.intBitsToFloat(0x7fc01234),
                Float.POSITIVE_INFINITY, Float.MIN_VALUE}, 2, 3));
        t.put("w64", Tensor.of(new double[] {Math.PI, -Math.E, Double.longBitsToDouble(0x7ff8000000abcdefL),
                Double.MIN_VALUE, -0.0, 1e300}, 3, 1, 2));
        t.put("lengths", Tensor.of(new long[] {Long.MIN_VALUE, -1, 0, 7, Long.MAX_VALUE}, 5));
        t.put("scalar", Tensor.of(new double[] {42.25}));
        t.put("empty", Tensor.zeros(DType.F32, 4, 0, 3));
        t.put("empty_i64", Tensor.zeros(DType.I64, 0));
        t.put("après \"quoted\"\n\\tab\t😀", Tensor.of(new float[] {3f}, 1));
        return t;
    }

    private static Map<String, String> sampleMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("mode", "RNN_TANH");
        m.put("hidden_size", "6");
        m.put("note", "unicode ✓ 😀, control \u0001, quote \" and backslash \\");
        m.put("empty", "");
        return m;
    }

    @Test
    void roundTripThroughFileIsBitExact(@TempDir Path dir) throws IOException {
        Map<String, Tensor> tensors = sampleTensors();
        Map<String, String> metadata = sampleMetadata();
        Path file = dir.resolve("sample.safetensors");
        SafeTensors.write(file, tensors, metadata);

        SafeTensorsFile read = SafeTensors.read(file);
        assertEquals(metadata, read.metadata());
        System.out.println("metadata: " + read.metadata().size() + " entries, equal");
        assertEquals(tensors.keySet().stream().toList(), read.tensors().keySet().stream().toList(), "header order");
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor expected = e.getValue(), actual = read.get(e.getKey());
            assertEquals(expected.dtype(), actual.dtype(), e.getKey());
            assertArrayEquals(expected.shape(), actual.shape(), e.getKey());
            assertArrayEquals(rawBits(expected), rawBits(actual), e.getKey() + ": raw bits");
            System.out.println(e.getKey() + ": " + actual + ", " + maxDiff(expected, actual) + " (bit-exact)");
        }
    }

    @Test
    void scalarAndZeroSizeShapesSurvive() throws IOException {
        SafeTensorsFile read = SafeTensors.read(SafeTensors.toBytes(sampleTensors(), null), "sample");
        assertArrayEquals(new int[0], read.get("scalar").shape());
        assertEquals(42.25, read.get("scalar").f64()[0]);
        assertArrayEquals(new int[] {4, 0, 3}, read.get("empty").shape());
        assertEquals(0, read.get("empty").size());
        assertArrayEquals(new int[] {0}, read.get("empty_i64").shape());
        assertTrue(read.metadata().isEmpty(), "no metadata written for null");
        System.out.println("scalar: shape [] value 42.25 (exact); empty: shape [4, 0, 3], 0 elements");
    }

    @Test
    void outputIsDeterministicAndMatchesReferenceLayout() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("b", Tensor.of(new float[] {1f, 2f}, 2));
        tensors.put("a", Tensor.of(new long[] {3}, 1, 1));
        byte[] bytes = SafeTensors.toBytes(tensors, Map.of("k", "v"));
        assertArrayEquals(bytes, SafeTensors.toBytes(tensors, Map.of("k", "v")), "same input, same bytes");

        long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        String expectedJson = "{\"__metadata__\":{\"k\":\"v\"},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[8,16]}}";
        System.out.println("header (" + headerLength + " bytes): [" + header + "]");
        assertEquals(0, headerLength % 8, "header padded to a multiple of 8");
        assertEquals(expectedJson, header.stripTrailing());
        assertTrue(header.substring(expectedJson.length()).chars().allMatch(c -> c == ' '), "padding is spaces");
        assertEquals(8 + headerLength + 16, bytes.length);
        ByteBuffer data = ByteBuffer.wrap(bytes, 8 + (int) headerLength, 16).slice().order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1f, data.getFloat(0));
        assertEquals(2f, data.getFloat(4));
        assertEquals(3L, data.getLong(8));
    }

    @Test
    void writerRejectsWhatTheFormatCannotHold() {
        IllegalArgumentException i32 = assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.toBytes(Map.of("idx", Tensor.ofInts(new int[] {1}, 1)), null));
        System.out.println("I32: " + i32.getMessage());
        assertTrue(i32.getMessage().contains("idx") && i32.getMessage().contains("I32"), i32.getMessage());

        IllegalArgumentException reserved = assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.toBytes(Map.of("__metadata__", Tensor.of(new float[] {1f}, 1)), null));
        assertTrue(reserved.getMessage().contains("reserved"), reserved.getMessage());

        IllegalArgumentException surrogate = assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.toBytes(Map.of("bad\uD800", Tensor.of(new float[] {1f}, 1)), null));
        assertTrue(surrogate.getMessage().contains("surrogate"), surrogate.getMessage());
    }

    @Test
    void emptyFileRoundTrips() throws IOException {
        SafeTensorsFile read = SafeTensors.read(SafeTensors.toBytes(Map.of(), Map.of()), "empty");
        assertTrue(read.tensors().isEmpty() && read.metadata().isEmpty());
    }

    static long[] rawBits(Tensor t) {
        switch (t.dtype()) {
            case F32: {
                float[] a = t.f32();
                long[] bits = new long[a.length];
                for (int i = 0; i < a.length; i++) bits[i] = Float.floatToRawIntBits(a[i]);
                return bits;
            }
            case F64: return Arrays.stream(t.f64()).mapToLong(Double::doubleToRawLongBits).toArray();
            case I64: return t.i64().clone();
            default: throw new AssertionError(t.dtype());
        }
    }

    static String maxDiff(Tensor expected, Tensor actual) {
        double max = 0;
        for (int i = 0; i < expected.size(); i++) {
            double a = expected.getDouble(i), b = actual.getDouble(i);
            if (Double.compare(a, b) != 0) max = Math.max(max, Math.abs(a - b));
        }
        return "max diff " + max;
    }
}
