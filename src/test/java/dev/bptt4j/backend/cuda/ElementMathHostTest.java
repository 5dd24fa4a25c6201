package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.backend.ElementMath;
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
 * Compiles {@code cuda/test/element_math_probe.cpp}, which includes {@code cuda/bptt4j_math.cuh},
 * with a host compiler and holds its answers against {@link ElementMath} on edge values and a
 * seeded sweep: relu and every derivative bit for bit; tanh and sigmoid within {@value #LIBM_ULPS}
 * ulp (glibc vs fdlibm); tanh's derivative from z bit for bit given the probe's own tanh(z).
 * Skipped only when no compiler (g++, clang++, c++ or nvcc) is on the PATH.
 */
class ElementMathHostTest {
    /** glibc's tanh/tanhf/exp/expf against fdlibm's (StrictMath): each is off by up to about 2 ulp. */
    static final int LIBM_ULPS = 3;
    static final String[] FUNCTIONS = {"tanh_of", "relu_of", "sigmoid_of", "tanh_grad_from_output", "relu_grad",
        "activate(tanh)", "activate(relu)", "grad_from_output(tanh)", "grad_from_output(relu)",
        "grad_from_preactivation(tanh)", "grad_from_preactivation(relu)"};

    @TempDir
    Path work;

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
        Path source = cuda.resolve("test/element_math_probe.cpp");
        assertTrue(Files.isRegularFile(source), source + " is missing");
        Path probe = work.resolve("element_math_probe");
        for (String compiler : new String[] {"g++", "clang++", "c++", "nvcc"}) {
            Optional<Path> path = onPath(compiler);
            if (path.isEmpty()) continue;
            List<String> command = new ArrayList<>(List.of(path.get().toString()));
            if (compiler.equals("nvcc")) {
                // -x cu: host code of a CUDA translation unit, so __CUDACC__ is set and __CUDA_ARCH__ is not
                command.addAll(List.of("-x", "cu", "-O2", "-Werror", "all-warnings"));
            } else {
                command.addAll(List.of("-std=c++17", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"));
            }
            command.addAll(List.of("-I" + cuda, source.toString(), "-o", probe.toString()));
            System.out.println("compiler: " + String.join(" ", command));
            run(command, "", work);
            return probe;
        }
        Assumptions.abort("no host C++ compiler (g++, clang++, c++, nvcc) on the PATH");
        return null;
    }

    static final float[] FLOAT_EDGES = {0f, -0f, 1e-30f, -1e-30f, 1e-40f, -1e-40f, 1e-45f, -1e-45f, Float.MIN_NORMAL,
        0.5f, -0.5f, 1f, -1f, 0.999f, -0.999f, 20f, -20f, 88f, -88f, 89f, -89f, 104f, -104f, 1e30f, -1e30f,
        Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
    static final double[] DOUBLE_EDGES = {0.0, -0.0, 1e-30, -1e-30, 1e-310, -1e-310, 4.9e-324, -4.9e-324, Double.MIN_NORMAL,
        1e-45, -1e-45, 0.5, -0.5, 1.0, -1.0, 0.999, -0.999, 20.0, -20.0, 709.0, -709.0, 710.0, -710.0, 746.0, -746.0,
        1e300, -1e300, Double.MAX_VALUE, -Double.MAX_VALUE, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN};

    @Test
    void javaTwinMatchesTheHeaderCompiledForTheHost() throws Exception {
        Path probe = compileProbe();
        List<Float> floats = new ArrayList<>();
        List<Double> doubles = new ArrayList<>();
        for (float f : FLOAT_EDGES) floats.add(f);
        for (double d : DOUBLE_EDGES) doubles.add(d);
        Random random = new Random(20240611L);
        for (int i = 0; i < 4000; i++) {
            // magnitudes 1e-8 .. 1e3 evenly in the exponent, both signs: tanh's and sigmoid's interesting range
            double v = Math.pow(10, -8 + 11 * random.nextDouble()) * (random.nextBoolean() ? 1 : -1);
            floats.add((float) v);
            doubles.add(v);
        }
        StringBuilder stdin = new StringBuilder();
        for (float f : floats) stdin.append(String.format("f %08x%n", Float.floatToRawIntBits(f)));
        for (double d : doubles) stdin.append(String.format("d %016x%n", Double.doubleToRawLongBits(d)));
        String[] lines = run(List.of(probe.toString()), stdin.toString(), work).split("\n");
        assertEquals(floats.size() + doubles.size(), lines.length, "probe output lines");

        long[] worstFloat = new long[FUNCTIONS.length];
        long[] worstDouble = new long[FUNCTIONS.length];
        List<String> failures = new ArrayList<>();
        for (String line : lines) {
            String[] f = line.trim().split(" ");
            assertEquals(2 + FUNCTIONS.length, f.length, "probe line: " + line);
            boolean isFloat = f[0].equals("f");
            double[] probeValues = new double[FUNCTIONS.length];
            double[] javaValues;
            double input;
            if (isFloat) {
                float z = Float.intBitsToFloat((int) Long.parseLong(f[1], 16));
                input = z;
                for (int k = 0; k < FUNCTIONS.length; k++) probeValues[k] = Float.intBitsToFloat((int) Long.parseLong(f[2 + k], 16));
                float probeTanh = (float) probeValues[0];
                javaValues = new double[] {ElementMath.tanh(z), ElementMath.relu(z), ElementMath.sigmoid(z),
                    ElementMath.tanhGradFromOutput(z), ElementMath.reluGrad(z),
                    ElementMath.activate(z, 0), ElementMath.activate(z, 1),
                    ElementMath.activationGradFromOutput(z, 0), ElementMath.activationGradFromOutput(z, 1),
                    ElementMath.tanhGradFromOutput(probeTanh), ElementMath.activationGradFromPreactivation(z, 1)};
            } else {
                double z = Double.longBitsToDouble(Long.parseUnsignedLong(f[1], 16));
                input = z;
                for (int k = 0; k < FUNCTIONS.length; k++) probeValues[k] = Double.longBitsToDouble(Long.parseUnsignedLong(f[2 + k], 16));
                javaValues = new double[] {ElementMath.tanh(z), ElementMath.relu(z), ElementMath.sigmoid(z),
                    ElementMath.tanhGradFromOutput(z), ElementMath.reluGrad(z),
                    ElementMath.activate(z, 0), ElementMath.activate(z, 1),
                    ElementMath.activationGradFromOutput(z, 0), ElementMath.activationGradFromOutput(z, 1),
                    ElementMath.tanhGradFromOutput(probeValues[0]), ElementMath.activationGradFromPreactivation(z, 1)};
            }
            for (int k = 0; k < FUNCTIONS.length; k++) {
                long ulps = isFloat ? ulpDistance((float) probeValues[k], (float) javaValues[k]) : ulpDistance(probeValues[k], javaValues[k]);
                boolean libm = k == 0 || k == 2 || k == 5; // tanh_of, sigmoid_of, activate(tanh)
                long allowed = libm ? LIBM_ULPS : 0;
                boolean exactBits = isFloat
                        ? Float.floatToRawIntBits((float) probeValues[k]) == Float.floatToRawIntBits((float) javaValues[k])
                        : Double.doubleToRawLongBits(probeValues[k]) == Double.doubleToRawLongBits(javaValues[k]);
                boolean bothNaN = Double.isNaN(probeValues[k]) && Double.isNaN(javaValues[k]);
                // exact means the same bits (so +0 vs -0 fails), NaN payloads aside
                boolean ok = bothNaN || (libm ? ulps <= allowed : exactBits);
                long[] worst = isFloat ? worstFloat : worstDouble;
                if (!bothNaN) worst[k] = Math.max(worst[k], ulps);
                if (!ok && failures.size() < 20) {
                    failures.add(String.format("%s %s(%s): probe %s, java %s, %d ulp (allowed %d%s)", isFloat ? "f32" : "f64",
                            FUNCTIONS[k], isFloat ? Float.toString((float) input) : Double.toString(input),
                            isFloat ? Float.toString((float) probeValues[k]) : Double.toString(probeValues[k]),
                            isFloat ? Float.toString((float) javaValues[k]) : Double.toString(javaValues[k]),
                            ulps, allowed, libm ? "" : ", same bits required"));
                }
            }
        }
        System.out.printf("%d f32 and %d f64 inputs (edge values + %d seeded)%n", floats.size(), doubles.size(), 4000);
        for (int k = 0; k < FUNCTIONS.length; k++) {
            boolean libm = k == 0 || k == 2 || k == 5;
            System.out.printf("  %-30s max ulp f32 %d, f64 %d; held to %s%n", FUNCTIONS[k], worstFloat[k], worstDouble[k],
                    libm ? LIBM_ULPS + " ulp" : "same bits");
        }
        failures.forEach(s -> System.out.println("  MISMATCH " + s));
        assertTrue(failures.isEmpty(), failures.size() + "+ mismatches, first: " + (failures.isEmpty() ? "" : failures.get(0)));
    }

    /** Distance in representable floats; +0 and -0 are 0 apart; infinities count as the last step. */
    static long ulpDistance(float a, float b) {
        if (Float.isNaN(a) || Float.isNaN(b)) return Float.isNaN(a) && Float.isNaN(b) ? 0 : Long.MAX_VALUE;
        return Math.abs(ordered(Float.floatToRawIntBits(a)) - ordered(Float.floatToRawIntBits(b)));
    }

    static long ulpDistance(double a, double b) {
        if (Double.isNaN(a) || Double.isNaN(b)) return Double.isNaN(a) && Double.isNaN(b) ? 0 : Long.MAX_VALUE;
        long oa = ordered(Double.doubleToRawLongBits(a)), ob = ordered(Double.doubleToRawLongBits(b));
        return (oa >= 0) == (ob >= 0) ? Math.abs(oa - ob) : Math.min(Long.MAX_VALUE, Math.abs(oa) + Math.abs(ob));
    }

    private static long ordered(int bits) {
        return bits < 0 ? (long) Integer.MIN_VALUE - bits : bits;
    }

    private static long ordered(long bits) {
        return bits < 0 ? Long.MIN_VALUE - bits : bits;
    }
}
