package dev.bptt4j.io;

import static dev.bptt4j.io.SafeTensorsTestFiles.file;
import static dev.bptt4j.io.SafeTensorsTestFiles.oneTensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One test per kind of malformed file: the exception type and that the message names the problem. */
class SafeTensorsMalformedTest {

    private static SafeTensorsException expectRejected(byte[] bytes, String... fragments) {
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.read(bytes, "bad.safetensors"));
        System.out.println("rejected: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("bad.safetensors: "), "names the source: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        return e;
    }

    private static byte[] header(String json, int dataBytes) {
        return file(json, dataBytes);
    }

    @Test
    void fileShorterThanLengthField() {
        expectRejected(new byte[5], "5 bytes", "too short");
        expectRejected(new byte[0], "0 bytes", "too short");
    }

    @Test
    void headerLengthBeyondFile() {
        byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
        expectRejected(file(100, json, new byte[0]), "header length 100", "exceeds the 2 bytes");
    }

    @Test
    void headerLengthAbsurd() {
        expectRejected(file(200L << 20, new byte[16], new byte[0]), "header length 209715200", "absurd");
        expectRejected(file(-1L, new byte[16], new byte[0]), "header length 18446744073709551615", "absurd");
    }

    @Test
    void headerNotUtf8() {
        byte[] json = "{\"x\u00ff\":{}}".getBytes(StandardCharsets.ISO_8859_1);
        expectRejected(file(json.length, json, new byte[0]), "not valid UTF-8", "header byte 3", "file offset 11");
        byte[] overlong = {'{', '"', (byte) 0xC0, (byte) 0x80, '"', ':', '1', '}'};
        expectRejected(file(overlong.length, overlong, new byte[0]), "not valid UTF-8");
        byte[] encodedSurrogate = {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'};
        expectRejected(file(encodedSurrogate.length, encodedSurrogate, new byte[0]), "not valid UTF-8");
    }

    @Test
    void headerNotJson() {
        expectRejected(header("{\"x\": }", 0), "not valid JSON", "header byte 6");
        expectRejected(header("{\"a\":1} {}", 0), "not valid JSON", "after the JSON value");
        expectRejected(header("", 0), "not valid JSON", "end of header");
        expectRejected(header("{\"a\":01}", 0), "not valid JSON", "leading zero");
        expectRejected(header("{'a':1}", 0), "not valid JSON");
        expectRejected(header("{\"a\":1,}", 0), "not valid JSON", "expected a string key");
        expectRejected(header("{\"a\":\"tab\there\"}", 0), "not valid JSON", "control character");
        expectRejected(header("{\"a\":\"\\x\"}", 0), "not valid JSON", "invalid escape");
        expectRejected(header("{\"a\":\"unterminated}", 0), "not valid JSON", "unterminated string");
        expectRejected(header("{\"a\":tru}", 0), "not valid JSON", "'true'");
    }

    @Test
    void headerNotObject() {
        expectRejected(header("[1,2]", 0), "header must be a JSON object", "found an array");
        expectRejected(header("\"x\"", 0), "header must be a JSON object", "found string \"x\"");
    }

    @Test
    void duplicateKeys() {
        String entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        expectRejected(header("{\"w\":" + entry + ",\"w\":" + entry + "}", 8), "duplicate key \"w\"");
        expectRejected(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"data_offsets\":[4,8]}}", 8),
                "duplicate key \"data_offsets\"");
    }

    @Test
    void nestingTooDeep() {
        String deep = "{\"a\":" + "[".repeat(100) + "]".repeat(100) + "}";
        expectRejected(header(deep, 0), "nested deeper than 64");
        // Within the bound the structure parses, and is then rejected for what it means.
        String shallow = "{\"a\":" + "[".repeat(60) + "]".repeat(60) + "}";
        expectRejected(header(shallow, 0), "tensor 'a'", "expected an object");
    }

