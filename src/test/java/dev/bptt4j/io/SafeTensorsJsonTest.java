package dev.bptt4j.io;

import static dev.bptt4j.io.SafeTensorsTestFiles.file;
import static dev.bptt4j.io.SafeTensorsTestFiles.oneTensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The header's JSON syntax, through the public reading API: what jackson-core (configured in
 * {@link SafeTensorsJson}) must accept, what it must refuse, and that every refusal is one clear
 * line naming the file, the problem and the byte.
 */
class SafeTensorsJsonTest {
    private static final String SOURCE = "h.safetensors";
    private static final String ENTRY = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";

    private static SafeTensorsFile read(String headerJson, int dataBytes) throws SafeTensorsException {
        return SafeTensors.read(file(headerJson, dataBytes), SOURCE);
    }

    private static SafeTensorsException reject(byte[] header, String... fragments) {
        SafeTensorsException e = assertThrows(SafeTensorsException.class,
                () -> SafeTensors.read(file(header.length, header, new byte[0]), SOURCE));
        String m = e.getMessage();
        System.out.println("rejected: " + (m.length() > 200 ? m.substring(0, 200) + "..." : m));
        assertOneCleanLine(m);
        for (String f : fragments) assertTrue(m.contains(f), "expected '" + f + "' in: " + m);
        return e;
    }

    private static SafeTensorsException reject(String headerJson, String... fragments) {
        return reject(headerJson.getBytes(StandardCharsets.UTF_8), fragments);
    }

    /** One line, naming the source, in this library's words: no parser configuration hints, no source dumps. */
    private static void assertOneCleanLine(String m) {
        assertTrue(m.startsWith(SOURCE + ": "), "names the source: " + m);
        assertFalse(m.contains("\n") || m.contains("\r"), "one line: " + m);
        assertFalse(m.contains("`") || m.contains("REDACTED") || m.contains("Source:") || m.contains("Feature"),
                "no parser configuration or source dump: " + m);
        assertTrue(m.length() < 400, "bounded length " + m.length() + ": " + m);
        for (char c : m.toCharArray()) {
            assertFalse(Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
                    || Character.getType(c) == Character.LINE_SEPARATOR, "invisible character in: " + m);
        }
    }

    @Test
    void valuesOfEveryKindParseAndKeepHeaderOrder() throws Exception {
        String extra = "[1, -2, 0, 9223372036854775807, -9223372036854775808, true, false, null, \"x\", [], {}, "
                + "1.5, 2e3, -0.0, 18446744073709551616, {\"deep\": {\"er\": [[{}]]}}]";
        String json = " \t\r\n{\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8], \"extra\": " + extra + "},\n"
                + "  \"__metadata__\": {\"z\": \"1\", \"a\": \"2\", \"m\": \"3\"},\n"
                + "  \"a\": " + ENTRY + "}\r\n\t ";
        SafeTensorsFile f = read(json, 8);
        assertEquals(List.of("b", "a"), List.copyOf(f.tensors().keySet()), "tensors in header order");
        assertEquals(List.of("z", "a", "m"), List.copyOf(f.metadata().keySet()), "metadata in header order");
        // A null "__metadata__" is no metadata (as in the reference implementation).
        assertTrue(read("{\"__metadata__\":null}", 0).metadata().isEmpty());
    }

    @Test
    void integersAreLongsAndEverythingElseIsReportedAsWritten() {
        reject(oneTensor("w", "\"F32\"", "[1]", "[0,9223372036854775807]"), "end lies beyond the data section");
        reject(oneTensor("w", "\"F32\"", "[-9223372036854775808]", "[0,4]"), "shape[0]", "non-negative", "-9223372036854775808");
        reject(oneTensor("w", "\"F32\"", "[1]", "[0,18446744073709551616]"), "end", "fits in 64 bits", "18446744073709551616");
        reject(oneTensor("w", "\"F32\"", "[2e3]", "[0,4]"), "shape[0]", "found number 2e3");
        reject(oneTensor("w", "\"F32\"", "[-0.0]", "[0,4]"), "shape[0]", "found number -0.0");
        reject(oneTensor("w", "\"F32\"", "[1]", "[0.0,4]"), "begin", "found number 0.0");
        reject(oneTensor("w", "\"F32\"", "[null]", "[0,4]"), "shape[0]", "found null");
        // A long literal is quoted only in part.
        String digits = "1".repeat(90);
        SafeTensorsException e = reject(oneTensor("w", "\"F32\"", "[" + digits + "]", "[0,4]"), "fits in 64 bits", "1".repeat(40) + "...");
        assertFalse(e.getMessage().contains(digits), e.getMessage());
    }

