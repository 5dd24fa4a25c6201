package dev.bptt4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonParserTest {

    private static Object parse(String json) throws JsonParser.SyntaxException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        return JsonParser.parse(bytes, 0, bytes.length);
    }

    private static JsonParser.SyntaxException reject(String json, String fragment) {
        JsonParser.SyntaxException e = assertThrows(JsonParser.SyntaxException.class, () -> parse(json));
        System.out.println("rejected " + json.substring(0, Math.min(json.length(), 40)) + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
        return e;
    }

    @Test
    void parsesObjectsArraysAndScalarsInOrder() throws Exception {
        Object v = parse(" {\"b\": [1, -2, 0, 9223372036854775807, -9223372036854775808], \"a\": {\"t\": true, "
                + "\"f\": false, \"n\": null, \"s\": \"x\", \"e\": [], \"o\": {}}, \"num\": [1.5, 2e3, -0.0, 18446744073709551616]}   ");
        Map<?, ?> top = (Map<?, ?>) v;
        assertEquals(List.of("b", "a", "num"), List.copyOf(top.keySet()), "insertion order");
        assertEquals(List.of(1L, -2L, 0L, Long.MAX_VALUE, Long.MIN_VALUE), top.get("b"));
        Map<?, ?> a = (Map<?, ?>) top.get("a");
        assertEquals(Boolean.TRUE, a.get("t"));
        assertEquals(Boolean.FALSE, a.get("f"));
        assertSame(JsonParser.NULL, a.get("n"));
        assertEquals("x", a.get("s"));
        List<?> nums = (List<?>) top.get("num");
        assertEquals(new JsonParser.OtherNumber("1.5", false), nums.get(0));
        assertEquals(new JsonParser.OtherNumber("2e3", false), nums.get(1));
        assertEquals(new JsonParser.OtherNumber("-0.0", false), nums.get(2));
        assertEquals(new JsonParser.OtherNumber("18446744073709551616", true), nums.get(3), "overflow kept as text");
        System.out.println("parsed: " + v);
    }

    @Test
    void decodesEscapesAndSurrogatePairs() throws Exception {
        assertEquals("a\"b\\c/d\b\f\n\r\t", parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""));
        assertEquals("é€", parse("\"\\u00e9\\u20AC\""));
        assertEquals("😀", parse("\"\\uD83D\\uDE00\""));
        assertEquals("raw é😀 mixed \u0001", parse("\"raw é😀 mixed \\u0001\""));
        assertEquals("", parse("\"\""));
        System.out.println("escapes: \\uD83D\\uDE00 -> " + parse("\"\\uD83D\\uDE00\"") + " (exact)");
    }

    @Test
    void rejectsBadEscapesAndSurrogates() {
        reject("\"\\uD83D\"", "unpaired high surrogate");
        reject("\"\\uD83Dx\"", "unpaired high surrogate");
        reject("\"\\uD83D\\u0041\"", "instead of a low surrogate");
        reject("\"\\uDE00\"", "unpaired low surrogate");
        reject("\"\\u12G4\"", "invalid hex digit");
        reject("\"\\u12", "truncated \\u escape");
        reject("\"\\", "unterminated escape");
        reject("\"\\a\"", "invalid escape");
    }

    @Test
    void rejectsNonJsonNumbers() {
        reject("[+1]", "expected a JSON value");
        reject("[01]", "leading zero");
        reject("[1.]", "after '.'");
        reject("[.5]", "expected a JSON value");
        reject("[1e]", "exponent digit");
        reject("[-]", "expected a digit");
        reject("[NaN]", "expected a JSON value");
    }

    @Test
    void rejectsStructuralErrorsWithBytePosition() {
        JsonParser.SyntaxException e = reject("{\"a\":1 \"b\":2}", "expected ',' or '}'");
        assertEquals(7, e.bytePosition);
        reject("[1 2]", "expected ',' or ']'");
        reject("{\"a\" 1}", "expected ':'");
        reject("{1:2}", "expected a string key");
        reject("[1,]", "expected a JSON value");
        reject("{", "expected a string key");
        reject("[", "expected a JSON value");
        reject("nul", "'null'");
        reject("{} x", "after the JSON value");
        reject("{\"k\":1,\"k\":2}", "duplicate key \"k\"");
    }

    @Test
    void depthIsBounded() throws Exception {
        parse("[".repeat(JsonParser.MAX_DEPTH) + "]".repeat(JsonParser.MAX_DEPTH));
        reject("[".repeat(JsonParser.MAX_DEPTH + 1) + "]".repeat(JsonParser.MAX_DEPTH + 1), "nested deeper than 64");
        // A hostile header of a million brackets fails fast instead of overflowing the stack.
        reject("[".repeat(1_000_000), "nested deeper than 64");
        reject("{\"a\":".repeat(100_000), "nested deeper than 64");
    }

    @Test
    void longInputsAreLinear() throws Exception {
        String longString = "\"" + "a".repeat(5_000_000) + "\"";
        long t0 = System.nanoTime();
        assertEquals(5_000_000, ((String) parse(longString)).length());
        String manyDigits = "[" + "9".repeat(1_000_000) + "]";
        JsonParser.OtherNumber n = (JsonParser.OtherNumber) ((List<?>) parse(manyDigits)).get(0);
        assertTrue(n.isInteger() && n.text().length() < 50, "huge literal kept as a bounded prefix: " + n.text());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("5 MB string and 1 MB number parsed in " + ms + " ms");
        assertTrue(ms < 5_000, "took " + ms + " ms");
    }

    @Test
    void parsesOnlyTheGivenRange() throws Exception {
        byte[] bytes = "xx{\"a\":1}  yy".getBytes(StandardCharsets.UTF_8);
        assertEquals(Map.of("a", 1L), JsonParser.parse(bytes, 2, 9));
        JsonParser.SyntaxException e = assertThrows(JsonParser.SyntaxException.class, () -> JsonParser.parse(bytes, 2, 6));
        assertEquals(6, e.bytePosition, "position relative to the range: " + e.getMessage());
    }
}