    @Test
    void entryMissingFields() {
        expectRejected(header("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor 'w'", "missing \"dtype\"");
        expectRejected(header("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor 'w'", "missing \"shape\"");
        expectRejected(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor 'w'", "missing \"data_offsets\"");
    }

    @Test
    void entryFieldsOfWrongType() {
        expectRejected(header("{\"w\":[1]}", 0), "tensor 'w'", "expected an object", "found an array");
        expectRejected(header(oneTensor("w", "32", "[1]", "[0,4]"), 4), "tensor 'w'", "\"dtype\" must be a string", "number 32");
        expectRejected(header(oneTensor("w", "\"F32\"", "\"[1]\"", "[0,4]"), 4), "tensor 'w'", "\"shape\" must be an array");
        expectRejected(header(oneTensor("w", "\"F32\"", "[1]", "[0,4,8]"), 4), "tensor 'w'", "[begin, end]", "3 elements");
        expectRejected(header(oneTensor("w", "\"F32\"", "[1]", "null"), 4), "tensor 'w'", "[begin, end]", "found null");
        expectRejected(header(oneTensor("w", "\"F32\"", "[1]", "[\"0\",4]"), 4), "tensor 'w'", "begin", "string \"0\"");
    }

    @Test
    void badDimensions() {
        expectRejected(header(oneTensor("w", "\"F32\"", "[2,-3]", "[0,4]"), 4), "tensor 'w'", "shape[1]", "non-negative", "-3");
        expectRejected(header(oneTensor("w", "\"F32\"", "[1.5]", "[0,4]"), 4), "tensor 'w'", "shape[0]", "1.5");
        expectRejected(header(oneTensor("w", "\"F32\"", "[1e2]", "[0,4]"), 4), "tensor 'w'", "shape[0]", "1e2");
        expectRejected(header(oneTensor("w", "\"F32\"", "[true]", "[0,4]"), 4), "tensor 'w'", "shape[0]", "boolean true");
        expectRejected(header(oneTensor("w", "\"F32\"", "[99999999999999999999]", "[0,4]"), 4),
                "tensor 'w'", "shape[0]", "fits in 64 bits", "99999999999999999999");
        expectRejected(header(oneTensor("w", "\"F32\"", "[3000000000]", "[0,4]"), 4),
                "tensor 'w'", "shape[0] = 3000000000", "largest supported dimension");
    }

    @Test
    void unsupportedAndUnknownDtypes() {
        for (String dtype : new String[] {"F16", "BF16", "I32", "I8", "U8", "BOOL"}) {
            expectRejected(header(oneTensor("w", "\"" + dtype + "\"", "[1]", "[0,4]"), 4),
                    "tensor 'w'", "unsupported dtype \"" + dtype + "\"", "F32, F64 and I64");
        }
        expectRejected(header(oneTensor("w", "\"float32\"", "[1]", "[0,4]"), 4), "tensor 'w'", "unknown dtype \"float32\"");
    }

    @Test
    void offsetsBeginAfterEnd() {
        expectRejected(header(oneTensor("w", "\"F32\"", "[1]", "[8,4]"), 8), "tensor 'w'", "[8, 4]", "begin is after end");
        expectRejected(header(oneTensor("w", "\"F32\"", "[1]", "[-4,0]"), 8), "tensor 'w'", "begin", "non-negative", "-4");
    }

    @Test
    void offsetsBeyondDataSection() {
        expectRejected(header(oneTensor("w", "\"F64\"", "[2]", "[0,16]"), 12),
                "tensor 'w'", "end lies beyond the data section", "12 bytes");
        expectRejected(header(oneTensor("w", "\"F64\"", "[2]", "[0,18446744073709551615]"), 12),
                "tensor 'w'", "end", "fits in 64 bits");
    }

    @Test
    void byteCountDisagreesWithShape() {
        expectRejected(header(oneTensor("w", "\"F64\"", "[2,3]", "[0,40]"), 48),
                "tensor 'w'", "hold 40 bytes", "shape [2, 3] of F64 needs 48 bytes");
    }

    @Test
    void elementCountOverflowsLong() {
        expectRejected(header(oneTensor("w", "\"F32\"", "[2147483647,2147483647,2147483647]", "[0,4]"), 4),
                "tensor 'w'", "more elements than a 64-bit count");
    }

    @Test
    void elementCountBeyondJavaArray() {
        expectRejected(header(oneTensor("w", "\"F32\"", "[2147483647,2]", "[0,4]"), 4),
                "tensor 'w'", "4294967294 elements", "more than a Java array can hold");
    }

    @Test
    void overlappingTensors() {
        String json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        expectRejected(header(json, 16), "'a' [0, 12]", "'b' [8, 16]", "overlap");
        // The same range twice would let one block of bytes decode into many arrays.
        String twice = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        expectRejected(header(twice, 8), "overlap");
    }

    @Test
    void gapsTrailingBytesAndEmptyRangesAreAccepted() throws IOException {
        String json = "{\"late\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                + "\"empty\":{\"dtype\":\"F64\",\"shape\":[0,5],\"data_offsets\":[14,14]},"
                + "\"early\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   ";
        SafeTensorsFile f = SafeTensors.read(header(json, 24), "gaps");
        assertEquals(java.util.List.of("late", "empty", "early"), f.tensors().keySet().stream().toList());
        System.out.println("gaps: accepted, tensors in header order " + f.tensors().keySet());
    }

    @Test
    void unknownEntryFieldsAreIgnored() throws IOException {
        // The reference implementation ignores fields it does not know; so do we.
        String json = "{\"w\":{\"extra\":[true,null,{\"x\":1.5}],\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        SafeTensorsFile f = SafeTensors.read(header(json, 4), "extra");
        assertEquals(1, f.get("w").size());
    }

    @Test
    void hugeNamesAreAbbreviatedInMessages() {
        String name = "n".repeat(100_000);
        SafeTensorsException e = expectRejected(header(oneTensor(name, "\"F16\"", "[1]", "[0,2]"), 2), "unsupported dtype", "...'");
        assertTrue(e.getMessage().length() < 300, "message length " + e.getMessage().length());
    }

    @Test
    void metadataNotStrings() {
        expectRejected(header("{\"__metadata__\":{\"input_size\":4}}", 0),
                "__metadata__", "key 'input_size'", "must be a string", "number 4");
        expectRejected(header("{\"__metadata__\":{\"a\":\"b\",\"c\":{}}}", 0), "key 'c'", "must be a string", "an object");
        expectRejected(header("{\"__metadata__\":[\"a\"]}", 0), "__metadata__", "must be an object");
    }

    @Test
    void metadataNullIsNoMetadata() throws IOException {
        SafeTensorsFile f = SafeTensors.read(header("{\"__metadata__\":null}", 0), "null-metadata");
        assertTrue(f.metadata().isEmpty());
    }

    @Test
    void pathReadChecksSizeFirst(@TempDir Path dir) throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[3]);
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.read(tiny));
        System.out.println("rejected: " + e.getMessage());
        assertTrue(e.getMessage().contains("tiny.safetensors") && e.getMessage().contains("too short"), e.getMessage());

