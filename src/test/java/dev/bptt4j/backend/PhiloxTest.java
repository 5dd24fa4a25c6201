package dev.bptt4j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Philox} against Random123's known-answer vectors for philox4x32_10, a uniformity sanity
 * check of {@link Philox#uniform}, and {@code cuda/philox.cuh} compiled for the host (through
 * {@code cuda/test/philox_probe.cpp}) word for word against this class. The host comparison is
 * skipped only when no compiler (g++, clang++, c++ or nvcc) is on the PATH.
 */
class PhiloxTest {
    /** Random123 kat_vectors, philox4x32 10 rounds: counter c0..c3, key k0 k1, then the four result words. */
    static final int[][] KAT = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };

    @TempDir
    Path work;

    @Test
    void knownAnswerVectors() {
        int[] out = new int[4];
        for (int[] kat : KAT) {
            int[] expected = {kat[6], kat[7], kat[8], kat[9]};
            Philox.block(new int[] {kat[0], kat[1], kat[2], kat[3]}, new int[] {kat[4], kat[5]}, out);
            assertArrayEquals(expected, out, () -> "block " + hex(kat, 0, 6));
            for (int i = 0; i < 4; i++) {
                assertEquals(expected[i], Philox.word(kat[0], kat[1], kat[2], kat[3], kat[4], kat[5], i), "word " + i + " of " + hex(kat, 0, 6));
            }
        }
    }

    @Test
    void blockMayWriteOverItsCounterAndWordRejectsBadIndices() {
        int[] counter = {KAT[2][0], KAT[2][1], KAT[2][2], KAT[2][3]};
        Philox.block(counter, new int[] {KAT[2][4], KAT[2][5]}, counter);
        assertArrayEquals(new int[] {KAT[2][6], KAT[2][7], KAT[2][8], KAT[2][9]}, counter);
        assertThrows(IllegalArgumentException.class, () -> Philox.word(0, 0, 0, 0, 0, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> Philox.word(0, 0, 0, 0, 0, 0, -1));
    }

    @Test
    void uniformIsTheUnsignedWordTimesTwoToTheMinus32() {
        assertEquals(0.0, Philox.uniform(0));
        assertEquals(0x1p-32, Philox.uniform(1));
        assertEquals(0.5, Philox.uniform(0x80000000));
        assertEquals(0.5 - 0x1p-32, Philox.uniform(0x7fffffff));
        assertEquals(1.0 - 0x1p-32, Philox.uniform(0xffffffff));
        assertTrue(Philox.uniform(0xffffffff) < 1.0);
        Random random = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            int w = random.nextInt();
            double u = Philox.uniform(w);
            // exact: scaling back gives the unsigned word again
            assertEquals(Integer.toUnsignedLong(w), (long) (u * 0x1p32));
        }
    }

    /**
     * Counters (i, 0, 0, 0) for i = 0..249 999 under key (0, 0), all four words: 10^6 uniforms. The
     * draw is fixed, so this passes or fails for good; with key (0, 0) the mean sits 1.4 sigma and
     * the fraction 0.3 sigma from expectation (other keys spread like standard normals, e.g. key
     * (0x12345678, 0x9abcdef0) gives 3.5 sigma on the fraction).
     */
    @Test
    void uniformsOverConsecutiveCountersLookUniform() {
        int n = 1_000_000;
        double sum = 0;
        long below = 0;
        int[] counter = new int[4];
        int[] key = {0, 0};
        int[] out = new int[4];
        for (int i = 0; i < n / 4; i++) {
            counter[0] = i;
            Philox.block(counter, key, out);
            for (int w : out) {
                double u = Philox.uniform(w);
                sum += u;
                if (u < 0.3) below++;
            }
        }
        double mean = sum / n;
        double fraction = (double) below / n;
        double meanSigma = Math.sqrt(1.0 / 12 / n);
        double fractionSigma = Math.sqrt(0.3 * 0.7 / n);
        System.out.printf("%d uniforms: mean %.6f (%.2f sigma), fraction < 0.3 %.6f (%.2f sigma)%n", n, mean,
                (mean - 0.5) / meanSigma, fraction, (fraction - 0.3) / fractionSigma);
        assertTrue(Math.abs(mean - 0.5) <= 4 * meanSigma, "mean " + mean);
        assertTrue(Math.abs(fraction - 0.3) <= 4 * fractionSigma, "fraction below 0.3: " + fraction);
    }

    /** Counters and keys for the host comparison: a structured grid at the edges plus a seeded sweep. */
    static List<int[]> inputs() {
        List<int[]> inputs = new ArrayList<>();
        int[] edges = {0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x9e3779b9};
        int[][] keys = {{0, 0}, {1, 0}, {0, 1}, {0xffffffff, 0xffffffff}, {0x9e3779b9, 0xbb67ae85}, {0x61c88647, 0x44987a7b}};
        for (int[] key : keys) {
            for (int c0 = 0; c0 < 16; c0++) {
                for (int c1 = 0; c1 < 4; c1++) inputs.add(new int[] {c0, c1, 0, 0, key[0], key[1]});
            }
            for (int e : edges) {
                inputs.add(new int[] {e, 0, 0, 0, key[0], key[1]});
                inputs.add(new int[] {0, e, 0, 0, key[0], key[1]});
                inputs.add(new int[] {0, 0, e, 0, key[0], key[1]});
                inputs.add(new int[] {0, 0, 0, e, key[0], key[1]});
                inputs.add(new int[] {e, e, e, e, key[0], key[1]});
            }
        }
        Random random = new Random(20240612L);
        for (int i = 0; i < 500; i++) {
            int[] in = new int[6];
            for (int k = 0; k < 6; k++) in[k] = random.nextInt();
            inputs.add(in);
        }
        return inputs;
    }

    @Test
    void javaTwinMatchesTheHeaderCompiledForTheHost() throws Exception {
        Path probe = compileProbe();
        List<int[]> inputs = inputs();
        StringBuilder stdin = new StringBuilder();
        for (int[] in : inputs) stdin.append(hex(in, 0, 6).trim()).append('\n');
        String[] lines = run(List.of(probe.toString()), stdin.toString(), work).split("\n");
        assertEquals(KAT.length + inputs.size(), lines.length, "probe output lines");

        for (int i = 0; i < KAT.length; i++) {
            // the header's own answers to the known-answer inputs, against the published words
            assertEquals("kat" + hex(KAT[i], 0, 10), lines[i].trim(), "probe's known-answer line " + i);
        }
        int[] out = new int[4];
        int words = 0;
        for (int i = 0; i < inputs.size(); i++) {
            int[] in = inputs.get(i);
            String[] f = lines[KAT.length + i].trim().split(" ");
            assertEquals(6 + 4 + 4 + 4, f.length, "probe line: " + lines[KAT.length + i]);
            for (int k = 0; k < 6; k++) assertEquals(in[k], Integer.parseUnsignedInt(f[k], 16), "echoed input");
            Philox.block(new int[] {in[0], in[1], in[2], in[3]}, new int[] {in[4], in[5]}, out);
            for (int k = 0; k < 4; k++) {
                String where = "word " + k + " of" + hex(in, 0, 6);
                assertEquals(out[k], Integer.parseUnsignedInt(f[6 + k], 16), "philox_block " + where);
                assertEquals(Philox.word(in[0], in[1], in[2], in[3], in[4], in[5], k), Integer.parseUnsignedInt(f[10 + k], 16),
                        "philox_word " + where);
                assertEquals(Double.doubleToRawLongBits(Philox.uniform(out[k])), Long.parseUnsignedLong(f[14 + k], 16),
                        "philox_uniform " + where);
                words++;
            }
        }
        System.out.printf("host header vs Java: %d known answers and %d words (block, word, uniform) identical%n",
                KAT.length, words);
    }

    private static String hex(int[] values, int from, int to) {
        StringBuilder s = new StringBuilder();
        for (int i = from; i < to; i++) s.append(String.format(" %08x", values[i]));
        return s.toString();
    }

    static Optional<Path> onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    static String run(List<String> command, String stdin, Path dir) throws IOException, InterruptedException {
        // stdin from a file: writing it down a pipe while the child fills its stdout pipe would deadlock
        Path input = Files.createTempFile(dir, "stdin", ".txt");
        Files.writeString(input, stdin, StandardCharsets.US_ASCII);
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(input.toFile()).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(5, TimeUnit.MINUTES), "timed out: " + command);
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed:\n" + out);
        return out;
    }

    /** Compiles the probe with the first compiler found; returns the executable. */
    Path compileProbe() throws IOException, InterruptedException {
        Path cuda = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("cuda");
        Path source = cuda.resolve("test/philox_probe.cpp");
        assertTrue(Files.isRegularFile(source), source + " is missing");
        Path probe = work.resolve("philox_probe");
        for (String compiler : new String[] {"g++", "clang++", "c++", "nvcc"}) {
            Optional<Path> path = onPath(compiler);
            if (path.isEmpty()) continue;
            List<String> command = new ArrayList<>(List.of(path.get().toString()));
            if (compiler.equals("nvcc")) {
                // -x cu: host code of a CUDA translation unit, so __CUDACC__ is set and __CUDA_ARCH__ is not
                command.addAll(List.of("-x", "cu", "-O2", "-Werror", "all-warnings"));
            } else {
                command.addAll(List.of("-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror"));
            }
            command.addAll(List.of(source.toString(), "-o", probe.toString()));
            System.out.println("compiler: " + String.join(" ", command));
            run(command, "", work);
            return probe;
        }
        Assumptions.abort("no host C++ compiler (g++, clang++, c++, nvcc) on the PATH");
        return null;
    }
}
