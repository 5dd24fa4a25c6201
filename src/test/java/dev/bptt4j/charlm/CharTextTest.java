package dev.bptt4j.charlm;

import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Reading text files: code points as classes, files one after another, and a clear line for each bad file. */
class CharTextTest {
    @Test
    void charactersAreCodePointsInOrder(@TempDir Path dir) throws IOException {
        Path a = dir.resolve("a.txt"), b = dir.resolve("b.txt");
        Files.write(a, "\uFEFFbé😀a\n".getBytes(StandardCharsets.UTF_8)); // a byte-order mark, é, an emoji outside the BMP
        Files.writeString(b, "ab");
        CharText t = CharText.read(List.of(a, b));
        assertEquals("\nabé😀", t.vocabulary(), "sorted by code point; the emoji one class; the mark dropped");
        assertEquals(7, t.length());
        assertEquals("bé😀a\nab", t.prefix(100));
        assertEquals("a.txt and 1 more", t.name());
        assertEquals(-1, t.classOf('z'));
        assertEquals(4, t.classOf(0x1F600));
        // One-hot x and next-character targets for two streams from 0 and 3, two steps.
        Tensor x = Tensor.zeros(DType.F64, 2, 2, 5), y = Tensor.zeros(DType.I32, 2, 2);
        t.batch(new int[]{0, 3}, x, y);
        assertArrayEquals(new int[]{t.classOf('é'), t.classOf('\n'), t.classOf(0x1F600), t.classOf('a')}, y.i32());
        assertEquals(1.0, x.getDouble(t.classOf('b')));
        assertEquals(1.0, x.getDouble(5 + t.classOf('a')));
        assertEquals(2.0, java.util.Arrays.stream(x.f64()).sum() - 2.0, "one 1 per row");
        assertNotEquals(CharText.of("ab", "x").fingerprint(), CharText.of("ba", "x").fingerprint());
    }

    @Test
    void badFilesAreOneLineNamingTheFile(@TempDir Path dir) throws IOException {
        Path latin1 = dir.resolve("latin1.txt"), empty = dir.resolve("empty.txt"), bom = dir.resolve("bom.txt");
        Files.write(latin1, new byte[]{'c', 'a', 'f', (byte) 0xE9, '!'});
        Files.write(empty, new byte[0]);
        Files.write(bom, new byte[]{(byte) 0xEF, (byte) 0xBB, (byte) 0xBF});
        assertEquals(latin1 + ": not UTF-8 text (invalid byte 0xe9 at offset 3)",
                assertThrows(IOException.class, () -> CharText.read(List.of(latin1))).getMessage());
        assertEquals(empty + ": empty file", assertThrows(IOException.class, () -> CharText.read(List.of(empty))).getMessage());
        assertEquals(bom + ": empty file", assertThrows(IOException.class, () -> CharText.read(List.of(bom))).getMessage());
        Path missing = dir.resolve("missing.txt");
        assertEquals(missing + ": no such file", assertThrows(IOException.class, () -> CharText.read(List.of(missing))).getMessage());
        assertEquals(dir + ": is a directory, not a text file", assertThrows(IOException.class, () -> CharText.read(List.of(dir))).getMessage());
    }
}
