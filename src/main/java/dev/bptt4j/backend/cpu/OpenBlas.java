package dev.bptt4j.backend.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_full;

/** OpenBLAS through JavaCPP's presets: every call the CPU backend makes into it. */
final class OpenBlas implements CpuBlas {
    private static final int ROW_MAJOR = openblas.CblasRowMajor;
    private static final int NO_TRANS = openblas.CblasNoTrans;
    private static final int TRANS = openblas.CblasTrans;

    private OpenBlas() {
    }

    /** Loads the native library; throws (UnsatisfiedLinkError etc.) when the platform has none. */
    static OpenBlas load() {
        org.bytedeco.javacpp.Loader.load(openblas.class);
        return new OpenBlas();
    }

    @Override
    public String name() {
        return "openblas";
    }

    @Override
    public void setThreads(int threads) {
        openblas_full.openblas_set_num_threads(threads);
    }

    @Override
    public int threads() {
        return openblas_full.openblas_get_num_threads();
    }

    @Override
    public String config() {
        return "OpenBLAS " + openblas_full.openblas_get_config().getString().trim() + " core=" + openblas_full.openblas_get_corename().getString();
    }

    @Override
    public void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a, int lda,
                      FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
        openblas.cblas_sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    @Override
    public void dgemm(boolean ta, boolean tb, int m, int n, int k, double alpha, DoublePointer a, int lda,
                      DoublePointer b, int ldb, double beta, DoublePointer c, int ldc) {
        openblas.cblas_dgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