    @Test
    void escapesDecodeExactly() throws Exception {
        String json = "{\"__metadata__\":{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\"u\":\"\\u00e9\\u20AC\",\"pair\":\"\\uD83D\\uDE00\","
                + "\"raw\":\"raw é😀 mixed \\u0001\",\"empty\":\"\",\"k\\u00e9y\":\"v\"},"
                + "\"w\\u00e9\":" + ENTRY + "}";
        SafeTensorsFile f = read(json, 4);
        Map<String, String> m = f.metadata();
        assertEquals("a\"b\\c/d\b\f\n\r\t", m.get("s"));
        assertEquals("é€", m.get("u"));
        assertEquals("😀", m.get("pair"));
        assertEquals("raw é😀 mixed \u0001", m.get("raw"));
        assertEquals("", m.get("empty"));
        assertEquals("v", m.get("kéy"), "escaped keys decode too");
        assertTrue(f.contains("wé"), "escaped tensor name: " + f.tensors().keySet());
    }

    @Test
    void unpairedSurrogatesAndBadEscapesAreRefused() {
        // Position: the string that holds the half pair ({"__metadata__":{"k": is 21 bytes).
        reject("{\"__metadata__\":{\"k\":\"\\uD83D\"}}", "not valid JSON", "unpaired high surrogate \\uD83D", "header byte 21");
        reject("{\"__metadata__\":{\"k\":\"\\uD83Dx\"}}", "unpaired high surrogate \\uD83D");
        reject("{\"__metadata__\":{\"k\":\"\\uD83D\\u0041\"}}", "unpaired high surrogate \\uD83D");
        reject("{\"__metadata__\":{\"k\":\"\\uD83D\\uD83D\\uDE00\"}}", "unpaired high surrogate \\uD83D");
        reject("{\"__metadata__\":{\"k\":\"\\uDE00\"}}", "unpaired low surrogate \\uDE00");
        // In keys, Jackson refuses them itself.
        reject("{\"__metadata__\":{\"\\uDE00\":\"v\"}}", "not valid JSON", "low surrogate in field name: 0xde00");
        reject("{\"w\\uD800\":" + ENTRY + "}", "not valid JSON", "broken surrogate pair in field name");
        reject("{\"w\\uD800\\u0041\":" + ENTRY + "}", "not valid JSON", "broken surrogate pair in field name", "0x0041");
        reject("{\"__metadata__\":{\"k\":\"\\u12G4\"}}", "not valid JSON", "'G'", "hex-digit", "header byte 26");
        reject("{\"__metadata__\":{\"k\":\"\\a\"}}", "not valid JSON", "invalid escape: backslash followed by 'a'");
        reject("{\"__metadata__\":{\"k\":\"\\u12", "not valid JSON", "unterminated string", "escape sequence", "header byte 21");
        reject("{\"__metadata__\":{\"k\":\"\\", "not valid JSON", "unterminated string", "escape sequence");
        reject("{\"__metadata__\":{\"k", "not valid JSON", "unterminated string");
    }

    @Test
    void nonJsonNumbersAreRefused() {
        String[][] cases = {
            {"+1", "plus sign"}, {"01", "leading zero in number"}, {"-01", "leading zero in number"}, {"1.", "Decimal point"},
            {".5", "expected a valid value"}, {"1e", "Exponent indicator"}, {"1e+", "Exponent indicator"}, {"-", "minus sign"},
            {"NaN", "'NaN'"}, {"Infinity", "'Infinity'"}, {"-Infinity", "Infinity"}, {"0x10", "'x'"}, {"1_000", "'_'"},
        };
        for (String[] c : cases) reject(oneTensor("w", "\"F32\"", "[" + c[0] + "]", "[0,4]"), "not valid JSON", c[1]);
    }

