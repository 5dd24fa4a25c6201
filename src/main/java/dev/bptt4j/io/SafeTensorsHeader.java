package dev.bptt4j.io;

import dev.bptt4j.tensor.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The validated meaning of a safetensors JSON header: where each tensor lies in the data section
 * and what it holds. Everything a hostile header could lie about is checked here, before any
 * tensor array is allocated, so that decoding may trust every entry.
 *
 * <p>Gaps between tensors and trailing bytes after the last one are accepted (the Rust/Python
 * implementation rejects them); overlapping byte ranges are not, because they would let a small
 * file decode into many large arrays.
 */
final class SafeTensorsHeader {
    static final String METADATA_KEY = "__metadata__";
    /** The largest array Java VMs reliably allocate. */
    static final int MAX_ARRAY_ELEMENTS = Integer.MAX_VALUE - 8;

    /** Dtypes defined by the safetensors format that this library deliberately does not read. */
    private static final Set<String> KNOWN_UNSUPPORTED_DTYPES = Set.of(
            "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "F16", "BF16", "C64",
            "F8_E4M3", "F8_E5M2", "F8_E8M0", "E8M0", "F4", "F6_E2M3", "F6_E3M2");

    /** One tensor's entry: {@code begin}/{@code end} are relative to the data section start. */
    record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        int elementCount() {
            return (int) (end - begin) / dtype.byteSize();
        }
    }

    private final List<Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensorsHeader(List<Entry> entries, Map<String, String> metadata) {
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Tensor entries in header order. */
    List<Entry> entries() {
        return entries;
    }

    Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Interprets a parsed header. {@code source} prefixes every message; {@code dataLength} is
     * the number of bytes after the header, which every tensor must lie within.
     */
    static SafeTensorsHeader interpret(Object root, long dataLength, String source) throws SafeTensorsException {
        if (!(root instanceof Map<?, ?> top)) {
            throw new SafeTensorsException(source + ": header must be a JSON object, found " + SafeTensorsJson.describeValue(root));
        }
        List<Entry> entries = new ArrayList<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<?, ?> member : top.entrySet()) {
            String name = (String) member.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = metadata(member.getValue(), source);
            } else {
                entries.add(entry(name, member.getValue(), dataLength, source));
            }
        }
        rejectOverlaps(entries, source);
        return new SafeTensorsHeader(Collections.unmodifiableList(entries), metadata);
    }

    private static Map<String, String> metadata(Object value, String source) throws SafeTensorsException {
        // The reference implementation reads "__metadata__": null as no metadata.
        if (value == SafeTensorsJson.NULL) return Map.of();
        if (!(value instanceof Map<?, ?> members)) {
            throw new SafeTensorsException(source + ": \"" + METADATA_KEY + "\" must be an object of strings, found "
                    + SafeTensorsJson.describeValue(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> m : members.entrySet()) {
            if (!(m.getValue() instanceof String s)) {
                throw new SafeTensorsException(source + ": \"" + METADATA_KEY + "\" value for key " + quoteName((String) m.getKey())
                        + " must be a string, found " + SafeTensorsJson.describeValue(m.getValue()));
            }
            out.put((String) m.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry entry(String name, Object value, long dataLength, String source) throws SafeTensorsException {
        String where = source + ": tensor " + quoteName(name);
        if (!(value instanceof Map<?, ?> fields)) {
            throw new SafeTensorsException(where + ": expected an object with dtype, shape and data_offsets, found "
                    + SafeTensorsJson.describeValue(value));
        }
        DType dtype = dtype(required(fields, "dtype", where), where);
        int[] shape = shape(required(fields, "shape", where), where);
        long[] offsets = offsets(required(fields, "data_offsets", where), where);
        long begin = offsets[0], end = offsets[1];

        long elements = elementCount(shape, where);
        if (begin > end) {
            throw new SafeTensorsException(where + ": data_offsets [" + begin + ", " + end + "] begin is after end");
        }
        if (end > dataLength) {
            throw new SafeTensorsException(where + ": data_offsets [" + begin + ", " + end
                    + "] end lies beyond the data section, which has " + dataLength + " bytes");
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(elements, (long) dtype.byteSize());
        } catch (ArithmeticException overflow) {
            throw new SafeTensorsException(where + ": shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs more bytes than a 64-bit count can hold", overflow);
        }
        if (end - begin != expectedBytes) {
            throw new SafeTensorsException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expectedBytes + " bytes");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static Object required(Map<?, ?> fields, String key, String where) throws SafeTensorsException {
        Object v = fields.get(key);
        if (v == null) throw new SafeTensorsException(where + ": missing \"" + key + "\"");
        return v;
    }

    private static DType dtype(Object value, String where) throws SafeTensorsException {
        if (!(value instanceof String name)) {
            throw new SafeTensorsException(where + ": \"dtype\" must be a string, found " + SafeTensorsJson.describeValue(value));
        }
        switch (name) {
            case "F32": return DType.F32;
            case "F64": return DType.F64;
            case "I64": return DType.I64;
            default:
                String kind = KNOWN_UNSUPPORTED_DTYPES.contains(name) ? "unsupported" : "unknown";
                throw new SafeTensorsException(where + ": " + kind + " dtype \"" + name
                        + "\"; only F32, F64 and I64 are supported");
        }
    }

    private static int[] shape(Object value, String where) throws SafeTensorsException {
        if (!(value instanceof List<?> dims)) {
            throw new SafeTensorsException(where + ": \"shape\" must be an array of integers, found "
                    + SafeTensorsJson.describeValue(value));
        }
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            long d = nonNegativeInteger(dims.get(i), where + ": shape[" + i + "]");
            if (d > Integer.MAX_VALUE) {
                throw new SafeTensorsException(where + ": shape[" + i + "] = " + d
                        + " exceeds the largest supported dimension " + Integer.MAX_VALUE);
            }
            shape[i] = (int) d;
        }
        return shape;
    }

    private static long[] offsets(Object value, String where) throws SafeTensorsException {
        if (!(value instanceof List<?> pair) || pair.size() != 2) {
            String found = value instanceof List<?> l ? "an array of " + l.size() + " elements" : SafeTensorsJson.describeValue(value);
            throw new SafeTensorsException(where + ": \"data_offsets\" must be [begin, end], found " + found);
        }
        return new long[] {
                nonNegativeInteger(pair.get(0), where + ": data_offsets begin"),
                nonNegativeInteger(pair.get(1), where + ": data_offsets end")};
    }

    private static long nonNegativeInteger(Object value, String what) throws SafeTensorsException {
        if (value instanceof Long n) {
            if (n < 0) throw new SafeTensorsException(what + " must be a non-negative integer, found " + n);
            return n;
        }
        if (value instanceof SafeTensorsJson.OtherNumber n && n.isInteger()) {
            throw new SafeTensorsException(what + " must be a non-negative integer that fits in 64 bits, found " + n);
        }
        throw new SafeTensorsException(what + " must be a non-negative integer, found " + SafeTensorsJson.describeValue(value));
    }

    private static long elementCount(int[] shape, String where) throws SafeTensorsException {
        long n = 1;
        for (int d : shape) {
            try {
                n = Math.multiplyExact(n, (long) d);
            } catch (ArithmeticException overflow) {
                throw new SafeTensorsException(where + ": shape " + Arrays.toString(shape)
                        + " has more elements than a 64-bit count can hold", overflow);
            }
        }
        if (n > MAX_ARRAY_ELEMENTS) {
            throw new SafeTensorsException(where + ": shape " + Arrays.toString(shape) + " has " + n
                    + " elements, more than a Java array can hold (" + MAX_ARRAY_ELEMENTS + ")");
        }
        return n;
    }

    private static void rejectOverlaps(List<Entry> entries, String source) throws SafeTensorsException {
        // Empty ranges hold no bytes, so they cannot overlap anything even when they sit inside another range.
        List<Entry> byBegin = new ArrayList<>();
        for (Entry e : entries) if (e.end() > e.begin()) byBegin.add(e);
        byBegin.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byBegin.size(); i++) {
            Entry prev = byBegin.get(i - 1), next = byBegin.get(i);
            if (next.begin() < prev.end()) {
                throw new SafeTensorsException(source + ": tensors " + quoteName(prev.name()) + " [" + prev.begin() + ", " + prev.end()
                        + "] and " + quoteName(next.name()) + " [" + next.begin() + ", " + next.end() + "] overlap in the data section");
            }
        }
    }

    /** A name in quotes for messages; hostile headers can hold megabyte-long names. */
    static String quoteName(String name) {
        return "'" + (name.length() <= 100 ? name : name.substring(0, 97) + "...") + "'";
    }
}
