package dev.bptt4j.io;

import dev.bptt4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;

/**
 * Reads safetensors bytes. Validation happens in three stages, each before anything sized by
 * the next is allocated: the file size, then the header length against the file size, then
 * every header entry against the data section. Only then are tensor arrays allocated, and since
 * validated ranges do not overlap, their total size is at most the file size.
 */
final class SafeTensorsReader {
    static final int LENGTH_FIELD_BYTES = 8;
    /** Same bound as the reference implementation: a header this large is an attack or corruption. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    /** The whole file is read into one byte[], so it must fit in one. */
    static final long MAX_FILE_BYTES = SafeTensorsHeader.MAX_ARRAY_ELEMENTS;

    private SafeTensorsReader() {
    }

    static SafeTensorsFile read(Path path) throws IOException {
        String source = path.toString();
        // Asked before opening: a directory fails only at the first read with a bare "Is a directory", a
        // device reports size 0 (or streams forever) and opening a named pipe blocks until a writer comes.
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
        if (attributes.isDirectory()) throw new SafeTensorsException(source + ": is a directory, not a safetensors file");
        if (!attributes.isRegularFile()) {
            throw new SafeTensorsException(source + ": not a regular file (a device, pipe or socket); a safetensors file is expected");
        }
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            requireLengthField(size, source);
            if (size > MAX_FILE_BYTES) {
                throw new SafeTensorsException(source + ": file is " + size + " bytes; files of 2 GiB or more are not supported");
            }
            // Checking the header length first means a corrupt length fails without reading the whole file.
            ByteBuffer lengthField = ByteBuffer.allocate(LENGTH_FIELD_BYTES);
            readFully(channel, lengthField, size, source);
            headerLength(lengthField.array(), size, source);

            byte[] bytes = new byte[(int) size];
            System.arraycopy(lengthField.array(), 0, bytes, 0, LENGTH_FIELD_BYTES);
            readFully(channel, ByteBuffer.wrap(bytes, LENGTH_FIELD_BYTES, bytes.length - LENGTH_FIELD_BYTES), size, source);
            if (channel.read(ByteBuffer.allocate(1)) > 0) {
                throw new SafeTensorsException(source + ": file grew while being read (it was " + size + " bytes)");
            }
            return read(bytes, source);
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer into, long expectedSize, String source) throws IOException {
        while (into.hasRemaining()) {
            if (channel.read(into) < 0) {
                throw new SafeTensorsException(source + ": file shrank while being read (it was " + expectedSize + " bytes)");
            }
        }
    }

    static SafeTensorsFile read(byte[] bytes, String source) throws SafeTensorsException {
        requireLengthField(bytes.length, source);
        int headerLength = headerLength(bytes, bytes.length, source);
        Object root;
        try {
            root = SafeTensorsJson.parse(bytes, LENGTH_FIELD_BYTES, headerLength);
        } catch (SafeTensorsJson.SyntaxException e) {
            throw new SafeTensorsException(source + ": header is not valid " + (e.badEncoding ? "UTF-8" : "JSON") + ": "
                    + e.getMessage() + " (file offset " + (LENGTH_FIELD_BYTES + e.bytePosition) + ")", e);
        }
        int dataStart = LENGTH_FIELD_BYTES + headerLength;
        SafeTensorsHeader header = SafeTensorsHeader.interpret(root, bytes.length - dataStart, source);

        LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
        for (SafeTensorsHeader.Entry entry : header.entries()) {
            tensors.put(entry.name(), decode(entry, bytes, dataStart));
        }
        return new SafeTensorsFile(source, tensors, header.metadata());
    }

    private static void requireLengthField(long size, String source) throws SafeTensorsException {
        if (size < LENGTH_FIELD_BYTES) {
            throw new SafeTensorsException(source + ": file is " + size + " bytes, too short for the "
                    + LENGTH_FIELD_BYTES + "-byte header length");
        }
    }

    /** The validated header length from the first 8 bytes of a file of {@code fileSize} bytes. */
    private static int headerLength(byte[] lengthField, long fileSize, String source) throws SafeTensorsException {
        long length = ByteBuffer.wrap(lengthField, 0, LENGTH_FIELD_BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (length < 0 || length > MAX_HEADER_BYTES) {
            throw new SafeTensorsException(source + ": header length " + Long.toUnsignedString(length)
                    + " is absurd (limit " + MAX_HEADER_BYTES + " bytes)");
        }
        long remaining = fileSize - LENGTH_FIELD_BYTES;
        if (length > remaining) {
            throw new SafeTensorsException(source + ": header length " + length + " exceeds the " + remaining
                    + " bytes that follow the length field");
        }
        return (int) length;
    }

    private static Tensor decode(SafeTensorsHeader.Entry entry, byte[] bytes, int dataStart) {
        int n = entry.elementCount();
        // slice() resets the byte order to big-endian, so order() must come after it.
        ByteBuffer raw = ByteBuffer.wrap(bytes, dataStart + (int) entry.begin(), (int) (entry.end() - entry.begin()))
                .slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (entry.dtype()) {
            case F32: {
                float[] a = new float[n];
                raw.asFloatBuffer().get(a);
                return Tensor.of(a, entry.shape());
            }
            case F64: {
                double[] a = new double[n];
                raw.asDoubleBuffer().get(a);
                return Tensor.of(a, entry.shape());
            }
            case I64: {
                long[] a = new long[n];
                raw.asLongBuffer().get(a);
                return Tensor.of(a, entry.shape());
            }
            default:
                throw new AssertionError("header validation admitted " + entry.dtype());
        }
    }
}
