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

    private final String reason;

    private OpenBlas(String reason) {
        this.reason = reason;
    }

    /** Loads the native library; throws (UnsatisfiedLinkError etc.) when the platform has none. */
    static OpenBlas load(String reason) {
        org.bytedeco.javacpp.Loader.load(openblas.class);
        return new OpenBlas(reason);
    }

    @Override
    public String reason() {
        return reason;
    }

    /** The kernel core OpenBLAS dispatched to for this CPU (or was told to by OPENBLAS_CORETYPE), lower case. */
    static String corename() {
        return openblas_full.openblas_get_corename().getString().trim().toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public String notice() {
        return BlasRule.coretypeNotice(CpuInfo.host(), System.getenv("OPENBLAS_CORETYPE"), corename());
    }

    @Override
    public String name() {
        return "openblas";
    }

    @Override
    public void setThreads(int threads) {
        openblas_full.openblas_set_num_threads(threads);
    }

    /**
     * A threaded OpenBLAS (this build) set to one thread runs each call on its caller's thread, and
     * its buffers are taken under a lock, so lanes may call it at once; one thread per call also
     * keeps its results independent of timing.
     */
    @Override
    public boolean runsInLanes() {
        return true;
    }

    @Override
    public int threads() {
        return openblas_full.openblas_get_num_threads();
    }

    @Override
    public String config() {
        // openblas_get_config() starts with "OpenBLAS <version>" and names the build's options.
        return openblas_full.openblas_get_config().getString().trim() + ", core " + corename();
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
