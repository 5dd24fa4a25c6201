package dev.bptt4j.bench;

import org.openjdk.jmh.infra.Blackhole;

import java.util.Arrays;

/**
 * A paired comparison for a machine shared with other work, where JMH's one-benchmark-after-another
 * order lets the load change between the contenders: per round, one bptt4j f32 training step,
 * one DJL/PyTorch step and the GEMM-only floor of the same configuration (4 whole-sequence
 * sgemm of (T·B)×H×I plus 2·T per-step B×H×H, all as the NT shape) run back to back, and the
 * ratio is taken within each round. Prints medians over the rounds.
 *
 * <pre>java -cp ... dev.bptt4j.bench.Interleaved [rounds] [TxBxIxH ...]</pre>
 */
public final class Interleaved {
    private Interleaved() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        String[] configs = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length)
                : new String[]{"100x64x256x256", "50x256x512x512", "200x32x128x128"};
        Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
        System.out.println("config | bptt4j ms | DJL ms | GEMM floor ms | DJL/bptt4j (paired median) | bptt4j/floor (paired median) | rounds");
        for (String c : configs) {
            Shapes s = Shapes.parse(c);
            Bptt4jTrainingStep mine = new Bptt4jTrainingStep();
            mine.config = c;
            mine.dtype = "f32";
            mine.inputGrad = true;
            mine.threads = 2;
            mine.setUp();
            DjlTrainingStep djl = new DjlTrainingStep();
            djl.config = c;
            djl.setUp();
            GemmCeiling whole = gemm(s.steps * s.batch + "x" + s.hidden + "x" + s.input);
            GemmCeiling step = gemm(s.batch + "x" + s.hidden + "x" + s.hidden);
            int warmup = 5;
            double[] a = new double[rounds], b = new double[rounds], f = new double[rounds];
            double[] ratio = new double[rounds], floorRatio = new double[rounds];
            for (int r = -warmup; r < rounds; r++) {
                long t0 = System.nanoTime();
                mine.trainingStep(bh);
                long t1 = System.nanoTime();
                djl.trainingStep(bh);
                long t2 = System.nanoTime();
                for (int i = 0; i < 4; i++) whole.gemm();
                for (int i = 0; i < 2 * s.steps; i++) step.gemm();
                long t3 = System.nanoTime();
                if (r < 0) continue;
                a[r] = (t1 - t0) / 1e6;
                b[r] = (t2 - t1) / 1e6;
                f[r] = (t3 - t2) / 1e6;
                ratio[r] = b[r] / a[r];
                floorRatio[r] = a[r] / f[r];
            }
            System.out.printf("%s | %.2f | %.2f | %.2f | %.2f | %.2f | %d%n", c, median(a), median(b), median(f),
                    median(ratio), median(floorRatio), rounds);
            mine.tearDown();
            djl.tearDown();
            whole.tearDown();
            step.tearDown();
        }
    }

    private static GemmCeiling gemm(String shape) {
        GemmCeiling g = new GemmCeiling();
        g.shape = shape;
        g.dtype = "f32";
        g.threads = 2;
        g.setUp();
        return g;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
}
