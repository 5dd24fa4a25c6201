package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.backend.ElementMath;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the kernels of rnn_cell.cu, lstm_cell.cu, gru_cell.cu, packing.cu and training.cu (all but
 * those whose threads share data: {@link #SHARED_DATA_KERNELS}) on the host ({@code cuda/test/kernel_host_harness.cpp},
 * one emulated thread at a time over small grids that make every grid-stride loop go round) and
 * holds each output against the same launch on {@link EmulatedCudaApi}, whose
 * {@code EmulatedKernels} are the one Java copy of every kernel: the .cu code and its Java twin
 * agree on every case. Everything is compared bit for bit except where a libm function is evaluated
 * (glibc vs fdlibm; see ElementMathHostTest), which is held to {@value #TANH_ULPS_OF_ONE} ulp of max(1, |value|).
 * Skipped only when no host C++ compiler is on the PATH.
 */
class KernelHostHarnessTest {
    static final int TANH_ULPS_OF_ONE = 8;

    @TempDir
    Path work;

    /** One case the harness printed: its kernel, integer settings and arrays (as doubles; floats widen exactly). */
    static final class Case {
        final String kernel;
        final Map<String, Integer> ints = new LinkedHashMap<>();
        /** Settings too large for an int (seeds). */
        final Map<String, Long> longs = new LinkedHashMap<>();
        final Map<String, double[]> arrays = new HashMap<>();
        boolean isFloat;

        Case(String kernel) {
            this.kernel = kernel;
        }

        int i(String name) {
            Integer v = ints.get(name);
            if (v == null) throw new IllegalStateException(kernel + ": no setting " + name);
            return v;
        }

        double[] a(String name) {
            double[] v = arrays.get(name);
            if (v == null) throw new IllegalStateException(kernel + " " + ints + ": no array " + name);
            return v;
        }

    }

    static List<Case> parse(String output) {
        List<Case> cases = new ArrayList<>();
        Case current = null;
        for (String line : output.split("\n")) {
            String[] f = line.trim().split(" ");
            switch (f[0]) {
                case "case":
                    current = new Case(f[1]);
                    current.isFloat = f[1].endsWith("_f32");
                    for (int k = 2; k < f.length; k++) {
                        String[] kv = f[k].split("=");
                        long v = Long.parseLong(kv[1]);
                        if (v == (int) v) current.ints.put(kv[0], (int) v);
                        else current.longs.put(kv[0], v);
                    }
                    break;
                case "array": {
                    double[] values = new double[f.length - 3];
                    for (int k = 0; k < values.length; k++) {
                        String hex = f[k + 3];
                        switch (f[2]) {
                            case "f": values[k] = Float.intBitsToFloat((int) Long.parseLong(hex, 16)); break;
                            case "d": values[k] = Double.longBitsToDouble(Long.parseUnsignedLong(hex, 16)); break;
                            case "i": values[k] = (int) Long.parseLong(hex, 16); break;
                            default: throw new IllegalStateException("array type " + f[2]);
                        }
                    }
                    current.arrays.put(f[1], values);
                    break;
                }
                case "end":
                    cases.add(current);
                    current = null;
                    break;
                default:
                    throw new IllegalStateException("harness line: " + line);
            }
        }
        return cases;
    }

    // ---- the emulator's run of the same case ----

    /** The array a pointer parameter starts from, by the harness's names for in/out buffers. */
    private static final Map<String, String> INPUT_OF = Map.ofEntries(
            Map.entry("deltaInOut", "deltaIn"), Map.entry("hiddenGradCarry", "carryIn"), Map.entry("gatesInDeltaOut", "gatesIn"),
            Map.entry("hiddenGatesInDeltaOut", "hiddenGatesIn"), Map.entry("cellGradCarry", "cellCarryIn"),
            Map.entry("gates", "gatesIn"), Map.entry("dst", "dstIn"), Map.entry("logits", "logitsIn"), Map.entry("param", "paramIn"),
            Map.entry("momentumBuffer", "bufferIn"), Map.entry("expAvg", "expAvgIn"), Map.entry("expAvgSq", "expAvgSqIn"),
            Map.entry("x", "xIn"), Map.entry("grad", "gradIn"));
    /** The harness's output arrays and the parameter whose buffer holds each after the launch. */
    private static final Map<String, String> OUTPUT_OF = Map.ofEntries(
            Map.entry("hiddenOut", "hiddenOut"), Map.entry("cellOut", "cellOut"), Map.entry("deltaOut", "deltaInOut"),
            Map.entry("gatesOut", "gates|gatesInDeltaOut"), Map.entry("cellCarryOut", "cellGradCarry"),
            Map.entry("hiddenGatesOut", "hiddenGatesInDeltaOut"), Map.entry("hiddenGatesAfter", "hiddenGates"),
            Map.entry("dstOut", "dst"), Map.entry("logitsOut", "logits"), Map.entry("rowLossOut", "rowLoss"),
            Map.entry("paramOut", "param"), Map.entry("bufferOut", "momentumBuffer"), Map.entry("expAvgOut", "expAvg"),
            Map.entry("expAvgSqOut", "expAvgSq"), Map.entry("xOut", "x"), Map.entry("maskOut", "mask"), Map.entry("gradOut", "grad"));

    /**
     * Runs the case's kernel on {@link EmulatedCudaApi} (the one Java copy of every kernel) with the
     * harness's inputs, and returns what each of the harness's output arrays holds there. Write-only
     * outputs start at −77, as in the harness; {@code carryIn} feeds the carry of whichever kernel has one.
     */
    static Map<String, double[]> emulate(Case c) {
        CudaKernel kernel = KernelRegistry.byFunctionName(c.kernel);
        DType real = kernel.dtype();
        List<CudaKernel.Parameter> params = kernel.parameters();
        Object[] args = new Object[params.size()];
        Map<String, Long> addresses = new LinkedHashMap<>();
        Map<String, Integer> lengths = new LinkedHashMap<>();
        double[] scalars = c.arrays.getOrDefault("scalars", new double[0]);
        int aliased = -1;
        int scalar = kernel.family().equals("clamp") ? 1 : 0; // the harness prints scale's alpha and clamp's bounds as one list
        try (EmulatedCudaApi device = new EmulatedCudaApi()) {
            for (int i = 0; i < params.size(); i++) {
                CudaKernel.Parameter p = params.get(i);
                switch (p.type()) {
                    case POINTER: {
                        double[] values = c.arrays.get(INPUT_OF.getOrDefault(p.name(), p.name()));
                        if (values == null) values = c.arrays.get(p.name());
                        boolean absent = values == null && (p.nullable() || (p.name().equals("momentumBuffer") && c.i("momentum") == 0));
                        if (p.name().equals("hiddenOut") && c.ints.getOrDefault("alias", 0) != 0) {
                            aliased = i; // written over the pre-activations, which come later in the signature
                            continue;
                        }
                        if (absent) {
                            args[i] = null;
                            continue;
                        }
                        if (values == null) values = minus77(c, kernel, p.name());
                        long at = device.allocate(p.pointee(), values.length);
                        device.copyHostToDevice(at, tensor(values, p.pointee()));
                        addresses.put(p.name(), at);
                        lengths.put(p.name(), values.length);
                        args[i] = new DevicePointer(at);
                        break;
                    }
                    case INT32: args[i] = c.i(p.name()); break;
                    case INT64: args[i] = c.longs.containsKey(p.name()) ? (long) c.longs.get(p.name()) : (long) c.i(p.name()); break;
                    case FLOAT32: args[i] = kernel.family().equals("fill") ? 0.25f : (float) scalars[scalar++]; break;
                    case FLOAT64: args[i] = kernel.family().equals("fill") ? 0.25 : scalars[scalar++]; break;
                    default: throw new AssertionError(p);
                }
            }
            if (aliased >= 0) {
                args[aliased] = new DevicePointer(addresses.get("preActivation"));
                addresses.put("hiddenOut", addresses.get("preActivation"));
                lengths.put("hiddenOut", lengths.get("preActivation"));
            }
            device.launch(kernel, CudaKernel.gridSize(kernel.elementCount(args)), CudaKernel.BLOCK_SIZE, args);
            Map<String, double[]> out = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : OUTPUT_OF.entrySet()) {
                if (!c.arrays.containsKey(e.getKey())) continue;
                String param = null;
                for (String candidate : e.getValue().split("\\|")) if (addresses.containsKey(candidate)) param = candidate;
                if (param == null) {
                    // A buffer the kernel was not given (SGD without momentum): it keeps its input.
                    out.put(e.getKey(), c.a(INPUT_OF.get(e.getValue())));
                    continue;
                }
                Tensor t = Tensor.zeros(real, lengths.get(param));
                device.copyDeviceToHost(addresses.get(param), t);
                out.put(e.getKey(), t.toDoubleArray());
            }
            for (long at : new java.util.LinkedHashSet<>(addresses.values())) device.free(at);
            return out;
        }
    }

    /** A write-only output's starting contents: −77 wherever the harness writes, sized as the harness's output array. */
    private static double[] minus77(Case c, CudaKernel kernel, String param) {
        for (Map.Entry<String, String> e : OUTPUT_OF.entrySet()) {
            if (java.util.Arrays.asList(e.getValue().split("\\|")).contains(param) && c.arrays.containsKey(e.getKey())) {
                double[] v = new double[c.a(e.getKey()).length];
                java.util.Arrays.fill(v, -77.0);
                return v;
            }
        }
        throw new IllegalStateException(kernel + ": the harness prints no array for " + param);
    }

    private static Tensor tensor(double[] values, DType dtype) {
        Tensor t = Tensor.zeros(dtype, values.length);
        for (int i = 0; i < values.length; i++) t.setDouble(i, values[i]);
        return t;
    }

    /**
     * Kernels whose threads cooperate (shared memory and __syncthreads, warp shuffles), which a
     * one-thread-at-a-time run cannot execute; CudaTrainingKernelsTest covers them on the emulator.
     */
    static final List<String> SHARED_DATA_KERNELS = List.of("sum_of_squares_f32", "sum_of_squares_f64",
            "count_non_finite_f32", "count_non_finite_f64");

    /** Largest difference; -1 if bits must match and some differ (signed zeros included). */
    static double compare(Case c, String what, double[] expected, double[] actual, boolean exact, List<String> failures) {
        assertEquals(expected.length, actual.length, c.kernel + " " + what + " length");
        double ulpOfOne = c.isFloat ? Math.ulp(1.0f) : Math.ulp(1.0);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            boolean sameBits = c.isFloat ? Float.floatToIntBits((float) e) == Float.floatToIntBits((float) a)
                    : Double.doubleToLongBits(e) == Double.doubleToLongBits(a);
            double diff = sameBits ? 0 : Math.abs(e - a);
            worst = Math.max(worst, diff);
            boolean ok = sameBits || (!exact && diff <= TANH_ULPS_OF_ONE * ulpOfOne * Math.max(1, Math.abs(e)));
            if (!ok && failures.size() < 20) {
                failures.add(String.format("%s %s %s[%d]: host-compiled .cu %s, emulator %s", c.kernel, c.ints, what, i, a, e));
            }
        }
        return worst;
    }

    static Optional<Path> hostCompiler() {
        for (String compiler : new String[] {"g++", "clang++", "c++"}) {
            Optional<Path> p = ElementMathHostTest.onPath(compiler);
            if (p.isPresent()) return p;
        }
        return Optional.empty();
    }

    @Test
    void kernelsRunOnTheHostMatchTheirContracts() throws Exception {
        Optional<Path> compiler = hostCompiler();
        Assumptions.assumeTrue(compiler.isPresent(), "no host C++ compiler (g++, clang++, c++) on the PATH");
        Path source = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("cuda/test/kernel_host_harness.cpp");
        assertTrue(Files.isRegularFile(source), source + " is missing");
        Path harness = work.resolve("kernel_host_harness");
        List<String> command = List.of(compiler.get().toString(), "-std=c++17", "-O2", "-ffp-contract=off", "-Wall", "-Wextra",
                "-Werror", "-Wno-unknown-pragmas", source.toString(), "-o", harness.toString());
        System.out.println("compiler: " + String.join(" ", command));
        ElementMathHostTest.run(command, "", work);
        List<Case> cases = parse(ElementMathHostTest.run(List.of(harness.toString()), "", work));

        List<String> failures = new ArrayList<>();
        Map<String, Integer> perKernel = new LinkedHashMap<>();
        for (Case c : cases) {
            String family = c.kernel.substring(0, c.kernel.length() - 4);
            boolean tanh = c.ints.getOrDefault("activation", 1) == ElementMath.ACTIVATION_TANH;
            // Where a libm function is evaluated (tanh, exp, log) the host's glibc and the emulator's
            // fdlibm may differ by a few ulp; everything else must be the same bits.
            boolean libm = (family.startsWith("rnn") && tanh && (family.equals("rnn_forward") || c.i("residual") != 0))
                    || family.startsWith("lstm") || family.equals("gru_forward") || family.equals("softmax_xent");
            Map<String, double[]> emulated = emulate(c);
            assertFalse(emulated.isEmpty(), c.kernel + ": no output compared");
            double worst = 0;
            for (Map.Entry<String, double[]> e : emulated.entrySet()) {
                worst = Math.max(worst, compare(c, e.getKey(), e.getValue(), c.a(e.getKey()), !libm, failures));
            }
            KernelRegistry.byFunctionName(c.kernel); // every harness case names a registered kernel
            perKernel.merge(c.kernel, 1, Integer::sum);
            System.out.printf("  %-17s %-70s max |diff| %.3g (%s)%n", c.kernel, c.ints, worst,
                    libm ? "held to " + TANH_ULPS_OF_ONE + " ulp of max(1,|x|)" : "same bits");
        }
        System.out.println("cases per kernel: " + perKernel);
        failures.forEach(f -> System.out.println("  MISMATCH " + f));
        assertTrue(failures.isEmpty(), failures.size() + "+ mismatches, first: " + (failures.isEmpty() ? "" : failures.get(0)));
        List<String> notRun = new ArrayList<>();
        for (CudaKernel k : KernelRegistry.kernels()) if (!perKernel.containsKey(k.functionName())) notRun.add(k.functionName());
        System.out.println("not run one thread at a time (their threads share data): " + notRun);
        assertEquals(new java.util.TreeSet<>(SHARED_DATA_KERNELS), new java.util.TreeSet<>(notRun), "every other registered kernel is exercised");
    }
}
