package dev.bptt4j.bench;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.mkl.global.mkl_rt;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_full;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * The GEMM ceiling in the same run, for both BLAS libraries bptt4j can use (same JavaCPP presets;
 * JMH forks a JVM per parameter set, so each fork loads exactly one of them): OpenBLAS, which
 * defines the ceiling, and Intel MKL, bptt4j's default. MKL runs in the CNR mode bptt4j
 * sets. Off-heap operands, row-major C = A·Bᵀ (the shape of the per-step recurrent product). Shapes "MxNxK":
 * square sizes for the machine's peak and the per-step/whole-sequence shapes of the configs.
 * GFLOP/s = 2·M·N·K / time.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class GemmCeiling {
    @Param({"1024x1024x1024", "6400x256x256", "64x256x256", "256x512x512", "32x128x128",
            "6400x128x128", "12800x512x512", "20480x1024x1024"})
    public String shape;

    @Param({"f32"})
    public String dtype;

    @Param({"2"})
    public int threads;

    @Param({"openblas", "mkl"})
    public String blas;

    private boolean mkl;

    private int m, n, k;
    private FloatPointer fa, fb, fc;
    private DoublePointer da, db, dc;

    @Setup(Level.Trial)
    public void setUp() {
        mkl = blas.equals("mkl");
        if (mkl) {
            Loader.load(mkl_rt.class);
            mkl_rt.MKL_CBWR_Set(mkl_rt.MKL_CBWR_AUTO);
            mkl_rt.MKL_Set_Num_Threads(threads);
        } else {
            Loader.load(openblas.class);
            openblas_full.openblas_set_num_threads(threads);
        }
        String[] p = shape.split("x");
        m = Integer.parseInt(p[0]);
        n = Integer.parseInt(p[1]);
        k = Integer.parseInt(p[2]);
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        if (dtype.equals("f32")) {
            fa = new FloatPointer(Shapes.random(r, m * k));
            fb = new FloatPointer(Shapes.random(r, n * k));
            fc = new FloatPointer((long) m * n);
        } else {
            da = new DoublePointer(toDouble(Shapes.random(r, m * k)));
            db = new DoublePointer(toDouble(Shapes.random(r, n * k)));
            dc = new DoublePointer((long) m * n);
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (org.bytedeco.javacpp.Pointer q : new org.bytedeco.javacpp.Pointer[]{fa, fb, fc, da, db, dc}) if (q != null) q.close();
    }

    @Benchmark
    public void gemm() {
        if (mkl && fa != null) {
            mkl_rt.cblas_sgemm(mkl_rt.CblasRowMajor, mkl_rt.CblasNoTrans, mkl_rt.CblasTrans, m, n, k, 1f, fa, k, fb, k, 1f, fc, n);
        } else if (mkl) {
            mkl_rt.cblas_dgemm(mkl_rt.CblasRowMajor, mkl_rt.CblasNoTrans, mkl_rt.CblasTrans, m, n, k, 1.0, da, k, db, k, 1.0, dc, n);
        } else if (fa != null) {
            openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, m, n, k, 1f, fa, k, fb, k, 1f, fc, n);
        } else {
            openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, m, n, k, 1.0, da, k, db, k, 1.0, dc, n);
        }
    }
}
