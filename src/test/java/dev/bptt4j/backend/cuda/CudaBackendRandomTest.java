package dev.bptt4j.backend.cuda;

import dev.bptt4j.backend.DeviceSlice;
import dev.bptt4j.cell.States;

import dev.bptt4j.backend.Backend;
import dev.bptt4j.backend.DeviceBuffer;
import dev.bptt4j.backend.cpu.CpuBackend;
import dev.bptt4j.model.Rnn;
import dev.bptt4j.model.RnnConfig;
import dev.bptt4j.model.RnnMode;
import dev.bptt4j.tensor.DType;
import dev.bptt4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA backend over the emulator against the CPU backend where the PyTorch cases do not
 * reach: the row-major GEMM mapping for every transpose pair, and random configurations (relu,
 * residual, 1–3 layers, both directions, bias or not, lengths, given h0/dhn, float32) over two
 * accumulated training steps; and the same for LSTM and GRU (lengths, both directions, 1–2 layers,
 * bias or not, given h0/c0 and dhn/dcn, float32 and float64).
 */
class CudaBackendRandomTest {

    private static Tensor uniform(SplittableRandom r, DType dtype, int... shape) {
        Tensor t = Tensor.zeros(dtype, shape);
        for (int i = 0; i < t.size(); i++) t.setDouble(i, r.nextDouble() * 2 - 1);
        return t;
    }

    @Test
    void rowMajorGemmMatchesTheCpuForEveryTransposePair() {
        SplittableRandom r = new SplittableRandom(5);
        int m = 4, n = 3, k = 5;
        try (CpuBackend cpu = new CpuBackend(1); CudaBackend gpu = new CudaBackend(new EmulatedCudaApi(), "cuda-emulated")) {
            for (boolean ta : new boolean[]{false, true}) {
                for (boolean tb : new boolean[]{false, true}) {
                    int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 1, ldc = n + 3;
                    Tensor a = uniform(r, DType.F64, 3 + lda * (ta ? k : m)), b = uniform(r, DType.F64, 2 + ldb * (tb ? n : k));
                    Tensor c = uniform(r, DType.F64, 1 + ldc * m);
                    Tensor[] results = new Tensor[2];
                    int i = 0;
                    for (Backend be : new Backend[]{cpu, gpu}) {
                        DeviceBuffer da = be.allocate(DType.F64, a.size()), db = be.allocate(DType.F64, b.size()), dc = be.allocate(DType.F64, c.size());
                        be.upload(a, DeviceSlice.of(da));
                        be.upload(b, DeviceSlice.of(db));
                        be.upload(c, DeviceSlice.of(dc));
                        be.gemm(ta, tb, m, n, k, 1.5, new DeviceSlice(da, 3), lda, new DeviceSlice(db, 2), ldb, -0.5, new DeviceSlice(dc, 1), ldc);
                        results[i++] = be.download(DeviceSlice.of(dc), c.size());
                        da.close();
                        db.close();
                        dc.close();
                    }
                    double err = results[1].relativeError(results[0]);
                    System.out.printf("row-major gemm transposeA=%b transposeB=%b: CUDA (emulated) vs CPU %.3e (tolerance 1e-15)%n", ta, tb, err);
                    assertTrue(err <= 1e-15, "gemm " + ta + "," + tb + ": " + err);
                }
            }
        }
    }

    /** y, hn, dx, dh0 and every parameter gradient after two steps (gradients accumulate). */
    private static Map<String, Tensor> twoSteps(RnnConfig config, Backend backend, Tensor x, Tensor h0, int[] lengths, Tensor dy, Tensor dhn) {
        return twoSteps(config, backend, x, h0, null, lengths, dy, dhn, null);
    }

