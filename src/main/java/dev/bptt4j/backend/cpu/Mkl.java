package dev.bptt4j.backend.cpu;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.mkl.global.mkl_rt;

/**
 * Intel oneMKL through JavaCPP's presets (the redistributable libraries ship in the
 * {@code linux-x86_64-redist} jar, so nothing needs installing). Loaded in conditional numerical
 * reproducibility mode (CNR "auto": fixed blocking and deterministic reductions), because MKL's
 * default dispatch may otherwise round differently from run to run with the operands' alignment,
 * and bptt4j promises bitwise-repeatable results on one backend.
 */
final class Mkl implements CpuBlas, VectorMath {
    /**
     * Vector math in high-accuracy mode (Intel documents HA as below 1 ulp; measured for tanh:
     * 0.63 ulp in float64 against 200-bit mpmath, 3.2e-8 absolute in float32, see
     * VectorMathTest); errors ignored rather than reported through errno (tanh has none but NaN in,
     * NaN out).
     */
    private static final long VM_MODE = mkl_rt.VML_HA | mkl_rt.VML_ERRMODE_IGNORE;
    private static final int ROW_MAJOR = mkl_rt.CblasRowMajor;
    private static final int NO_TRANS = mkl_rt.CblasNoTrans;
    private static final int TRANS = mkl_rt.CblasTrans;

    private final boolean reproducible;
    private final String reason;

    private Mkl(boolean reproducible, String reason) {
        this.reproducible = reproducible;
        this.reason = reason;
    }

    static Mkl load(String reason) {
        try {
            org.bytedeco.javacpp.Loader.load(mkl_rt.class);
        } catch (RuntimeException e) {
            // JavaCPP reports some load failures this way; either way MKL is not in the process.
            UnsatisfiedLinkError error = new UnsatisfiedLinkError("MKL natives did not load: " + e);
            error.initCause(e);
            throw error;
        }
        // Must precede every other MKL call to take effect. Once MKL is loaded, falling back to
        // OpenBLAS is no longer safe (its cblas symbols may resolve to MKL's), so a refusal is
        // reported and MKL is used as it is.
        int status = mkl_rt.MKL_CBWR_Set(mkl_rt.MKL_CBWR_AUTO);
        if (status != mkl_rt.MKL_CBWR_SUCCESS) {
            System.err.println("bptt4j: MKL refused conditional numerical reproducibility mode (MKL_CBWR_Set returned " + status
                    + "); CPU results may differ in the last bits from run to run");
        }
        return new Mkl(status == mkl_rt.MKL_CBWR_SUCCESS, reason);
    }

    @Override
    public String name() {
        return "mkl";
    }

    @Override
    public String reason() {
        return reason;
    }

    @Override
    public void setThreads(int threads) {
        mkl_rt.MKL_Set_Num_Threads(threads);
        // Vector math runs on one step's rows at a time: too little work to wake a thread team.
        mkl_rt.MKL_Domain_Set_Num_Threads(1, mkl_rt.MKL_DOMAIN_VML);
    }

    /** Sequential MKL is thread-safe for concurrent calls, and in CNR mode deterministic per call. */
    @Override
    public boolean runsInLanes() {
        return true;
    }

    @Override
    public int threads() {
        return mkl_rt.MKL_Get_Max_Threads();
    }

    @Override
    public String config() {
        try (BytePointer version = new BytePointer(257)) {
            version.zero(); // MKL does not terminate the string
            mkl_rt.MKL_Get_Version_String(version, 256);
            return version.getString().trim() + (reproducible ? " (CNR auto)" : " (CNR refused: not bitwise reproducible)");
        }
    }

    @Override
    public VectorMath vectorMath() {
        return this;
    }

    @Override
    public void tanh(CpuBuffer b, int lane, int offset, int n) {
        if (n <= 0) return;
        if (b.dtype == dev.bptt4j.tensor.DType.F32) {
            FloatPointer p = (FloatPointer) b.views(lane).vector.position(offset);
            mkl_rt.vmsTanh(n, p, p, VM_MODE);
        } else {
            DoublePointer p = (DoublePointer) b.views(lane).vector.position(offset);
            mkl_rt.vmdTanh(n, p, p, VM_MODE);
        }
    }

    @Override
    public long packedSize(boolean f32, int m, int n, int k) {
        return f32 ? mkl_rt.cblas_sgemm_pack_get_size(mkl_rt.CblasBMatrix, m, n, k)
                : mkl_rt.cblas_dgemm_pack_get_size(mkl_rt.CblasBMatrix, m, n, k);
    }

    @Override
    public void pack(boolean f32, boolean transposeB, int m, int n, int k, Pointer b, int ldb, Pointer dest) {
        int trans = transposeB ? TRANS : NO_TRANS;
        if (f32) mkl_rt.cblas_sgemm_pack(ROW_MAJOR, mkl_rt.CblasBMatrix, trans, m, n, k, 1f, (FloatPointer) b, ldb, (FloatPointer) dest);
        else mkl_rt.cblas_dgemm_pack(ROW_MAJOR, mkl_rt.CblasBMatrix, trans, m, n, k, 1.0, (DoublePointer) b, ldb, (DoublePointer) dest);
    }

    @Override
    public void gemmPacked(boolean f32, int m, int n, int k, Pointer a, int lda, Pointer packed, double beta, Pointer c, int ldc) {
        // ldb is ignored for a packed operand.
        if (f32) {
            mkl_rt.cblas_sgemm_compute(ROW_MAJOR, NO_TRANS, mkl_rt.CblasPacked, m, n, k, (FloatPointer) a, lda,
                    (FloatPointer) packed, n, (float) beta, (FloatPointer) c, ldc);
        } else {
            mkl_rt.cblas_dgemm_compute(ROW_MAJOR, NO_TRANS, mkl_rt.CblasPacked, m, n, k, (DoublePointer) a, lda,
                    (DoublePointer) packed, n, beta, (DoublePointer) c, ldc);
        }
    }

    @Override
    public Pointer allocatePacked(long bytes) {
        Pointer p = mkl_rt.MKL_malloc(bytes, 64);
        if (p == null || p.isNull()) throw new OutOfMemoryError("MKL_malloc of " + bytes + " bytes for a packed GEMM operand failed");
        return p;
    }

    @Override
    public void freePacked(Pointer p) {
        mkl_rt.MKL_free(p);
    }

    @Override
    public void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a, int lda,
                      FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
        mkl_rt.cblas_sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    @Override
    public void dgemm(boolean ta, boolean tb, int m, int n, int k, double alpha, DoublePointer a, int lda,
                      DoublePointer b, int ldb, double beta, DoublePointer c, int ldc) {
        mkl_rt.cblas_dgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}
