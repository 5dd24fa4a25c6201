package dev.bptt4j.io;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 JSON parser over UTF-8 bytes, just big enough for safetensors headers, which
 * come from untrusted files. Hence: nesting depth is bounded (no stack overflow), every step
 * consumes input (linear time, no backtracking), duplicate keys are rejected (a second
 * "data_offsets" must not silently win), and lone surrogates are rejected.
 *
 * <p>Values map to: {@code Map<String,Object>} (insertion-ordered, unmodifiable),
 * {@code List<Object>} (unmodifiable), {@code String}, {@code Long} for integers that fit,
 * {@link OtherNumber} for fractions, exponents and out-of-range integers (kept as text so the
 * caller can say "shape[0] = 1.5" instead of the parser guessing what is acceptable),
 * {@code Boolean}, and {@link #NULL}.
 */
final class JsonParser {
    static final int MAX_DEPTH = 64;

    /** JSON null; a sentinel so that "key present with null" differs from "key missing". */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** A number that is not an integer within the range of long, kept as its literal text. */
    record OtherNumber(String text, boolean isInteger) {
        @Override
        public String toString() {
            return text;
        }
    }

    /** A syntax or encoding error at a byte position relative to the start of the parsed range. */
    static final class SyntaxException extends Exception {
        private static final long serialVersionUID = 1L;
        final long bytePosition;
        /** True when the bytes are not UTF-8 at all, as opposed to UTF-8 that is not JSON. */
        final boolean badEncoding;

        SyntaxException(String message, long bytePosition) {
            this(message, bytePosition, false);
        }

        SyntaxException(String message, long bytePosition, boolean badEncoding) {
            super(message + " at header byte " + bytePosition);
            this.bytePosition = bytePosition;
            this.badEncoding = badEncoding;
        }
    }

    private final byte[] in;
    private final int start;
    private final int end;
    private int pos;
    private int depth;

    private JsonParser(byte[] in, int start, int end) {
        this.in = in;
        this.start = start;
        this.end = end;
        this.pos = start;
    }

    /** Parses exactly one JSON value in {@code in[offset, offset+length)}, surrounded only by whitespace. */
    static Object parse(byte[] in, int offset, int length) throws SyntaxException {
        requireUtf8(in, offset, length);
        JsonParser p = new JsonParser(in, offset, offset + length);
        p.skipWhitespace();
        Object value = p.value();
        p.skipWhitespace();
        if (p.pos != p.end) throw p.error("unexpected " + p.describe(p.pos) + " after the JSON value");
        return value;
    }

    /** Describes a JSON value's type for messages: "string \"F16\"", "number 1.5", "object". */
    static String describeValue(Object v) {
        if (v instanceof String s) return "string \"" + abbreviate(s) + "\"";
        if (v instanceof Long || v instanceof OtherNumber) return "number " + abbreviate(v.toString());
        if (v instanceof Boolean) return "boolean " + v;
        if (v == NULL) return "null";
        if (v instanceof Map) return "an object";
        if (v instanceof List) return "an array";
        return String.valueOf(v);
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    /**
     * Validates UTF-8 up front so that an invalid sequence is reported as such, rather than as
     * whatever syntax error it happens to cause, and so strings can later be decoded run by run.
     */
    private static void requireUtf8(byte[] in, int offset, int length) throws SyntaxException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer bytes = ByteBuffer.wrap(in, offset, length);
        CharBuffer chars = CharBuffer.allocate(8192);
        while (true) {
            CoderResult result = decoder.decode(bytes, chars, true);
            if (result.isError()) {
                throw new SyntaxException("malformed UTF-8 sequence", bytes.position() - offset, true);
            }
            chars.clear();
            if (result.isUnderflow()) return;
        }
    }

    private Object value() throws SyntaxException {
        if (pos >= end) throw error("unexpected end of header, expected a JSON value");
        byte b = in[pos];
        switch (b) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': literal("true"); return Boolean.TRUE;
            case 'f': literal("false"); return Boolean.FALSE;
            case 'n': literal("null"); return NULL;
            default:
                if (b == '-' || (b >= '0' && b <= '9')) return number();
                throw error("unexpected " + describe(pos) + ", expected a JSON value");
        }
    }

    private Map<String, Object> object() throws SyntaxException {
        enter();
        pos++; // '{'
        Map<String, Object> members = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            depth--;
            return Collections.unmodifiableMap(members);
        }
        while (true) {
            skipWhitespace();
            if (peek() != '"') throw error("unexpected " + describe(pos) + ", expected a string key");
            int keyPos = pos;
            String key = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            Object v = value();
            if (members.putIfAbsent(key, v) != null) {
                throw new SyntaxException("duplicate key \"" + abbreviate(key) + "\"", keyPos - start);
            }
            skipWhitespace();
            byte b = peek();
            if (b == ',') {
                pos++;
            } else if (b == '}') {
                pos++;
                depth--;
                return Collections.unmodifiableMap(members);
            } else {
                throw error("unexpected " + describe(pos) + ", expected ',' or '}'");
            }
        }
    }

    private List<Object> array() throws SyntaxException {
        enter();
        pos++; // '['
        List<Object> elements = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            depth--;
            return Collections.unmodifiableList(elements);
        }
        while (true) {
            skipWhitespace();
            elements.add(value());
            skipWhitespace();
            byte b = peek();
            if (b == ',') {
                pos++;
            } else if (b == ']') {
                pos++;
                depth--;
                return Collections.unmodifiableList(elements);
            } else {
                throw error("unexpected " + describe(pos) + ", expected ',' or ']'");
            }
        }
    }

    private void enter() throws SyntaxException {
        if (++depth > MAX_DEPTH) throw error("JSON nested deeper than " + MAX_DEPTH + " levels");
    }

    private String string() throws SyntaxException {
        int openPos = pos;
        pos++; // '"'
        StringBuilder sb = new StringBuilder();
        int runStart = pos; // raw bytes not yet appended; UTF-8 was validated, so runs decode cleanly
        while (true) {
            if (pos >= end) throw new SyntaxException("unterminated string", openPos - start);
            int b = in[pos] & 0xFF;
            if (b == '"') {
                appendRun(sb, runStart, pos);
                pos++;
                return sb.toString();
            } else if (b == '\\') {
                appendRun(sb, runStart, pos);
                escape(sb);
                runStart = pos;
            } else if (b < 0x20) {
                throw error("unescaped control character " + describe(pos) + " in string");
            } else {
                pos++;
            }
        }
    }

    private void appendRun(StringBuilder sb, int from, int to) {
        if (to > from) sb.append(new String(in, from, to - from, StandardCharsets.UTF_8));
    }

    private void escape(StringBuilder sb) throws SyntaxException {
        int escPos = pos;
        pos++; // '\\'
        if (pos >= end) throw new SyntaxException("unterminated escape sequence", escPos - start);
        byte b = in[pos++];
        switch (b) {
            case '"': sb.append('"'); break;
            case '\\': sb.append('\\'); break;
            case '/': sb.append('/'); break;
            case 'b': sb.append('\b'); break;
            case 'f': sb.append('\f'); break;
            case 'n': sb.append('\n'); break;
            case 'r': sb.append('\r'); break;
            case 't': sb.append('\t'); break;
            case 'u': {
                char c = hex4(escPos);
                if (Character.isHighSurrogate(c)) {
                    int lowPos = pos;
                    if (pos + 1 < end && in[pos] == '\\' && in[pos + 1] == 'u') {
                        pos += 2;
                        char low = hex4(lowPos);
                        if (!Character.isLowSurrogate(low)) {
                            throw new SyntaxException("high surrogate \\u" + hex(c) + " followed by \\u" + hex(low)
                                    + " instead of a low surrogate", escPos - start);
                        }
                        sb.append(c).append(low);
                    } else {
                        throw new SyntaxException("unpaired high surrogate \\u" + hex(c), escPos - start);
                    }
                } else if (Character.isLowSurrogate(c)) {
                    throw new SyntaxException("unpaired low surrogate \\u" + hex(c), escPos - start);
                } else {
                    sb.append(c);
                }
                break;
            }
            default:
                throw new SyntaxException("invalid escape: backslash followed by " + printable(b & 0xFF), escPos - start);
        }
    }

    private char hex4(int escPos) throws SyntaxException {
        if (end - pos < 4) throw new SyntaxException("truncated \\u escape", escPos - start);
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(in[pos] & 0xFF, 16);
            if (d < 0) throw error("invalid hex digit " + describe(pos) + " in \\u escape");
            v = v * 16 + d;
            pos++;
        }
        return (char) v;
    }

    private static String hex(char c) {
        return String.format("%04X", (int) c);
    }

    private Object number() throws SyntaxException {
        int numStart = pos;
        boolean integer = true;
        if (peek() == '-') pos++;
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) throw error("leading zero in number");
        } else if (isDigit(peek())) {
            while (isDigit(peek())) pos++;
        } else {
            throw error("unexpected " + describe(pos) + ", expected a digit");
        }
        if (peek() == '.') {
            integer = false;
            pos++;
            if (!isDigit(peek())) throw error("unexpected " + describe(pos) + ", expected a digit after '.'");
            while (isDigit(peek())) pos++;
        }
        if (peek() == 'e' || peek() == 'E') {
            integer = false;
            pos++;
            if (peek() == '+' || peek() == '-') pos++;
            if (!isDigit(peek())) throw error("unexpected " + describe(pos) + ", expected an exponent digit");
            while (isDigit(peek())) pos++;
        }
        int length = pos - numStart;
        if (integer && length <= 20) {
            String text = new String(in, numStart, length, StandardCharsets.US_ASCII);
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException outOfRange) {
                return new OtherNumber(text, true);
            }
        }
        // Long literals are only ever reported, so keep a bounded prefix rather than megabytes of digits.
        String text = new String(in, numStart, Math.min(length, 40), StandardCharsets.US_ASCII)
                + (length > 40 ? "..." : "");
        return new OtherNumber(text, integer);
    }

    private void literal(String word) throws SyntaxException {
        for (int i = 0; i < word.length(); i++) {
            if (pos >= end || in[pos] != word.charAt(i)) {
                throw error("unexpected " + describe(pos) + " in literal, expected '" + word + "'");
            }
            pos++;
        }
    }

    private void expect(char c) throws SyntaxException {
        if (peek() != c) throw error("unexpected " + describe(pos) + ", expected '" + c + "'");
        pos++;
    }

    private void skipWhitespace() {
        while (pos < end) {
            byte b = in[pos];
            if (b == ' ' || b == '\t' || b == '\n' || b == '\r') pos++;
            else return;
        }
    }

    /** The byte at the cursor, or -1 at the end (never a valid structural byte). */
    private byte peek() {
        return pos < end ? in[pos] : -1;
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }

    private String describe(int at) {
        if (at >= end) return "end of header";
        return printable(in[at] & 0xFF);
    }

    private static String printable(int b) {
        if (b == '\'') return "\"'\"";
        if (b >= 0x20 && b < 0x7F) return "'" + (char) b + "'";
        return String.format("byte 0x%02X", b);
    }

    private SyntaxException error(String message) {
        return new SyntaxException(message, pos - start);
    }
}