    @Test
    void structuralErrorsNameTheByte() {
        reject("{\"a\":1 \"b\":2}", "not valid JSON", "comma", "header byte 7", "file offset 15");
        reject("[1 2]", "comma", "header byte 3");
        reject("{\"a\" 1}", "colon", "header byte 5");
        reject("{1:2}", "expected a string key", "header byte 1");
        reject("{a:1}", "expected a string key");
        reject("{'a':1}", "expected a string key");
        reject("{\"a\":'x'}", "not valid JSON", "header byte 5");
        reject("{\"a\":1,}", "expected a string key", "header byte 7");
        reject("[1,]", "expected a value", "header byte 3");
        reject("{\"a\":[1,2}", "close marker '}'", "header byte 9");
        reject("{\"a\":1]", "close marker ']'", "header byte 6");
        reject("]", "close marker ']'", "header byte 0");
        reject("{", "unexpected end of header inside an object", "header byte 1");
        reject("[", "unexpected end of header inside an array", "header byte 1");
        reject("{\"a\":", "unexpected end of header");
        reject("{\"a\":1,", "unexpected end of header");
        reject("", "unexpected end of header, expected a JSON value", "header byte 0");
        reject("  \n ", "unexpected end of header, expected a JSON value", "header byte 4");
        reject("nul", "'nul'", "header byte 0");
        reject("{\"a\":tru}", "'tru'", "'true'");
        reject("{} x", "unexpected 'x' after the JSON value", "header byte 3");
        reject("{}{}", "unexpected '{' after the JSON value", "header byte 2");
        reject("{}\u0000", "unexpected byte 0x00 after the JSON value", "header byte 2");
        reject("{\"a\":[1,/*c*/2]}", "not valid JSON", "comment");
        reject("{\"a\":\"x\"\n\"b\":1}", "not valid JSON", "header byte 9");
    }

    @Test
    void onlyUtf8JsonIsRead() {
        byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '{', '}'};
        reject(bom, "not valid JSON", "\\uFEFF");
        reject("{}".getBytes(StandardCharsets.UTF_16BE), "not valid JSON", "header byte 0");
        reject("{}".getBytes(StandardCharsets.UTF_16LE), "not valid JSON", "header byte 1");
        reject(new byte[] {0, 0, 0, '{', 0, 0, 0, '}'}, "not valid JSON", "header byte 0");
        reject(new byte[] {(byte) 0xFF}, "not valid UTF-8", "header byte 0");
        reject(new byte[] {'"', (byte) 0xC0, (byte) 0x80, '"'}, "not valid UTF-8", "header byte 1");
        reject(new byte[] {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'}, "not valid UTF-8", "header byte 1");
        // Only space, tab, CR and LF separate tokens.
        for (String ws : new String[] {"\u000B", "\u000C", "\u001E", "\u00A0", "\u2028", "\uFEFF"}) {
            reject("{\"a\":" + ws + "1}", "not valid JSON", "header byte 5");
        }
        reject("{\"a\":\"\u0001\"}", "unescaped control character (code 1) in string", "header byte 6");
        reject("{\"a\u001F\":1}", "unescaped control character (code 31) in string", "header byte 3");
        reject("{é:1}", "not valid JSON", "é", "header byte 1");
        reject("{\"a\":€}", "not valid JSON", "€", "header byte 5");
    }

    @Test
    void duplicateKeysAreRefusedAtEveryLevel() {
        reject("{\"a\":1,\"a\":2}", "duplicate key \"a\"", "header byte 10");
        reject("{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"");
        reject("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "duplicate key \"k\"");
        reject("{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate key \"__metadata__\"");
        reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":[{\"x\":1,\"x\":2}]}}", "duplicate key \"x\"");
        String name = "n".repeat(100_000);
        SafeTensorsException e = reject("{\"" + name + "\":1,\"" + name + "\":2}", "duplicate key \"nnn", "...\"");
        assertTrue(e.getMessage().length() < 200, e.getMessage());
    }

    @Test
    void nestingIsBounded() {
        int limit = SafeTensorsJson.MAX_DEPTH;
        // The object and 63 arrays: 64 levels, within the bound; then refused for what it means.
        reject("{\"a\":" + "[".repeat(limit - 1) + "]".repeat(limit - 1) + "}", "tensor 'a'", "found an array");
        // One more: the 64th bracket (byte 5 + 63) is one level too deep.
        reject("{\"a\":" + "[".repeat(limit) + "]".repeat(limit) + "}", "not valid JSON", "nested deeper than 64", "header byte 68");
        reject("[".repeat(limit + 1) + "]".repeat(limit + 1), "nested deeper than 64", "header byte 64");
        // Hostile headers of a million brackets fail fast instead of overflowing the stack.
        long t0 = System.nanoTime();
        reject("[".repeat(1_000_000), "nested deeper than 64");
        reject("{\"a\":".repeat(100_000), "nested deeper than 64");
        reject("[{\"a\":".repeat(100_000), "nested deeper than 64");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 5_000, "took " + ms + " ms");
    }

