package dev.bptt4j.bench;

import org.openjdk.jmh.infra.Blackhole;

import java.util.Arrays;

/**
 * The float64 ÷ float32 speed ratio measured in pairs. JMH runs the float32 and float64 training
 * steps a minute apart, and this 2-core VM's speed drifts by more than the few percent the
 * "float64 at least half the float32 speed" target turns on. Here each round runs one float32 and
 * one float64 step of the same configuration back to back (alternating which goes first), and the
 * ratio is taken within the round; the same is done for MKL's sgemm and dgemm at 1024³ (what the
 * hardware gives float64), so the two ratios can be read side by side. Prints medians and the
 * quartiles of the per-round ratios.
 *
 * <pre>java -cp ... dev.bptt4j.bench.PrecisionRatio [rounds] [TxBxIxH[:rounds] ...]</pre>
 */
public final class PrecisionRatio {
    private PrecisionRatio() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        String[] configs = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length)
                : new String[]{"100x64x256x256", "50x256x512x512", "200x32x128x128", "20x1024x1024x1024:8"};
        Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
        System.out.println("| config | tensors | f32 ms (median) | f64 ms (median) | f64 speed ÷ f32 speed, paired median (quartiles) | rounds |");
        System.out.println("|---|---|---:|---:|---|---:|");
        for (String spec : configs) {
            String[] parts = spec.split(":");
            String c = parts[0];
            int n = parts.length > 1 ? Integer.parseInt(parts[1]) : rounds;
            for (boolean resident : new boolean[]{false, true}) {
                Bptt4jTrainingStep single = step(c, "f32", resident), dbl = step(c, "f64", resident);
                double[][] r = pairs(n, () -> single.trainingStep(bh), () -> dbl.trainingStep(bh));
                System.out.printf("| %s | %s | %.2f | %.2f | %s | %d |%n", c, resident ? "resident" : "host arrays",
                        median(r[0]), median(r[1]), quartiles(r[2]), n);
                single.tearDown();
                dbl.tearDown();
            }
        }
        GemmCeiling sgemm = gemm("f32"), dgemm = gemm("f64");
        double[][] g = pairs(rounds, () -> {
            for (int i = 0; i < 3; i++) sgemm.gemm();
        }, () -> {
            for (int i = 0; i < 3; i++) dgemm.gemm();
        });
        System.out.printf("| MKL GEMM 1024³ (×3) | – | %.2f | %.2f | %s | %d |%n", median(g[0]), median(g[1]), quartiles(g[2]), rounds);
        sgemm.tearDown();
        dgemm.tearDown();
    }

    /** Per round: times of a and b (ms) and a's time ÷ b's (b's speed ÷ a's), after 3 warm-up rounds; alternating order. */
    private static double[][] pairs(int rounds, Runnable a, Runnable b) {
        double[] ta = new double[rounds], tb = new double[rounds], ratio = new double[rounds];
        for (int r = -3; r < rounds; r++) {
            long da, db;
            if ((r & 1) == 0) {
                long t0 = System.nanoTime();
                a.run();
                long t1 = System.nanoTime();
                b.run();
                long t2 = System.nanoTime();
                da = t1 - t0;
                db = t2 - t1;
            } else {
                long t0 = System.nanoTime();
                b.run();
                long t1 = System.nanoTime();
                a.run();
                long t2 = System.nanoTime();
                db = t1 - t0;
                da = t2 - t1;
            }
            if (r < 0) continue;
            ta[r] = da / 1e6;
            tb[r] = db / 1e6;
            ratio[r] = (double) da / db;
        }
        return new double[][]{ta, tb, ratio};
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
