package dev.bptt4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Builders for hand-made (often deliberately broken) safetensors bytes, and the bundled cases. */
final class SafeTensorsTestFiles {
    static final Path CASES_DIR = Path.of("src", "main", "resources", "cases");

    private SafeTensorsTestFiles() {
    }

    /** A file whose length field is the exact header length, followed by {@code dataBytes} zero bytes. */
    static byte[] file(String headerJson, int dataBytes) {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return file(header.length, header, new byte[dataBytes]);
    }

    /** A file with an arbitrary (possibly lying) length field. */
    static byte[] file(long headerLengthField, byte[] header, byte[] data) {
        ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(headerLengthField).put(header).put(data);
        return out.array();
    }

    /** A one-tensor header: {"name":{"dtype":dtype,"shape":shape,"data_offsets":offsets}}. */
    static String oneTensor(String name, String dtype, String shape, String offsets) {
        return "{\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}";
    }

    static List<Path> caseFiles() throws IOException {
        try (Stream<Path> files = Files.list(CASES_DIR)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().collect(Collectors.toList());
        }
    }
}
