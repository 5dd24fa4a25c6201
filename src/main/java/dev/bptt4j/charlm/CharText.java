package dev.bptt4j.charlm;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * A text as a character-level language model sees it: its characters (Unicode code points, so a
 * character outside the BMP is one class, not two surrogates) numbered 0..V−1 in code-point
 * order, which is the vocabulary, and the text as those numbers.
 */
public final class CharText {
    private final String name, source;
    private final int[] ids;
    private final int[] vocabulary;
    private final String fingerprint;

    private CharText(String name, String source, String text) {
        this.name = name;
        this.source = source;
        int[] codePoints = text.codePoints().toArray();
        vocabulary = Arrays.stream(codePoints).distinct().sorted().toArray();
        ids = new int[codePoints.length];
        for (int i = 0; i < codePoints.length; i++) ids[i] = Arrays.binarySearch(vocabulary, codePoints[i]);
        fingerprint = sha256(text);
    }

    /** A text held in memory; {@code name} is how messages and titles call it. */
    public static CharText of(String text, String name) {
        if (text.isEmpty()) throw new IllegalArgumentException(name + ": the text is empty");
        return new CharText(name, name, text);
    }

    /**
     * The UTF-8 files one after another (a byte-order mark at a file's start is dropped). Every
     * problem is an {@link IOException} naming the file: missing, unreadable, not UTF-8 (with the
     * byte offset), or no text at all.
     */
    public static CharText read(List<Path> files) throws IOException {
        if (files.isEmpty()) throw new IllegalArgumentException("text: no files given");
        StringBuilder all = new StringBuilder();
        for (Path f : files) {
            byte[] bytes;
            try {
                if (Files.isDirectory(f)) throw new IOException(f + ": is a directory, not a text file");
                bytes = Files.readAllBytes(f);
            } catch (NoSuchFileException e) {
                throw new IOException(f + ": no such file");
            } catch (java.nio.file.AccessDeniedException e) {
                throw new IOException(f + ": permission denied");
            }
            String text = decodeUtf8(bytes, f);
            if (text.startsWith("\uFEFF")) text = text.substring(1);
            if (text.isEmpty()) throw new IOException(f + ": empty file");
            all.append(text);
        }
        String name = files.size() == 1 ? files.get(0).getFileName().toString()
                : files.get(0).getFileName() + " and " + (files.size() - 1) + " more";
        String source = String.join(", ", files.stream().map(Path::toString).toList());
        return new CharText(name, source, all.toString());
    }

    private static String decodeUtf8(byte[] bytes, Path file) throws IOException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length + 1);
        CoderResult r = decoder.decode(in, out, true);
        if (r.isUnderflow()) r = decoder.flush(out);
        if (r.isError()) {
            throw new IOException(file + ": not UTF-8 text (invalid byte 0x" + HexFormat.of().toHexDigits(bytes[in.position()])
                    + " at offset " + in.position() + ")");
        }
        return out.flip().toString();
    }

    /** The file name (or names), for messages and titles. */
    public String name() {
        return name;
    }

    /** The files as given (or the name of a text in memory), for messages. */
    public String source() {
        return source;
    }

    /** Characters (code points) in the text. */
    public int length() {
        return ids.length;
    }

    /** V, the number of distinct characters. */
    public int vocabularySize() {
        return vocabulary.length;
    }

    /** The vocabulary as a string, class i being its i-th code point. */
    public String vocabulary() {
        return new String(vocabulary, 0, vocabulary.length);
    }

    /** The class of character {@code codePoint}, or −1 when the text does not contain it. */
    public int classOf(int codePoint) {
        int i = Arrays.binarySearch(vocabulary, codePoint);
        return i >= 0 ? i : -1;
    }

    /** The character of class {@code id}. */
    public int codePoint(int id) {
        return vocabulary[id];
    }

    /** The class of the character at position {@code at}. */
    public int id(int at) {
        return ids[at];
    }

    /** The first {@code count} characters, for a default prompt. */
    public String prefix(int count) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(count, ids.length); i++) s.appendCodePoint(vocabulary[ids[i]]);
        return s.toString();
    }

    /** SHA-256 of the text (its UTF-16 string's UTF-8 encoding): a resumed run checks it has the same text. */
    public String fingerprint() {
        return fingerprint;
    }

    /**
     * Fills one-hot inputs x (T, B, V) with the characters at {@code starts[b] + t} and targets y
     * (T, B) with the ones after them, for t &lt; T.
     */
    void batch(int[] starts, Tensor x, Tensor y) {
        int steps = x.dim(0), batch = starts.length, v = vocabulary.length;
        if (x.dtype() == DType.F32) Arrays.fill(x.f32(), 0f);
        else Arrays.fill(x.f64(), 0.0);
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int at = starts[b] + t, row = t * batch + b;
                x.setDouble(row * v + ids[at], 1.0);
                y.i32()[row] = ids[at + 1];
            }
        }
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }
}