        Path lying = dir.resolve("lying.safetensors");
        Files.write(lying, file(1L << 40, new byte[8], new byte[0]));
        e = assertThrows(SafeTensorsException.class, () -> SafeTensors.read(lying));
        System.out.println("rejected: " + e.getMessage());
        assertTrue(e.getMessage().contains("lying.safetensors") && e.getMessage().contains("header length"), e.getMessage());
    }

    @Test
    void fileOfTwoGibibytesIsRejectedWithoutReadingIt(@TempDir Path dir) throws IOException {
        Path huge = dir.resolve("huge.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(huge.toFile(), "rw")) {
            raf.setLength(3L << 30); // sparse on the filesystems tests run on: no data is written
        }
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.read(huge));
        System.out.println("rejected: " + e.getMessage());
        assertTrue(e.getMessage().contains("huge.safetensors") && e.getMessage().contains("2 GiB"), e.getMessage());
    }

    /** A directory said only "Is a directory"; /dev/urandom was "0 bytes"; a named pipe blocked the open until a writer came. */
    @Test
    void directoriesDevicesAndPipesAreNamedForWhatTheyAre(@TempDir Path dir) throws Exception {
        Path sub = Files.createDirectory(dir.resolve("cases.safetensors"));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.read(sub));
        System.out.println("rejected: " + e.getMessage());
        assertEquals(sub + ": is a directory, not a safetensors file", e.getMessage());

        Path random = Path.of("/dev/urandom");
        if (Files.exists(random)) {
            e = assertThrows(SafeTensorsException.class, () -> SafeTensors.read(random));
            System.out.println("rejected: " + e.getMessage());
            assertEquals("/dev/urandom: not a regular file (a device, pipe or socket); a safetensors file is expected", e.getMessage());
        }
        Path fifo = dir.resolve("pipe.safetensors");
        boolean made;
        try {
            made = new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0;
        } catch (IOException noMkfifo) {
            made = false;
        }
        if (made) {
            e = assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                    () -> assertThrows(SafeTensorsException.class, () -> SafeTensors.read(fifo)), "a pipe with no writer must not block");
            System.out.println("rejected: " + e.getMessage());
            assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        }
    }
}
