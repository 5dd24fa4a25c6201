package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.DeviceSlice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import dev.bptt4j.train.Adam;
import dev.bptt4j.train.GradientClipper;
import dev.bptt4j.train.Parameter;
import dev.bptt4j.train.Parameters;
import dev.bptt4j.train.Reduction;
import dev.bptt4j.train.SoftmaxHead;
import dev.bptt4j.train.TruncatedBptt;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The training kernels (cuda/training.cu) and the finite check (cuda/finite.cu) on the emulated
 * device against the CPU backend: each op alone in float32 and float64, then whole training steps
 * (softmax head, Adam, norm and value clipping) of a small LSTM. Elementwise relative tolerance
 * 1e-12 for float64 and 1e-6 for float32; NaN must meet NaN.
 */
class CudaTrainingKernelsTest {
    private static double tolerance(DType dtype) {
        return dtype == DType.F64 ? 1e-12 : 1e-6;
    }

    private static Backend emulated() {
        return new CudaBackend(new EmulatedCudaApi(), "cuda-emulated");
    }

    /** Largest elementwise relative difference, NaN only against NaN; prints and asserts. */
    private static void assertClose(String what, Tensor expected, Tensor actual, double tolerance) {
        assertEquals(expected.size(), actual.size(), what + " size");
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.size(); i++) {
            double e = expected.getDouble(i), a = actual.getDouble(i);
            if (Double.isNaN(e) || Double.isNaN(a)) {
                assertTrue(Double.isNaN(e) && Double.isNaN(a), what + "[" + i + "]: cpu " + e + ", cuda-emulated " + a);
                continue;
            }
            double rel = e == a ? 0 : Math.abs(a - e) / Math.max(Math.abs(e), Double.MIN_NORMAL);
            if (rel > worst) {
                worst = rel;
                worstAt = i;
            }
        }
        System.out.printf("  %-44s max relative |cuda-emulated - cpu| %.2e (tolerance %.0e)%n", what, worst, tolerance);
        assertTrue(worst <= tolerance, what + "[" + worstAt + "]: relative difference " + worst + " > " + tolerance);
    }

    private static Tensor random(SplittableRandom r, DType dtype, int n, double scale) {
        Tensor t = Tensor.zeros(dtype, n);
        for (int i = 0; i < n; i++) t.setDouble(i, (r.nextDouble() * 2 - 1) * scale);
        return t;
    }

    /** Uploads {@code inputs} into fresh buffers of each backend, runs {@code op}, and compares every buffer after it. */
    private static void compareOp(String what, DType dtype, List<Tensor> inputs, Consumer<Map.Entry<Backend, List<DeviceBuffer>>> op) {
        List<List<Tensor>> results = new ArrayList<>();
        try (Backend cpu = new CpuBackend(1); Backend cuda = emulated()) {
            for (Backend b : new Backend[] {cpu, cuda}) {
                List<DeviceBuffer> buffers = new ArrayList<>();
                for (Tensor t : inputs) {
                    DeviceBuffer d = b.allocate(t.dtype(), t.size());
                    b.upload(t, DeviceSlice.of(d));
                    buffers.add(d);
                }
                op.accept(Map.entry(b, buffers));
                List<Tensor> after = new ArrayList<>();
                for (DeviceBuffer d : buffers) after.add(b.download(DeviceSlice.of(d), (int) d.elements()));
                results.add(after);
            }
        }
        for (int i = 0; i < inputs.size(); i++) {
            assertClose(dtype + " " + what + " buffer " + i, results.get(0).get(i), results.get(1).get(i), tolerance(dtype));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void eachTrainingKernelMatchesTheCpu(DType dtype) {
        SplittableRandom r = new SplittableRandom(11);
        int n = 1000; // several blocks of 256, a partial last one
        Tensor p = random(r, dtype, n, 1), g = random(r, dtype, n, 1), m = random(r, dtype, n, 0.1), v = random(r, dtype, n, 0.1);
        for (int i = 0; i < n; i++) v.setDouble(i, Math.abs(v.getDouble(i)));
        p.setDouble(3, 0.0); // signum of zero in the L1 term
        p.setDouble(4, -0.0);

        int rows = 37, classes = 11;
        Tensor logits = random(r, dtype, rows * classes, 6);
        int[] t = new int[rows];
        for (int i = 0; i < rows; i++) t[i] = i % 5 == 0 ? -1 : r.nextInt(classes);
        logits.setDouble(classes + 2, 1000); // a dominant logit: the max shift keeps exp finite
        Tensor targets = Tensor.ofInts(t, rows), rowLoss = Tensor.zeros(dtype, rows);
        compareOp("softmaxCrossEntropy", dtype, List.of(logits, targets, rowLoss),
                e -> e.getKey().training().softmaxCrossEntropy(DeviceSlice.of(e.getValue().get(0)), DeviceSlice.of(e.getValue().get(1)), DeviceSlice.of(e.getValue().get(2)), rows, classes, 0.125));

        for (boolean nesterov : new boolean[] {false, true}) {
            for (boolean first : new boolean[] {true, false}) {
                compareOp("sgdStep nesterov=" + nesterov + " first=" + first, dtype, List.of(p, g, m),
                        e -> e.getKey().training().sgdStep(DeviceSlice.of(e.getValue().get(0)), DeviceSlice.of(e.getValue().get(1)), DeviceSlice.of(e.getValue().get(2)), n, 0.1, 0.9, 0.1, 0.01, 0.001, nesterov, first));
            }
        }
        compareOp("sgdStep without momentum", dtype, List.of(p, g),
                e -> e.getKey().training().sgdStep(DeviceSlice.of(e.getValue().get(0)), DeviceSlice.of(e.getValue().get(1)), null, n, 0.1, 0, 0, 0, 0, false, false));
        for (long step : new long[] {1, 7}) {
            compareOp("adamStep step " + step, dtype, List.of(p, g, m, v),
                    e -> e.getKey().training().adamStep(DeviceSlice.of(e.getValue().get(0)), DeviceSlice.of(e.getValue().get(1)), DeviceSlice.of(e.getValue().get(2)), DeviceSlice.of(e.getValue().get(3)), n, 0.01, 0.9, 0.999, 1e-8, 0.01, 0.001, step));
        }
        Tensor accumulator = Tensor.of(new double[] {0.5}, 1);
        compareOp("sumOfSquares (onto 0.5)", dtype, List.of(p, accumulator),
                e -> e.getKey().training().sumOfSquares(new DeviceSlice(e.getValue().get(0), 5), n - 5, DeviceSlice.of(e.getValue().get(1))));
        compareOp("scale", dtype, List.of(p), e -> e.getKey().training().scale(new DeviceSlice(e.getValue().get(0), 3), n - 10, -0.37));
        Tensor withNaN = p.copy();
        withNaN.setDouble(7, Double.NaN);
        compareOp("clamp (a NaN stays)", dtype, List.of(withNaN), e -> e.getKey().training().clamp(new DeviceSlice(e.getValue().get(0), 2), n - 2, -0.4, 0.3));
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void countNonFiniteMatchesTheCpu(DType dtype) {
        SplittableRandom r = new SplittableRandom(12);
        int n = 70_000; // 274 blocks of 256 threads, the last one partial
        Tensor x = random(r, dtype, n, 1e3);
        double denormal = dtype == DType.F32 ? Float.MIN_VALUE : Double.MIN_VALUE;
        double[] specials = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, denormal, -denormal, 0.0, -0.0,
                dtype == DType.F32 ? Float.MAX_VALUE : Double.MAX_VALUE};
        for (int i = 0; i < 400; i++) x.setDouble(r.nextInt(n), specials[r.nextInt(specials.length)]);
        x.setDouble(n - 1, Double.NaN); // the last element, in the grid's last block
        try (Backend cpu = new CpuBackend(1); Backend cuda = emulated()) {
            DeviceBuffer a = cpu.allocate(dtype, n), b = cuda.allocate(dtype, n);
            cpu.upload(x, DeviceSlice.of(a));
            cuda.upload(x, DeviceSlice.of(b));
            EmulatedCudaApi api = (EmulatedCudaApi) ((CudaBackend) cuda).api();
            long[][] ranges = {{0, n}, {1, n - 1}, {17, 5000}, {n - 1, 1}, {5, 0}};
            for (long[] range : ranges) {
                long expected = cpu.countNonFinite(new DeviceSlice(a, range[0]), range[1]);
                long syncs = api.synchronizations();
                long actual = cuda.countNonFinite(new DeviceSlice(b, range[0]), range[1]);
                System.out.printf("  %s countNonFinite [%d, %d): cpu %d, cuda-emulated %d, %d synchronisation(s)%n", dtype,
                        range[0], range[0] + range[1], expected, actual, api.synchronizations() - syncs);
                assertEquals(expected, actual, dtype + " countNonFinite from " + range[0] + " over " + range[1]);
                assertTrue(api.synchronizations() - syncs <= 1, "one synchronisation per count");
            }
            assertTrue(api.launchCount(KernelRegistry.of("count_non_finite", dtype)) > 0, "counted on the device");
        }
    }

    /** A few full training steps (LSTM, softmax head, norm + value clipping, Adam) on one backend; every parameter after them. */
    private static Map<String, Tensor> trainingSteps(Backend backend, DType dtype) {
        SplittableRandom r = new SplittableRandom(21);
        int steps = 9, batch = 3, input = 4, hidden = 6, classes = 5;
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Rnn rnn = new Rnn(RnnConfig.of(RnnMode.LSTM, input, hidden).withDType(dtype), backend);
             SoftmaxHead head = new SoftmaxHead(backend, hidden, classes, dtype)) {
            rnn.initialize(1);
            head.initialize(2);
            List<Parameter> parameters = Parameters.of(rnn, head);
            try (Adam adam = new Adam(backend, parameters, 0.01, 0.9, 0.999, 1e-8, 0.001, 0.0);
                 GradientClipper clipper = new GradientClipper(backend, parameters)) {
                TruncatedBptt tbptt = new TruncatedBptt(rnn, head, 4, Reduction.MEAN);
                for (int step = 0; step < 4; step++) {
                    Tensor x = Tensor.zeros(dtype, steps, batch, input);
                    for (int i = 0; i < x.size(); i++) x.setDouble(i, r.nextDouble() * 2 - 1);
                    int[] y = new int[steps * batch];
                    for (int i = 0; i < y.length; i++) y[i] = r.nextInt(5) == 0 ? -1 : r.nextInt(classes);
                    adam.zeroGrad();
                    double loss = tbptt.run(x, Tensor.ofInts(y, steps, batch), null, null).loss();
                    double norm = clipper.clipNorm(0.5);
                    clipper.clipValue(0.05);
                    adam.step();
                    out.put("loss." + step, Tensor.of(new double[] {loss, norm}, 2));
                }
            }
            for (String name : rnn.parameterNames()) out.put(name, rnn.parameter(name));
            out.put("head.weight", head.parameter("weight"));
            out.put("head.bias", head.parameter("bias"));
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void trainingStepsMatchTheCpu(DType dtype) {
        Map<String, Tensor> cpu, cuda;
        try (Backend b = new CpuBackend(1)) {
            cpu = trainingSteps(b, dtype);
        }
        try (Backend b = emulated()) {
            cuda = trainingSteps(b, dtype);
            EmulatedCudaApi api = (EmulatedCudaApi) ((CudaBackend) b).api();
            System.out.println("  " + dtype + " emulated device: " + api.countersSummary());
            for (String family : new String[] {"softmax_xent", "adam_step", "sum_of_squares", "scale", "clamp"}) {
                assertTrue(api.launchCount(KernelRegistry.of(family, dtype)) > 0, family + " should run on the device");
            }
        }
        double tolerance = tolerance(dtype);
        for (String name : cpu.keySet()) {
            Tensor e = cpu.get(name), a = cuda.get(name);
            double rel = a.relativeError(e);
            System.out.printf("  %s %-26s relative ‖cuda-emulated − cpu‖ %.2e (tolerance %.0e)%n", dtype, name, rel, tolerance);
            assertTrue(rel <= tolerance, dtype + " " + name + ": " + rel);
        }
    }

    @Test
    void softmaxTargetBeyondTheClassesPoisonsItsRow() {
        try (Backend cuda = emulated()) {
            DeviceBuffer z = cuda.allocate(DType.F64, 6), t = cuda.allocate(DType.I32, 2), loss = cuda.allocate(DType.F64, 2);
            cuda.upload(Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 6), DeviceSlice.of(z));
            cuda.upload(Tensor.ofInts(new int[] {3, 1}, 2), DeviceSlice.of(t));
            cuda.training().softmaxCrossEntropy(DeviceSlice.of(z), DeviceSlice.of(t), DeviceSlice.of(loss), 2, 3, 1.0);
            Tensor zs = cuda.download(DeviceSlice.of(z), 6), ls = cuda.download(DeviceSlice.of(loss), 2);
            System.out.println("  target 3 of 3 classes: row " + java.util.Arrays.toString(zs.f64()) + ", loss " + java.util.Arrays.toString(ls.f64()));
            for (int i = 0; i < 3; i++) assertTrue(Double.isNaN(zs.getDouble(i)));
            assertTrue(Double.isNaN(ls.getDouble(0)));
            assertTrue(Double.isFinite(ls.getDouble(1)));
        }
    }
}
