package dev.bptt4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.backend.ElementMath;
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
 * holds each output against a reference written here from the kernel contracts in the .cu headers.
 * Everything is compared bit for bit except where tanh is evaluated (glibc vs fdlibm; see
 * ElementMathHostTest), which is held to {@value #TANH_ULPS_OF_ONE} ulp of max(1, |value|).
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

        /** Rounds a double result to the case's precision: exact float arithmetic for one + or ×. */
        double r(double x) {
            return isFloat ? (float) x : x;
        }

        double activate(double z, int activation) {
            return isFloat ? ElementMath.activate((float) z, activation) : ElementMath.activate(z, activation);
        }

        double gradFromOutput(double h, int activation) {
            return isFloat ? ElementMath.activationGradFromOutput((float) h, activation) : ElementMath.activationGradFromOutput(h, activation);
        }

        double sigmoid(double z) {
            return isFloat ? ElementMath.sigmoid((float) z) : ElementMath.sigmoid(z);
        }

        double tanh(double z) {
            return isFloat ? ElementMath.tanh((float) z) : ElementMath.tanh(z);
        }

        double sigmoidGrad(double s) {
            return isFloat ? ElementMath.sigmoidGradFromOutput((float) s) : ElementMath.sigmoidGradFromOutput(s);
        }

        double tanhGrad(double h) {
            return isFloat ? ElementMath.tanhGradFromOutput((float) h) : ElementMath.tanhGradFromOutput(h);
        }

        /** v + bias[k] rounded, or v when the bias is absent. */
        double plus(double v, String bias, int k) {
            double[] b = arrays.get(bias);
            return b == null ? v : r(v + b[k]);
        }

        double gradFromPreactivation(double z, int activation) {
            return isFloat ? ElementMath.activationGradFromPreactivation((float) z, activation)
                    : ElementMath.activationGradFromPreactivation(z, activation);
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
                        current.ints.put(kv[0], Integer.parseInt(kv[1]));
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

    // ---- the references, from the contracts in rnn_cell.cu and packing.cu ----

    static double[] rnnForward(Case c) {
        int rows = c.i("rows"), hidden = c.i("hiddenSize"), activation = c.i("activation");
        boolean residual = c.i("residual") != 0;
        double[] pre = c.a("preActivation");
        double[] biasIh = c.arrays.get("biasIh"), biasHh = c.arrays.get("biasHh");
        double[] out = new double[rows * hidden];
        for (int i = 0; i < out.length; i++) {
            double z = pre[i];
            if (biasIh != null) z = c.r(z + biasIh[i % hidden]); // b_ih first, then b_hh
            if (biasHh != null) z = c.r(z + biasHh[i % hidden]);
            double f = c.activate(z, activation);
            out[i] = residual ? c.r(c.a("hiddenPrev")[i] + f) : f;
        }
        return out;
    }

    /** {deltaOut, carryOut}. */
    static double[][] rnnBackward(Case c) {
        int alive = c.i("aliveRows") * c.i("hiddenSize"), n = c.i("slotRows") * c.i("hiddenSize");
        int hidden = c.i("hiddenSize"), activation = c.i("activation");
        boolean residual = c.i("residual") != 0;
        double[] biasIh = c.arrays.get("biasIh"), biasHh = c.arrays.get("biasHh");
        double[] delta = c.a("deltaIn").clone(), carry = c.a("carryIn").clone();
        for (int i = 0; i < n; i++) {
            if (i >= alive) {
                delta[i] = 0.0; // ended sequences: no delta, carry untouched
                continue;
            }
            double g = c.r(c.a("outputGrad")[i] + carry[i]);
            double derivative;
            if (residual) {
                double z = delta[i];
                if (biasIh != null) z = c.r(z + biasIh[i % hidden]);
                if (biasHh != null) z = c.r(z + biasHh[i % hidden]);
                derivative = c.gradFromPreactivation(z, activation);
                carry[i] = g;
            } else {
                derivative = c.gradFromOutput(c.a("hidden")[i], activation);
            }
            delta[i] = c.r(derivative * g);
        }
        return new double[][] {delta, carry};
    }

    // ---- lstm_cell.cu and gru_cell.cu: every sum and product rounded on its own, as mul_rn does ----

    /** {gatesOut, hiddenOut, cellOut}. */
    static double[][] lstmForward(Case c) {
        int rows = c.i("rows"), h = c.i("hiddenSize");
        double[] gates = c.a("gatesIn").clone(), cp = c.a("cellPrev");
        double[] hidden = new double[rows * h], cell = new double[rows * h];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < h; j++) {
                double[] act = new double[4];
                for (int k = 0; k < 4; k++) {
                    double a = c.plus(c.plus(gates[r * 4 * h + k * h + j], "biasIh", k * h + j), "biasHh", k * h + j);
                    act[k] = k == 2 ? c.tanh(a) : c.sigmoid(a);
                    gates[r * 4 * h + k * h + j] = act[k];
                }
                int e = r * h + j;
                cell[e] = c.r(c.r(act[1] * cp[e]) + c.r(act[0] * act[2]));
                hidden[e] = c.r(act[3] * c.tanh(cell[e]));
            }
        }
        return new double[][] {gates, hidden, cell};
    }

    /** {gatesOut, cellCarryOut}. */
    static double[][] lstmBackward(Case c) {
        int h = c.i("hiddenSize"), alive = c.i("aliveRows") * h, n = c.i("slotRows") * h;
        double[] gates = c.a("gatesIn").clone(), cc = c.a("cellCarryIn").clone();
        for (int e = 0; e < n; e++) {
            int base = (e / h) * 4 * h + e % h;
            if (e >= alive) {
                for (int k = 0; k < 4; k++) gates[base + k * h] = 0.0; // ended sequences: no delta, carry untouched
                continue;
            }
            double i = gates[base], f = gates[base + h], g = gates[base + 2 * h], o = gates[base + 3 * h];
            double dh = c.r(c.a("outputGrad")[e] + c.a("hiddenGradCarry")[e]);
            double tc = c.tanh(c.a("cell")[e]);
            double dc = c.r(cc[e] + c.r(c.r(dh * o) * c.tanhGrad(tc)));
            gates[base] = c.r(c.r(dc * g) * c.sigmoidGrad(i));
            gates[base + h] = c.r(c.r(dc * c.a("cellPrev")[e]) * c.sigmoidGrad(f));
            gates[base + 2 * h] = c.r(c.r(dc * i) * c.tanhGrad(g));
            gates[base + 3 * h] = c.r(c.r(dh * tc) * c.sigmoidGrad(o));
            cc[e] = c.r(dc * f);
        }
        return new double[][] {gates, cc};
    }

    /** {gatesOut, hiddenOut}. */
    static double[][] gruForward(Case c) {
        int rows = c.i("rows"), h = c.i("hiddenSize");
        double[] gates = c.a("gatesIn").clone(), gh = c.a("hiddenGates"), hp = c.a("hiddenPrev");
        double[] hidden = new double[rows * h];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < h; j++) {
                int kr = r * 3 * h + j, kz = kr + h, kn = kz + h, e = r * h + j;
                double rg = c.sigmoid(c.r(c.plus(gates[kr], "biasIh", j) + c.plus(gh[kr], "biasHh", j)));
                double zg = c.sigmoid(c.r(c.plus(gates[kz], "biasIh", h + j) + c.plus(gh[kz], "biasHh", h + j)));
                double ng = c.tanh(c.r(c.plus(gates[kn], "biasIh", 2 * h + j) + c.r(rg * c.plus(gh[kn], "biasHh", 2 * h + j))));
                gates[kr] = rg;
                gates[kz] = zg;
                gates[kn] = ng;
                hidden[e] = c.r(ng + c.r(zg * c.r(hp[e] - ng)));
            }
        }
        return new double[][] {gates, hidden};
    }

    /** {gatesOut, hiddenGatesOut, carryOut}. */
    static double[][] gruBackward(Case c) {
        int h = c.i("hiddenSize"), alive = c.i("aliveRows") * h, n = c.i("slotRows") * h;
        double[] gates = c.a("gatesIn").clone(), gh = c.a("hiddenGatesIn").clone(), carry = c.a("carryIn").clone();
        for (int e = 0; e < n; e++) {
            int kr = (e / h) * 3 * h + e % h, kz = kr + h, kn = kz + h;
            if (e >= alive) {
                gates[kr] = gates[kz] = gates[kn] = 0.0; // ended sequences: no deltas, carry untouched
                gh[kr] = gh[kz] = gh[kn] = 0.0;
                continue;
            }
            double rg = gates[kr], zg = gates[kz], ng = gates[kn];
            double g = c.r(c.a("outputGrad")[e] + carry[e]);
            double dan = c.r(c.r(g * c.r(1.0 - zg)) * c.tanhGrad(ng));
            double daz = c.r(c.r(g * c.r(c.a("hiddenPrev")[e] - ng)) * c.sigmoidGrad(zg));
            double dar = c.r(c.r(dan * c.plus(gh[kn], "biasHh", 2 * h + e % h)) * c.sigmoidGrad(rg));
            gates[kr] = dar;
            gates[kz] = daz;
            gates[kn] = dan;
            gh[kr] = dar;
            gh[kz] = daz;
            gh[kn] = c.r(dan * rg);
            carry[e] = c.r(g * zg);
        }
        return new double[][] {gates, gh, carry};
    }

    static double[] gatherRows(Case c) {
        double[] dst = c.a("dstIn").clone(), src = c.a("src"), rowIndex = c.a("rowIndex");
        boolean accumulate = c.i("accumulate") != 0;
        for (int r = 0; r < c.i("rows"); r++) {
            for (int col = 0; col < c.i("width"); col++) {
                int target = r * c.i("dstStride") + c.i("dstColumn") + col;
                int source = (int) rowIndex[r];
                if (source < 0) {
                    if (!accumulate) dst[target] = 0.0; // padding row: contributes zero, leaves an accumulator alone
                    continue;
                }
                double v = src[source * c.i("srcStride") + c.i("srcColumn") + col];
                dst[target] = accumulate ? c.r(dst[target] + v) : v;
            }
        }
        return dst;
    }

    /**
     * Kernels whose threads cooperate (shared memory and __syncthreads, warp shuffles), which a
     * one-thread-at-a-time run cannot execute; CudaTrainingKernelsTest covers them on the emulator.
     */
    static final List<String> SHARED_DATA_KERNELS = List.of("sum_of_squares_f32", "sum_of_squares_f64",
            "count_non_finite_f32", "count_non_finite_f64");

    // training.cu: every value in double, rounded once to the case's precision when stored.
    static double[][] softmaxXent(Case c) {
        int rows = c.i("rows"), classes = c.i("classes");
        double[] z = c.a("logitsIn").clone(), loss = new double[rows], targets = c.a("targets");
        int[] t = new int[rows];
        for (int r = 0; r < rows; r++) t[r] = (int) targets[r];
        dev.bptt4j.backend.TrainingKernels.softmaxCrossEntropy(z, 0, t, 0, loss, 0, rows, classes, c.a("scalars")[0]);
        for (int i = 0; i < z.length; i++) z[i] = c.r(z[i]);
        for (int i = 0; i < rows; i++) loss[i] = c.r(loss[i]);
        return new double[][] {z, loss};
    }

    static double regularised(double g, double p, double weightDecay, double l1) {
        if (weightDecay != 0) g = g + weightDecay * p;
        if (l1 != 0) g = g + l1 * Math.signum(p);
        return g;
    }

    static double[][] sgdStep(Case c) {
        double[] s = c.a("scalars"), p = c.a("paramIn").clone(), g = c.a("grad"), b = c.a("bufferIn").clone();
        double lr = s[0], momentum = s[1], dampening = s[2];
        for (int i = 0; i < c.i("count"); i++) {
            double d = regularised(g[i], p[i], s[3], s[4]);
            if (momentum != 0) {
                double v = c.i("firstStep") != 0 ? d : momentum * b[i] + (1 - dampening) * d;
                b[i] = c.r(v);
                d = c.i("nesterov") != 0 ? d + momentum * v : v;
            }
            p[i] = c.r(p[i] - lr * d);
        }
        return new double[][] {p, b};
    }

    static double[][] adamStep(Case c) {
        double[] s = c.a("scalars"), p = c.a("paramIn").clone(), g = c.a("grad"), m = c.a("expAvgIn").clone(),
                v = c.a("expAvgSqIn").clone();
        double lr = s[0], beta1 = s[1], beta2 = s[2], eps = s[3], stepSize = lr / s[6];
        for (int i = 0; i < c.i("count"); i++) {
            double d = regularised(g[i], p[i], s[4], s[5]);
            double mi = beta1 * m[i] + (1 - beta1) * d, vi = beta2 * v[i] + (1 - beta2) * d * d;
            m[i] = c.r(mi);
            v[i] = c.r(vi);
            p[i] = c.r(p[i] - stepSize * (mi / (Math.sqrt(vi) / s[7] + eps)));
        }
        return new double[][] {p, m, v};
    }

    static double[] scaleOrClamp(Case c, String family) {
        double[] s = c.a("scalars"), x = c.a("xIn").clone();
        int count = c.i("count");
        if (family.equals("scale")) {
            dev.bptt4j.backend.TrainingKernels.scale(x, 0, count, s[0]);
        } else {
            dev.bptt4j.backend.TrainingKernels.clamp(x, 0, count, s[1], s[2]);
        }
        for (int i = 0; i < count; i++) x[i] = c.r(x[i]);
        return x;
    }

    static double[] fill(Case c) {
        double[] dst = c.a("dstIn").clone();
        for (int i = 0; i < c.i("count"); i++) dst[i] = 0.25;
        return dst;
    }

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
                failures.add(String.format("%s %s %s[%d]: kernel %s, reference %s", c.kernel, c.ints, what, i, a, e));
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
            double worst;
            switch (family) {
                case "rnn_forward":
                    worst = compare(c, "hiddenOut", rnnForward(c), c.a("hiddenOut"), !tanh, failures);
                    break;
                case "rnn_backward": {
                    double[][] expected = rnnBackward(c);
                    boolean exact = !(tanh && c.i("residual") != 0); // only then is tanh itself evaluated
                    worst = Math.max(compare(c, "deltaOut", expected[0], c.a("deltaOut"), exact, failures),
                            compare(c, "carryOut", expected[1], c.a("carryOut"), true, failures));
                    break;
                }
                case "gather_rows":
                    worst = compare(c, "dstOut", gatherRows(c), c.a("dstOut"), true, failures);
                    break;
                case "fill":
                    worst = compare(c, "dstOut", fill(c), c.a("dstOut"), true, failures);
                    break;
                case "lstm_forward": {
                    double[][] expected = lstmForward(c);
                    worst = Math.max(compare(c, "gatesOut", expected[0], c.a("gatesOut"), false, failures),
                            Math.max(compare(c, "hiddenOut", expected[1], c.a("hiddenOut"), false, failures),
                                    compare(c, "cellOut", expected[2], c.a("cellOut"), false, failures)));
                    break;
                }
                case "lstm_backward": { // tanh(c) is evaluated
                    double[][] expected = lstmBackward(c);
                    worst = Math.max(compare(c, "gatesOut", expected[0], c.a("gatesOut"), false, failures),
                            compare(c, "cellCarryOut", expected[1], c.a("cellCarryOut"), false, failures));
                    break;
                }
                case "gru_forward": {
                    double[][] expected = gruForward(c);
                    worst = Math.max(compare(c, "gatesOut", expected[0], c.a("gatesOut"), false, failures),
                            Math.max(compare(c, "hiddenOut", expected[1], c.a("hiddenOut"), false, failures),
                                    compare(c, "hiddenGatesAfter", c.a("hiddenGates"), c.a("hiddenGatesAfter"), true, failures)));
                    break;
                }
                case "gru_backward": { // no libm call: bit for bit
                    double[][] expected = gruBackward(c);
                    worst = Math.max(compare(c, "gatesOut", expected[0], c.a("gatesOut"), true, failures),
                            Math.max(compare(c, "hiddenGatesOut", expected[1], c.a("hiddenGatesOut"), true, failures),
                                    compare(c, "carryOut", expected[2], c.a("carryOut"), true, failures)));
                    break;
                }
                case "softmax_xent": { // exp and log are evaluated
                    double[][] expected = softmaxXent(c);
                    worst = Math.max(compare(c, "logitsOut", expected[0], c.a("logitsOut"), false, failures),
                            compare(c, "rowLossOut", expected[1], c.a("rowLossOut"), false, failures));
                    break;
                }
                case "sgd_step": {
                    double[][] expected = sgdStep(c);
                    worst = Math.max(compare(c, "paramOut", expected[0], c.a("paramOut"), true, failures),
                            compare(c, "bufferOut", expected[1], c.a("bufferOut"), true, failures));
                    break;
                }
                case "adam_step": { // sqrt is correctly rounded on both sides: bit for bit
                    double[][] expected = adamStep(c);
                    worst = Math.max(compare(c, "paramOut", expected[0], c.a("paramOut"), true, failures),
                            Math.max(compare(c, "expAvgOut", expected[1], c.a("expAvgOut"), true, failures),
                                    compare(c, "expAvgSqOut", expected[2], c.a("expAvgSqOut"), true, failures)));
                    break;
                }
                case "scale":
                case "clamp":
                    worst = compare(c, "xOut", scaleOrClamp(c, family), c.a("xOut"), true, failures);
                    break;
                default:
                    throw new IllegalStateException("unknown kernel " + c.kernel);
            }
            KernelRegistry.byFunctionName(c.kernel); // every harness case names a registered kernel
            perKernel.merge(c.kernel, 1, Integer::sum);
            System.out.printf("  %-17s %-70s max |diff| %.3g (%s)%n", c.kernel, c.ints, worst,
                    (family.startsWith("rnn") && tanh && (family.equals("rnn_forward") || c.i("residual") != 0))
                            || family.startsWith("lstm") || family.equals("gru_forward") || family.equals("softmax_xent")
                            ? "held to " + TANH_ULPS_OF_ONE + " ulp of max(1,|x|)" : "same bits");
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