    /** As above, with the LSTM's c0 and dcn (null for zeros), and cn and dc0 in the result for an LSTM. */
    private static Map<String, Tensor> twoSteps(RnnConfig config, Backend backend, Tensor x, Tensor h0, Tensor c0, int[] lengths,
                                                Tensor dy, Tensor dhn, Tensor dcn) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        boolean lstm = config.mode() == RnnMode.LSTM;
        try (Rnn rnn = new Rnn(config, backend)) {
            rnn.initialize(99);
            for (int step = 0; step < 2; step++) {
                try (Rnn.Pass pass = lstm ? rnn.forward(x, States.of("h", h0, "c", c0), lengths) : rnn.forward(x, States.hidden(h0), lengths)) {
                    out.put("y", pass.output());
                    out.put("hn", pass.finalStates().hidden());
                    if (lstm) out.put("cn", pass.finalStates().cell());
                    Rnn.InputGradients g = lstm ? pass.backward(dy, States.of("h", dhn, "c", dcn), true) : pass.backward(dy, States.hidden(dhn));
                    out.put("dx", g.input());
                    out.put("dh0", g.initialHidden());
                    if (lstm) out.put("dc0", g.initialStates().cell());
                }
            }
            for (String name : rnn.parameterNames()) out.put("grad." + name, rnn.gradient(name));
        }
        return out;
    }

    @Test
    void randomConfigurationsMatchTheCpu() {
        SplittableRandom r = new SplittableRandom(2024);
        try (CpuBackend cpu = new CpuBackend(1)) {
            for (int trial = 0; trial < 16; trial++) {
                RnnMode mode = r.nextBoolean() ? RnnMode.RNN_TANH : RnnMode.RNN_RELU;
                int layers = 1 + r.nextInt(3), input = 1 + r.nextInt(6), hidden = 1 + r.nextInt(6);
                int steps = 1 + r.nextInt(5), batch = 1 + r.nextInt(4);
                DType dtype = trial % 4 == 3 ? DType.F32 : DType.F64;
                RnnConfig config = RnnConfig.of(mode, input, hidden).withLayers(layers).withBidirectional(r.nextBoolean())
                        .withBias(r.nextInt(4) != 0).withResidual(r.nextBoolean()).withDType(dtype);
                int dirs = config.directions();
                Tensor x = uniform(r, dtype, steps, batch, input), dy = uniform(r, dtype, steps, batch, dirs * hidden);
                Tensor h0 = r.nextBoolean() ? uniform(r, dtype, layers * dirs, batch, hidden) : null;
                Tensor dhn = r.nextBoolean() ? uniform(r, dtype, layers * dirs, batch, hidden) : null;
                int[] lengths = null;
                if (r.nextBoolean()) {
                    lengths = new int[batch];
                    for (int b = 0; b < batch; b++) lengths[b] = 1 + r.nextInt(steps);
                    lengths[r.nextInt(batch)] = steps;
                    for (int t = 0; t < steps; t++) {
                        for (int b = 0; b < batch; b++) {
                            if (t >= lengths[b]) for (int c = 0; c < dirs * hidden; c++) dy.setDouble((t * batch + b) * dirs * hidden + c, 0);
                        }
                    }
                }
                EmulatedCudaApi device = new EmulatedCudaApi();
                Map<String, Tensor> want = twoSteps(config, cpu, x, h0, lengths, dy, dhn);
                Map<String, Tensor> got;
                try (CudaBackend gpu = new CudaBackend(device, "cuda-emulated")) {
                    got = twoSteps(config, gpu, x, h0, lengths, dy, dhn);
                }
                device.checkNoLeaks();
                double tolerance = dtype == DType.F64 ? 1e-12 : 1e-5, worst = 0;
                String worstName = "";
                for (Map.Entry<String, Tensor> e : want.entrySet()) {
                    double err = got.get(e.getKey()).relativeError(e.getValue());
                    if (!(err <= worst)) {
                        worst = err;
                        worstName = e.getKey();
                    }
                }
                System.out.printf("%s: largest CUDA (emulated) vs CPU relative error %.3e (%s), tolerance %.0e%n", config, worst, worstName, tolerance);
                assertTrue(worst <= tolerance, config + ": " + worstName + " " + worst);
            }
        }
    }

    @Test
    void randomGatedConfigurationsMatchTheCpu() {
        SplittableRandom r = new SplittableRandom(4711);
        boolean[] covered = new boolean[4]; // lengths, bidirectional, two layers, float32
        try (CpuBackend cpu = new CpuBackend(1)) {
            for (int trial = 0; trial < 16; trial++) {
                RnnMode mode = trial % 2 == 0 ? RnnMode.LSTM : RnnMode.GRU;
                // Trials 6, 7, 14, 15 are float32; the first four (two of each mode) force two layers, both directions and lengths.
                int layers = trial < 4 ? 2 : 1 + r.nextInt(2), input = 1 + r.nextInt(5), hidden = 1 + r.nextInt(5);
                int steps = 1 + r.nextInt(5), batch = 1 + r.nextInt(4);
                DType dtype = trial % 8 >= 6 ? DType.F32 : DType.F64;
                boolean bidirectional = trial < 4 || r.nextBoolean();
                RnnConfig config = RnnConfig.of(mode, input, hidden).withLayers(layers).withBidirectional(bidirectional)
                        .withBias(r.nextInt(4) != 0).withDType(dtype);
                int dirs = config.directions();
                Tensor x = uniform(r, dtype, steps, batch, input), dy = uniform(r, dtype, steps, batch, dirs * hidden);
                Tensor h0 = r.nextBoolean() ? uniform(r, dtype, layers * dirs, batch, hidden) : null;
                Tensor dhn = r.nextBoolean() ? uniform(r, dtype, layers * dirs, batch, hidden) : null;
                Tensor c0 = mode == RnnMode.LSTM && r.nextBoolean() ? uniform(r, dtype, layers * dirs, batch, hidden) : null;
                Tensor dcn = mode == RnnMode.LSTM && r.nextBoolean() ? uniform(r, dtype, layers * dirs, batch, hidden) : null;
                int[] lengths = null;
                if (trial < 4 || r.nextBoolean()) {
                    lengths = new int[batch];
                    for (int b = 0; b < batch; b++) lengths[b] = 1 + r.nextInt(steps);
                    lengths[r.nextInt(batch)] = steps;
                    for (int t = 0; t < steps; t++) {
                        for (int b = 0; b < batch; b++) {
                            if (t >= lengths[b]) for (int c = 0; c < dirs * hidden; c++) dy.setDouble((t * batch + b) * dirs * hidden + c, 0);
                        }
                    }
                    covered[0] = true;
                }
                if (bidirectional) covered[1] = true;
                if (layers == 2) covered[2] = true;
                if (dtype == DType.F32) covered[3] = true;
                EmulatedCudaApi device = new EmulatedCudaApi();
                Map<String, Tensor> want = twoSteps(config, cpu, x, h0, c0, lengths, dy, dhn, dcn);
                Map<String, Tensor> got;
                try (CudaBackend gpu = new CudaBackend(device, "cuda-emulated")) {
                    got = twoSteps(config, gpu, x, h0, c0, lengths, dy, dhn, dcn);
                }
                device.checkNoLeaks();
                double tolerance = dtype == DType.F64 ? 1e-12 : 1e-5, worst = 0;
                String worstName = "";
                for (Map.Entry<String, Tensor> e : want.entrySet()) {
                    double err = got.get(e.getKey()).relativeError(e.getValue());
                    if (!(err <= worst)) {
                        worst = err;
                        worstName = e.getKey();
                    }
                }
                System.out.printf("%s%s: largest CUDA (emulated) vs CPU relative error %.3e (%s), tolerance %.0e%n", config,
                        lengths == null ? "" : " lengths " + java.util.Arrays.toString(lengths), worst, worstName, tolerance);
                assertTrue(worst <= tolerance, config + ": " + worstName + " " + worst);
            }
        }
        for (boolean c : covered) assertTrue(c, "lengths, bidirectional, two layers and float32 are all covered");
    }
}