    @Test
    void limitsSuitAHeader() throws Exception {
        long t0 = System.nanoTime();
        // Strings and names may be as long as the header allows: beyond Jackson's defaults (20 000 000 and 50 000 characters).
        String longValue = "v".repeat(20_000_001);
        String longKey = "k".repeat(60_000);
        SafeTensorsFile f = read("{\"__metadata__\":{\"" + longKey + "\":\"" + longValue + "\",\"s\":\"" + "é".repeat(100_000) + "\"}}", 0);
        assertEquals(20_000_001, f.metadata().get(longKey).length());
        assertEquals(100_000, f.metadata().get("s").length());
        // Numbers may not: offsets need 20 digits at most.
        reject(oneTensor("w", "\"F32\"", "[" + "9".repeat(SafeTensorsJson.MAX_NUMBER_LENGTH) + "]", "[0,4]"), "fits in 64 bits");
        reject(oneTensor("w", "\"F32\"", "[" + "9".repeat(SafeTensorsJson.MAX_NUMBER_LENGTH + 1) + "]", "[0,4]"),
                "not valid JSON", "(101) exceeds the maximum allowed (100)");
        reject(oneTensor("w", "\"F32\"", "[1." + "5".repeat(SafeTensorsJson.MAX_NUMBER_LENGTH) + "]", "[0,4]"),
                "not valid JSON", "exceeds the maximum allowed (100)");
        reject("{\"extra\":[" + "9".repeat(1_000_000) + "]}", "not valid JSON", "(1000000) exceeds the maximum allowed (100)");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("20 MB string, 1 MB number and the rest in " + ms + " ms");
        assertTrue(ms < 10_000, "took " + ms + " ms");
    }

    @Test
    void onlyTheHeaderIsParsed() throws Exception {
        // The length field ends the header before its closing brace, which lies in the data section.
        byte[] json = "{\"a\":1".getBytes(StandardCharsets.UTF_8);
        SafeTensorsException e = assertThrows(SafeTensorsException.class,
                () -> SafeTensors.read(file(json.length, json, "}".getBytes(StandardCharsets.UTF_8)), SOURCE));
        assertTrue(e.getMessage().contains("unexpected end of header inside an object at header byte 6 (file offset 14)"), e.getMessage());
        // Data bytes need not be UTF-8 or JSON.
        byte[] header = ("{\"w\":" + ENTRY.replace("[0,4]", "[2,6]") + "}   ").getBytes(StandardCharsets.UTF_8);
        byte[] data = {(byte) 0xFF, (byte) 0xFE, '{', '"', 0, (byte) 0xC0};
        assertEquals(1, SafeTensors.read(file(header.length, header, data), SOURCE).get("w").size());
    }
}
