package dev.bptt4j.io;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Random corruption of a valid file, with a fixed seed: every outcome must be a successful parse
 * or a SafeTensorsException, never another exception or an OutOfMemoryError.
 */
class SafeTensorsMutationTest {
    private static final int ITERATIONS = 4000;
    private static final byte[] JSON_BYTES = "{}[]\",:0123456789-.eE\\u ntfF".getBytes();

    @Test
    void mutatedFilesParseOrFailCleanly() throws IOException {
        byte[] original = Files.readAllBytes(SafeTensorsTestFiles.CASES_DIR.resolve("rnn_tanh_basic_f32.safetensors"));
        int headerEnd = 8 + (int) java.nio.ByteBuffer.wrap(original).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        Random random = new Random(20240607L);
        int parsed = 0;
        Map<String, Integer> rejections = new TreeMap<>();
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] mutated = original.clone();
            int rounds = 1 + random.nextInt(3);
            for (int r = 0; r < rounds; r++) mutated = mutate(mutated, random, headerEnd);
            try {
                SafeTensors.read(mutated, "mutant-" + i);
                parsed++;
            } catch (SafeTensorsException e) {
                assertTrue(e.getMessage().startsWith("mutant-" + i + ": "), e.getMessage());
                rejections.merge(kind(e.getMessage()), 1, Integer::sum);
            } catch (Throwable t) {
                fail("iteration " + i + " threw " + t + " for bytes " + Arrays.toString(
                        Arrays.copyOf(mutated, Math.min(mutated.length, 200))), t);
            }
        }
        System.out.println(ITERATIONS + " mutants: " + parsed + " parsed, " + (ITERATIONS - parsed)
                + " rejected with SafeTensorsException, 0 other outcomes");
        rejections.forEach((k, n) -> System.out.println("  " + n + " x " + k));
        assertTrue(ITERATIONS - parsed > ITERATIONS / 4, "mutations should mostly hit the header");
    }

    /** Most mutations target the header (the length field and JSON), where the parsing logic lives. */
    private static byte[] mutate(byte[] in, Random random, int headerEnd) {
        int limit = random.nextInt(4) == 0 ? in.length : Math.min(in.length, headerEnd);
        if (limit == 0) return in;
        int at = random.nextInt(limit);
        switch (random.nextInt(7)) {
            case 0: { // flip one bit
                byte[] out = in.clone();
                out[at] ^= (byte) (1 << random.nextInt(8));
                return out;
            }
            case 1: { // overwrite with a random byte
                byte[] out = in.clone();
                out[at] = (byte) random.nextInt(256);
                return out;
            }
            case 2: { // overwrite with a JSON-significant byte, to reach deeper parser states
                byte[] out = in.clone();
                out[at] = JSON_BYTES[random.nextInt(JSON_BYTES.length)];
                return out;
            }
            case 3: // truncate
                return Arrays.copyOf(in, at);
            case 4: { // insert 1..8 random bytes
                int n = 1 + random.nextInt(8);
                byte[] out = new byte[in.length + n];
                System.arraycopy(in, 0, out, 0, at);
                for (int k = 0; k < n; k++) out[at + k] = JSON_BYTES[random.nextInt(JSON_BYTES.length)];
                System.arraycopy(in, at, out, at + n, in.length - at);
                return out;
            }
            case 5: { // delete 1..8 bytes
                int n = Math.min(1 + random.nextInt(8), in.length - at);
                byte[] out = new byte[in.length - n];
                System.arraycopy(in, 0, out, 0, at);
                System.arraycopy(in, at + n, out, at, in.length - at - n);
                return out;
            }
            default: { // corrupt the length field itself
                byte[] out = in.clone();
                if (out.length >= 8) out[random.nextInt(8)] = (byte) random.nextInt(256);
                return out;
            }
        }
    }

    /** A coarse category for the summary: the message with numbers, names and positions removed. */
    private static String kind(String message) {
        String rest = message.substring(message.indexOf(": ") + 2);
        return rest.replaceAll("'[^']*'", "'…'").replaceAll("\"[^\"]*\"", "\"…\"").replaceAll("0x\\p{XDigit}{2}", "0xNN").replaceAll("\\d+", "N")
                .replaceAll("\\[[^\\]]*\\]", "[…]");
    }
}
