package dev.bptt4j.bench;

import dev.bptt4j.backend.cpu.CpuBackend;
import org.bytedeco.mkl.global.mkl_rt;
import org.bytedeco.openblas.global.openblas_full;
import org.openjdk.jmh.infra.Blackhole;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Every peer of every cell side by side, in rounds (the way of {@link PairedRatios}: this kind of VM
 * drifts between JMH's one-row-after-another forks by more than the margins the targets turn on).
 * Per cell (tanh, LSTM, GRU) and configuration, each round runs back to back, the first one rotating:
 * one bptt4j float32 training step, one DJL/libtorch step, one oneDNN float32 step, one oneDNN bf16
 * step, and the ceiling, three sgemm 1024³ on two threads of each BLAS (MKL and OpenBLAS; the best of
 * the two in the round is the ceiling). Ratios are taken within the round; medians and quartiles are
 * printed and written as JSON for {@code summarize.py}.
 *
 * <p>The step is the same work for every peer: x (T, B, I) and dy (T, B, H) in, forward in training
 * mode, backward of sum(y·dy) with dL/dx, dL/dh0 and the parameter gradients, full-length batches
 * (oneDNN has no packed input), zero initial states. {@code resident} (the default): the tensors stay
 * in each library's own memory (bptt4j's device buffers, DJL's NDArrays, oneDNN's memories);
 * {@code host}: copied from and to Java arrays every step.
 *
 * <pre>KMP_BLOCKTIME=0 OMP_NUM_THREADS=2 java -cp ... dev.bptt4j.bench.PeerRatios OUT.json [resident|host]
 *      [rounds] [cell,cell,...] [TxBxIxH[:rounds] ...]</pre>
 *
 * Warm-up: at least 2 rounds and 3 s per cell and configuration, so that the JIT has compiled the
 * small configurations' steps before any round counts.
 */
public final class PeerRatios {
    private static final String[] PEERS = {"bptt4j", "djl", "onednn_f32", "onednn_bf16", "ceiling_mkl", "ceiling_openblas"};
    private static final double CEILING_FLOP = 3 * 2.0 * 1024 * 1024 * 1024;

