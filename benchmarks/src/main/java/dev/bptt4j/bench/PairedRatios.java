package dev.bptt4j.bench;

import org.bytedeco.mkl.global.mkl_rt;
import org.openjdk.jmh.infra.Blackhole;

import java.util.Arrays;

/**
 * The two ratio targets measured in rounds, not minutes apart. JMH runs each row in its
 * own fork one after another, and this 2-core VM's speed drifts between them by more than the
 * margins the targets turn on (session 5: the same resident config-2 step measured 94 % and 88 %
 * of a ceiling taken ten minutes earlier). Here every round runs, back to back and in rotating
 * order, one float32 training step, one float64 step of the same configuration, and three MKL
 * sgemm 1024³ (the ceiling; MKL because it is the BLAS in the process, and on this machine its
 * ceiling is the higher one, so the stricter), and takes the ratios within the round:
 *
 * <ul>
 *   <li>float64 speed ÷ float32 speed (the float64 step's time over the float32 step's, inverted);</li>
 *   <li>the float32 step's GFLOP/s ÷ the ceiling's GFLOP/s in the same round (FLOP = 6·T·B·H·(I+H)).</li>
 * </ul>
 * Also MKL's dgemm against its sgemm at 1024³ in the same way: what the hardware gives float64.
 * Prints medians and the quartiles of the per-round ratios.
 *
 * <pre>KMP_BLOCKTIME=0 java -cp ... dev.bptt4j.bench.PairedRatios [rounds] [TxBxIxH[:rounds] ...]</pre>
 *
 * KMP_BLOCKTIME=0 matters: otherwise MKL's thread team spins for 200 ms after each ceiling GEMM on
 * the cores the next training step runs its lanes on (measured: config 1 steps at 39-41 ms instead of 20-24).
 */
public final class PairedRatios {
    private PairedRatios() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        String[] configs = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length)
                : new String[]{"100x64x256x256", "50x256x512x512", "200x32x128x128", "20x1024x1024x1024:8"};
        Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
        GemmCeiling sgemm = gemm("f32"), dgemm = gemm("f64");
        double ceilingFlop = 3 * 2.0 * 1024 * 1024 * 1024;
        System.out.println("| config | tensors | f32 ms | f64 ms | ceiling GFLOP/s | f64 speed ÷ f32 speed | f32 step ÷ ceiling | rounds |");
        System.out.println("|---|---|---:|---:|---:|---|---|---:|");
        for (String spec : configs) {
            String[] parts = spec.split(":");
            String c = parts[0];
            Shapes s = Shapes.parse(c);
            double stepFlop = 6.0 * s.steps * s.batch * s.hidden * (s.input + s.hidden);
            int n = parts.length > 1 ? Integer.parseInt(parts[1]) : rounds;
            for (boolean resident : new boolean[]{false, true}) {
                Bptt4jTrainingStep single = step(c, "f32", resident), dbl = step(c, "f64", resident);
                double[][] t = rounds(n, () -> single.trainingStep(bh), () -> dbl.trainingStep(bh), () -> twoThreads(sgemm));
                double[] speed = new double[n], ofCeiling = new double[n], ceiling = new double[n];
                for (int r = 0; r < n; r++) {
                    speed[r] = t[0][r] / t[1][r];
                    ceiling[r] = ceilingFlop / t[2][r] / 1e6;
                    ofCeiling[r] = (stepFlop / t[0][r]) / (ceilingFlop / t[2][r]);
                }
                System.out.printf("| %s | %s | %.2f | %.2f | %.0f | %s | %s | %d |%n", c, resident ? "resident" : "host arrays",
                        median(t[0]), median(t[1]), median(ceiling), quartiles(speed, "%.3f"), quartiles(ofCeiling, "%.3f"), n);
                single.tearDown();
                dbl.tearDown();
            }
        }
        double[][] g = rounds(rounds, () -> twoThreads(sgemm), () -> twoThreads(dgemm));
        double[] speed = new double[rounds];
        for (int r = 0; r < rounds; r++) speed[r] = g[0][r] / g[1][r];
        System.out.printf("| MKL GEMM 1024³ (×3) | – | %.2f | %.2f | %.0f | %s | – | %d |%n", median(g[0]), median(g[1]),
                ceilingFlop / median(g[0]) / 1e6, quartiles(speed, "%.3f"), rounds);
        sgemm.tearDown();
        dgemm.tearDown();
    }

    /**
     * Three GEMMs on MKL's two threads. The training steps' backend has set MKL sequential for the
     * whole process (it splits the work into two lanes itself), so the ceiling asks for two threads
     * on this thread only, and gives the setting back.
     */
    private static void twoThreads(GemmCeiling g) {
        int before = mkl_rt.MKL_Set_Num_Threads_Local(2);
        try {
            for (int i = 0; i < 3; i++) g.gemm();
        } finally {
            mkl_rt.MKL_Set_Num_Threads_Local(before);
        }
    }

    /** Per round, the time (ms) of each task; the tasks run back to back, the first one rotating; after 3 warm-up rounds. */
    private static double[][] rounds(int rounds, Runnable... tasks) {
        int k = tasks.length;
        double[][] times = new double[k][rounds];
        for (int r = -3; r < rounds; r++) {
            for (int j = 0; j < k; j++) {
                int task = Math.floorMod(r + j, k);
                long t0 = System.nanoTime();
                tasks[task].run();
                long dt = System.nanoTime() - t0;
                if (r >= 0) times[task][r] = dt / 1e6;
            }
        }
        return times;
    }

    private static Bptt4jTrainingStep step(String config, String dtype, boolean resident) {
        Bptt4jTrainingStep s = new Bptt4jTrainingStep();
        s.config = config;
        s.dtype = dtype;
        s.inputGrad = true;
        s.threads = 2;
        s.reuse = false;
        s.resident = resident;
        s.mode = "RNN_TANH";
        s.setUp();
        return s;
    }

    private static GemmCeiling gemm(String dtype) {
        GemmCeiling g = new GemmCeiling();
        g.shape = "1024x1024x1024";
        g.dtype = dtype;
        g.threads = 2;
        g.blas = "mkl";
        g.setUp();
        return g;
    }

    private static String quartiles(double[] v, String format) {
        double[] s = v.clone();
        Arrays.sort(s);
        return String.format("**" + format + "** (" + format + "–" + format + ")", median(v), s[s.length / 4], s[(3 * s.length) / 4]);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
}
