package dev.bptt4j.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import java.io.IOException;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses a safetensors JSON header, which comes from an untrusted file, with jackson-core's
 * streaming parser into plain values, strictly: RFC 8259 JSON in UTF-8 and nothing else (no
 * byte-order mark, no UTF-16, comments, single quotes, NaN, leading '+' or trailing commas),
 * nesting bounded (no stack overflow), duplicate keys rejected (a second "data_offsets" must
 * not silently win), unpaired surrogate escapes rejected (such a name could not be written back),
 * and nothing but whitespace after the value.
 *
 * <p>Values map to: {@code Map<String,Object>} (insertion-ordered, unmodifiable),
 * {@code List<Object>} (unmodifiable), {@code String}, {@code Long} for integers that fit,
 * {@link OtherNumber} for fractions, exponents and out-of-range integers (kept as text so the
 * caller can say "shape[0] = 1.5" instead of the parser guessing what is acceptable),
 * {@code Boolean}, and {@link #NULL}.
 */
final class SafeTensorsJson {
    static final int MAX_DEPTH = 64;
    /**
     * Characters in a number. Offsets and dimensions need at most 20 digits; the rest is room for
     * fractions in fields the reader ignores and for an integer too large for 64 bits to be quoted.
     */
    static final int MAX_NUMBER_LENGTH = 100;

    /**
     * The limits, all from Jackson's {@link StreamReadConstraints}. Strings and names may be as
     * long as a header (Jackson's defaults, 20 M and 50 000 characters, would refuse legal
     * headers); the header's own bound is checked by {@link SafeTensorsReader} before parsing,
     * and given to Jackson too, which checks the document length only when it reads a stream.
     */
    private static final StreamReadConstraints LIMITS = StreamReadConstraints.builder()
            .maxNestingDepth(MAX_DEPTH)
            .maxNumberLength(MAX_NUMBER_LENGTH)
            .maxStringLength((int) SafeTensorsReader.MAX_HEADER_BYTES)
            .maxNameLength((int) SafeTensorsReader.MAX_HEADER_BYTES)
            .maxDocumentLength(SafeTensorsReader.MAX_HEADER_BYTES)
            .build();

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

    private SafeTensorsJson() {
    }

    /**
     * A factory per header: Jackson's factory keeps a symbol table of the field names it has seen
     * (so a shared one would hold on to names from earlier, untrusted files), and building one is
     * cheap next to reading a file.
     */
    private static JsonFactory factory() {
        return JsonFactory.builder()
                .streamReadConstraints(LIMITS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                // UTF-8 only: detection would accept UTF-16 and UTF-32 headers and skip a byte-order mark.
                .disable(JsonFactory.Feature.CHARSET_DETECTION)
                // Names from untrusted files stay out of the JVM's string pool.
                .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
                .build();
    }

    /** Parses exactly one JSON value in {@code in[offset, offset+length)}, surrounded only by whitespace. */
    static Object parse(byte[] in, int offset, int length) throws SyntaxException {
        requireUtf8(in, offset, length);
        JsonParser p;
        try {
            p = factory().createParser(in, offset, length);
        } catch (IOException e) {
            throw new SyntaxException(clean(String.valueOf(e.getMessage())), 0);
        }
        // Not try-with-resources: a closed parser forgets its current token and context, which translate() reads.
        try {
            JsonToken first = p.nextToken();
            if (first == null) throw new SyntaxException("unexpected end of header, expected a JSON value", length);
            Object value = value(p, first);
            long end = p.currentLocation().getByteOffset();
            for (long i = end; i < length; i++) {
                int b = in[offset + (int) i] & 0xFF;
                if (b != ' ' && b != '\t' && b != '\n' && b != '\r') {
                    throw new SyntaxException("unexpected " + printable(b) + " after the JSON value", i);
                }
            }
            return value;
        } catch (JsonProcessingException e) {
            throw translate(e, p, in, offset, length);
        } catch (IOException e) { // not from a byte array, but reported cleanly all the same
            throw new SyntaxException(clean(String.valueOf(e.getMessage())), p.currentLocation().getByteOffset());
        } finally {
            try {
                p.close();
            } catch (IOException ignored) {
                // nothing to release for a byte array
            }
        }
    }

    /** The value that starts with token {@code t}; nesting is bounded by Jackson (MAX_DEPTH). */
    private static Object value(JsonParser p, JsonToken t) throws IOException, SyntaxException {
        if (t == null) throw new SyntaxException("unexpected end of header", p.currentLocation().getByteOffset());
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> members = new LinkedHashMap<>();
                for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
                    if (k != JsonToken.FIELD_NAME) throw unexpected(p, k);
                    String key = requirePairedSurrogates(p.currentName(), p);
                    // Jackson has already refused a duplicate (STRICT_DUPLICATE_DETECTION).
                    members.put(key, value(p, p.nextToken()));
                }
                return Collections.unmodifiableMap(members);
            }
            case START_ARRAY: {
                List<Object> elements = new ArrayList<>();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    elements.add(value(p, e));
                }
                return Collections.unmodifiableList(elements);
            }
            case VALUE_STRING:
                return requirePairedSurrogates(p.getText(), p);
            case VALUE_NUMBER_INT:
                if (p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) return p.getLongValue();
                return new OtherNumber(abbreviateNumber(p.getText()), true);
            case VALUE_NUMBER_FLOAT:
                return new OtherNumber(abbreviateNumber(p.getText()), false);
            case VALUE_TRUE:
                return Boolean.TRUE;
            case VALUE_FALSE:
                return Boolean.FALSE;
            case VALUE_NULL:
                return NULL;
            default:
                throw unexpected(p, t);
        }
    }

    private static SyntaxException unexpected(JsonParser p, JsonToken t) {
        return new SyntaxException("unexpected " + (t == null ? "end of header" : t.asString()), p.currentTokenLocation().getByteOffset());
    }

    /**
     * Refuses a string holding half of a surrogate pair, which only a backslash-u escape can
     * produce (the bytes are valid UTF-8): Jackson refuses them in keys but not in values.
     */
    private static String requirePairedSurrogates(String s, JsonParser p) throws SyntaxException {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!Character.isSurrogate(c)) continue;
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
                continue;
            }
            String half = Character.isHighSurrogate(c) ? "high" : "low";
            throw new SyntaxException("unpaired " + half + " surrogate \\u" + String.format("%04X", (int) c) + " in string",
                    p.currentTokenLocation().getByteOffset());
        }
        return s;
    }

    /**
     * Jackson's report as one line of our own wording where the tests pin a phrase (and
     * Jackson's otherwise), at the byte where the problem is.
     */
    private static SyntaxException translate(JsonProcessingException e, JsonParser p, byte[] in, int offset, int length) {
        JsonLocation at = e.getLocation();
        long pos = at != null && at.getByteOffset() >= 0 ? at.getByteOffset() : p.currentLocation().getByteOffset();
        String message = String.valueOf(e.getOriginalMessage());
        // Jackson points at the last byte of a multi-byte character it reports; name its first (the bytes are valid UTF-8).
        while (pos > 0 && pos < length && (in[offset + (int) pos] & 0xC0) == 0x80) pos--;
        // and just past a control character between tokens: name the character itself.
        Matcher control = CONTROL_CHARACTER.matcher(message);
        if (control.find() && pos > 0 && pos <= length && (in[offset + (int) pos - 1] & 0xFF) == Integer.parseInt(control.group(1))) {
            pos--;
        }
        if (e instanceof StreamConstraintsException) {
            if (p.getParsingContext() != null && p.getParsingContext().getNestingDepth() > MAX_DEPTH) {
                // Jackson checks the depth right after reading the bracket that opens one level too many.
                return new SyntaxException("JSON nested deeper than " + MAX_DEPTH + " levels", Math.max(0, pos - 1));
            }
            return new SyntaxException(clean(message), pos);
        }
        if (e instanceof JsonEOFException || message.startsWith("Unexpected end-of-input")) {
            JsonToken decoding = e instanceof JsonEOFException eof ? eof.getTokenBeingDecoded() : null;
            if (decoding == JsonToken.VALUE_STRING || decoding == JsonToken.FIELD_NAME) {
                // A string value is decoded when asked for, so its token (and start) is the current one.
                long start = p.currentToken() == JsonToken.VALUE_STRING ? p.currentTokenLocation().getByteOffset() : pos;
                return new SyntaxException("unterminated string"
                        + (message.contains("escape") ? " (the header ends inside an escape sequence)" : ""), start);
            }
            String inside = p.getParsingContext() == null ? ""
                    : p.getParsingContext().inObject() ? " inside an object"
                    : p.getParsingContext().inArray() ? " inside an array" : "";
            return new SyntaxException("unexpected end of header" + inside, pos);
        }
        if (message.startsWith("Duplicate field")) {
            // Jackson's message quotes the whole name, which a hostile header can make megabytes long.
            String name;
            try {
                name = p.currentName();
            } catch (IOException unavailable) {
                name = null;
            }
            return new SyntaxException(name == null ? "duplicate key" : "duplicate key \"" + abbreviate(name) + "\"", pos);
        }
        return new SyntaxException(clean(message), pos);
    }

    /** One of Jackson's phrases in this library's words. */
    private record Rewording(Pattern jackson, String ours) {
        Rewording(String jackson, String ours) {
            this(Pattern.compile(jackson), ours);
        }
    }

    /**
     * Jackson's phrases that the malformed-file tests pin, reworded as the hand-written parser
     * put them; if an upgrade of Jackson changes one, its own words pass through and the tests say so.
     */
    private static final List<Rewording> REWORDINGS = List.of(
            new Rewording("was expecting double-quote to start field name", "expected a string key"),
            new Rewording("^Invalid numeric value: Leading zeroes not allowed", "leading zero in number"),
            new Rewording("^Illegal unquoted character \\(\\(CTRL-CHAR, code (\\d+)\\)\\): has to be escaped using backslash"
                    + " to be included in (?:string value|name)", "unescaped control character (code $1) in string"),
            new Rewording("^Unrecognized character escape ", "invalid escape: backslash followed by "));
    /** "((CTRL-CHAR, code 11))" in Jackson's messages. */
    private static final Pattern CONTROL_CHARACTER = Pattern.compile("\\(\\(CTRL-CHAR, code (\\d{1,3})\\)\\)");
    /** "[Source: REDACTED (...); line: 1, column: 6]" in Jackson's messages. */
    private static final Pattern SOURCE = Pattern.compile("\\[Source: [^\\]]*?line: (\\d+), column: (\\d+)\\]");
    /** Advice to enable or disable a Jackson feature, which a reader of a file cannot act on. */
    private static final Pattern ADVICE = Pattern.compile(
            "[\\s:(]*(?:consider enabling|enable|You can disable the check via) `.*$|\\s*\\(not recognized as one since Feature .*$");
    /** ", from `StreamReadConstraints.getMaxNumberLength()`" */
    private static final Pattern CONSTRAINT_NAME = Pattern.compile(", from `[^`]*`");

    /** A Jackson message as one clear line: our wording where we have one, no configuration hints, no invisible characters. */
    private static String clean(String message) {
        String s = message;
        for (Rewording r : REWORDINGS) s = r.jackson().matcher(s).replaceFirst(r.ours());
        s = SOURCE.matcher(s).replaceAll("line $1, column $2");
        s = CONSTRAINT_NAME.matcher(s).replaceAll("");
        Matcher advice = ADVICE.matcher(s);
        if (advice.find()) s = s.substring(0, advice.start());
        if (s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isLowerCase(s.charAt(1))) {
            s = Character.toLowerCase(s.charAt(0)) + s.substring(1);
        }
        StringBuilder sb = new StringBuilder(s.length());
        int i = 0;
        for (; i < s.length() && sb.length() < 300; i++) {
            char c = s.charAt(i);
            boolean invisible = Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
                    || (Character.isSpaceChar(c) && c != ' ') || Character.isSurrogate(c);
            if (invisible) sb.append(String.format("\\u%04X", (int) c));
            else sb.append(c);
        }
        return i < s.length() ? sb.append("...").toString() : sb.toString();
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

    /** Number literals are only ever reported, so keep a bounded prefix. */
    private static String abbreviateNumber(String text) {
        return text.length() <= 40 ? text : text.substring(0, 40) + "...";
    }

    /**
     * Validates UTF-8 up front so that an invalid sequence is reported as such, and so that
     * overlong forms (C0 80), which Jackson decodes, are refused.
     */
    private static void requireUtf8(byte[] in, int offset, int length) throws SyntaxException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer bytes = ByteBuffer.wrap(in, offset, length);
        CharBuffer chars = CharBuffer.allocate(Math.max(16, Math.min(length, 8192)));
        while (true) {
            CoderResult result = decoder.decode(bytes, chars, true);
            if (result.isError()) {
                throw new SyntaxException("malformed UTF-8 sequence", bytes.position() - offset, true);
            }
            chars.clear();
            if (result.isUnderflow()) return;
        }
    }

    private static String printable(int b) {
        if (b == '\'') return "\"'\"";
        if (b >= 0x20 && b < 0x7F) return "'" + (char) b + "'";
        return String.format("byte 0x%02X", b);
    }
}