    private PeerRatios() {
    }

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        Path out = Path.of(args.length > 0 ? args[0] : "peers.json");
        boolean resident = args.length <= 1 || !args[1].equals("host");
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        String[] cells = args.length > 3 ? args[3].split(",") : new String[]{"RNN_TANH", "LSTM", "GRU"};
        String[] configs = args.length > 4 ? Arrays.copyOfRange(args, 4, args.length)
                : new String[]{"100x64x256x256", "200x32x128x128", "50x256x512x512:8", "20x1024x1024x1024:4"};
        Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
        GemmCeiling mkl = gemm("mkl"), openblas = gemm("openblas");
        String backend;
        try (CpuBackend b = new CpuBackend(2)) {
            backend = b.description();
        }
        System.out.println("bptt4j " + backend + "; tensors " + (resident ? "resident" : "host arrays"));
        System.out.println("| cell | config | bptt4j ms | DJL ms | oneDNN f32 ms | oneDNN bf16 ms | ceiling GFLOP/s (MKL / OpenBLAS) "
                + "| fastest f32 peer ÷ bptt4j | bptt4j ÷ ceiling | oneDNN bf16 ÷ bptt4j | rounds |");
        System.out.println("|---|---|---:|---:|---:|---:|---|---|---|---|---:|");
        List<String> json = new ArrayList<>();
        for (String cell : cells) {
            for (String spec : configs) {
                String[] parts = spec.split(":");
                String c = parts[0];
                Shapes s = Shapes.parse(c);
                int n = parts.length > 1 ? Math.min(rounds, Integer.parseInt(parts[1])) : rounds;
                double stepFlop = s.flop() * OneDnnRnn.gates(cell);
                Bptt4jTrainingStep mine = bptt4j(c, cell, resident);
                DjlTrainingStep djl = djl(c, cell, resident);
                OneDnnTrainingStep f32 = onednn(c, cell, "f32", resident), bf16 = onednn(c, cell, "bf16", resident);
                Runnable noBf16 = () -> { };
                double[][] t = rounds(n, () -> mine.trainingStep(bh), () -> djl.trainingStep(bh), () -> f32.trainingStep(bh),
                        bf16 == null ? noBf16 : () -> bf16.trainingStep(bh), () -> mklTwoThreads(mkl), () -> openblasTwoThreads(openblas));
                double[] fastest = new double[n], ofCeiling = new double[n], bar = new double[n];
                for (int r = 0; r < n; r++) {
                    fastest[r] = Math.min(t[1][r], t[2][r]) / t[0][r];
                    double ceiling = Math.max(CEILING_FLOP / t[4][r], CEILING_FLOP / t[5][r]);
                    ofCeiling[r] = (stepFlop / t[0][r]) / ceiling;
                    bar[r] = t[3][r] / t[0][r];
                }
                System.out.printf("| %s | %s | %.2f | %.2f | %.2f | %s | %.0f / %.0f | %s | %s | %s | %d |%n", cell, c,
                        median(t[0]), median(t[1]), median(t[2]), bf16 == null ? "–" : String.format("%.2f", median(t[3])),
                        CEILING_FLOP / median(t[4]) / 1e6, CEILING_FLOP / median(t[5]) / 1e6,
                        quartiles(fastest), quartiles(ofCeiling), bf16 == null ? "–" : quartiles(bar), n);
                StringBuilder j = new StringBuilder(String.format("{\"cell\": \"%s\", \"config\": \"%s\", \"rounds\": %d, \"flop\": %.0f,"
                        + " \"onednn_f32_kernels\": \"%s\", \"onednn_bf16_kernels\": \"%s\", \"ms\": {", cell, c, n, stepFlop,
                        f32.implementation(), bf16 == null ? "" : bf16.implementation()));
                for (int p = 0; p < PEERS.length; p++) {
                    if (p == 3 && bf16 == null) continue;
                    j.append(p == 0 ? "" : ", ").append('"').append(PEERS[p]).append("\": ").append(Arrays.toString(t[p]));
                }
                json.add(j.append("}}").toString());
                mine.tearDown();
                djl.tearDown();
                f32.tearDown();
                if (bf16 != null) bf16.tearDown();
            }
        }
        Files.writeString(out, "{\"backend\": \"" + backend.replace("\"", "'") + "\", \"tensors\": \""
                + (resident ? "resident" : "host") + "\", \"rows\": [\n" + String.join(",\n", json) + "\n]}\n");
        mkl.tearDown();
        openblas.tearDown();
    }

    /**
     * Three GEMMs on two MKL threads. bptt4j's backend may have set MKL sequential for the process
     * (it splits the work into lanes itself), so the ceiling asks for two threads on this thread only.
     */
    private static void mklTwoThreads(GemmCeiling g) {
        int before = mkl_rt.MKL_Set_Num_Threads_Local(2);
        try {
            for (int i = 0; i < 3; i++) g.gemm();
        } finally {
            mkl_rt.MKL_Set_Num_Threads_Local(before);
        }
    }

    /** The same on OpenBLAS, whose thread count is process-wide: it is given back to what bptt4j set. */
    private static void openblasTwoThreads(GemmCeiling g) {
        int before = openblas_full.openblas_get_num_threads();
        openblas_full.openblas_set_num_threads(2);
        try {
            for (int i = 0; i < 3; i++) g.gemm();
        } finally {
            openblas_full.openblas_set_num_threads(before);
        }
    }

    /** Per round, the time (ms) of each task back to back, the first one rotating; after a warm-up of ≥ 2 rounds and ≥ 3 s. */
    private static double[][] rounds(int rounds, Runnable... tasks) {
        int k = tasks.length;
        double[][] times = new double[k][rounds];
        long warmupEnd = System.nanoTime() + 3_000_000_000L;
        int warmup = 0;
        while (warmup < 2 || System.nanoTime() < warmupEnd) {
            for (Runnable task : tasks) task.run();
            warmup++;
        }
        for (int r = 0; r < rounds; r++) {
            for (int j = 0; j < k; j++) {
                int task = Math.floorMod(r + j, k);
                long t0 = System.nanoTime();
                tasks[task].run();
                times[task][r] = (System.nanoTime() - t0) / 1e6;
            }
        }
        return times;
    }

    private static Bptt4jTrainingStep bptt4j(String config, String mode, boolean resident) {
        Bptt4jTrainingStep s = new Bptt4jTrainingStep();
        s.config = config;
        s.dtype = "f32";
        s.inputGrad = true;
        s.threads = 2;
        s.reuse = false;
        s.resident = resident;
        s.mode = mode;
        s.setUp();
        return s;
    }

    private static DjlTrainingStep djl(String config, String mode, boolean resident) {
        DjlTrainingStep s = new DjlTrainingStep();
        s.config = config;
        s.mode = mode;
        s.resident = resident;
        s.setUp();
        return s;
    }

    /** null where this CPU has no oneDNN kernels for the data type (bf16 before AVX-512 bf16 / AMX may be refused). */
    private static OneDnnTrainingStep onednn(String config, String mode, String dtype, boolean resident) {
        OneDnnTrainingStep s = new OneDnnTrainingStep();
        s.config = config;
        s.mode = mode;
        s.dtype = dtype;
        s.resident = resident;
        try {
            s.setUp();
        } catch (RuntimeException e) {
            if (dtype.equals("f32")) throw e;
            System.out.println("oneDNN " + dtype + " " + mode + " " + config + ": not available here (" + e.getMessage() + ")");
            return null;
        }
        return s;
    }

    private static GemmCeiling gemm(String blas) {
        GemmCeiling g = new GemmCeiling();
        g.shape = "1024x1024x1024";
        g.dtype = "f32";
        g.threads = 2;
        g.blas = blas;
        g.setUp();
        return g;
    }

    private static String quartiles(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return String.format("**%.3f** (%.3f–%.3f)", median(v), s[s.length / 4], s[(3 * s.length) / 4]);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
}
