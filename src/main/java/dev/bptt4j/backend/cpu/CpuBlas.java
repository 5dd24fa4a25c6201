package dev.bptt4j.backend.cpu;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;

import java.util.Locale;

/**
 * The native BLAS behind the CPU backend: Intel oneMKL or OpenBLAS, both from Maven Central through
 * JavaCPP's presets, row-major CBLAS. Exactly one is loaded per process and it is chosen once:
 * the two export the same {@code cblas_*} symbols, and once MKL is loaded an OpenBLAS call that
 * has not been bound yet silently lands in MKL, so mixing them would misreport which library ran.
 *
 * <p>Choice: {@code -Dbptt4j.blas} or {@code BPTT4J_BLAS} = {@code mkl}, {@code openblas} or
 * {@code auto} (the default: the library {@link BlasRule} picks for this CPU, MKL on Intel and
 * OpenBLAS elsewhere; should it not load, the other, with one line on stderr saying why).
 */
interface CpuBlas {
    /** "mkl" or "openblas". */
    String name();

    void setThreads(int threads);

    int threads();

    /**
     * Whether the CPU backend may run this library sequentially (one thread, process-wide) and call
     * it from its lane threads at once, instead of using the library's own threads.
     */
    default boolean runsInLanes() {
        return false;
    }

    /** Library, version and the kernel family it dispatched to, for reports. */
    String config();

    /** Why this library runs: the setting, or the rule's reason under auto. */
    String reason();

    /** One line on a setting that keeps this library off the CPU's fastest kernels, or null. */
    default String notice() {
        return null;
    }

    void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a, int lda,
               FloatPointer b, int ldb, float beta, FloatPointer c, int ldc);

    void dgemm(boolean ta, boolean tb, int m, int n, int k, double alpha, DoublePointer a, int lda,
               DoublePointer b, int ldb, double beta, DoublePointer c, int ldc);

    /**
     * The library's vector math for the pointwise kernels, or null when it has none (OpenBLAS:
     * the kernels then use their Java element math).
     */
    default VectorMath vectorMath() {
        return null;
    }

    /**
     * Bytes of a packed right operand op(B) (k×n) for m-row products, or 0 when this library has
     * no packed GEMM (OpenBLAS).
     */
    default long packedSize(boolean f32, int m, int n, int k) {
        return 0;
    }

    /** Packs op(B) into {@code dest} (a FloatPointer or DoublePointer view of at least {@link #packedSize} bytes from {@link #allocatePacked}). */
    default void pack(boolean f32, boolean transposeB, int m, int n, int k, org.bytedeco.javacpp.Pointer b, int ldb,
                      org.bytedeco.javacpp.Pointer dest) {
        throw new UnsupportedOperationException(name() + " has no packed GEMM");
    }

    /** C = A·packed + beta·C, A m×k not transposed. */
    default void gemmPacked(boolean f32, int m, int n, int k, org.bytedeco.javacpp.Pointer a, int lda,
                            org.bytedeco.javacpp.Pointer packed, double beta, org.bytedeco.javacpp.Pointer c, int ldc) {
        throw new UnsupportedOperationException(name() + " has no packed GEMM");
    }

    /** 64-byte-aligned native memory for packed operands (the library's allocator), or null. */
    default org.bytedeco.javacpp.Pointer allocatePacked(long bytes) {
        return null;
    }

    default void freePacked(org.bytedeco.javacpp.Pointer p) {
    }

    /** The process's BLAS, loaded on first use. */
    static CpuBlas process() {
        // The choice is checked here, outside the holder's initialiser: thrown from there, a bad value
        // would surface as a bare ExceptionInInitializerError, and as NoClassDefFoundError ever after.
        requested();
        return Selected.BLAS;
    }

    /** The requested choice from the system property or environment; "auto" when unset. */
    static String requested() {
        String property = System.getProperty("bptt4j.blas");
        String v = property != null ? property : System.getenv("BPTT4J_BLAS");
        if (v == null || v.isBlank()) return "auto";
        String choice = v.trim().toLowerCase(Locale.ROOT);
        if (!choice.equals("auto") && !choice.equals("mkl") && !choice.equals("openblas")) {
            throw new IllegalArgumentException((property != null ? "-Dbptt4j.blas=" : "BPTT4J_BLAS=") + v
                    + ": unknown BLAS; expected mkl, openblas or auto");
        }
        return choice;
    }

    /** Holder idiom: the choice (and the native load) happens once, on first use, thread-safely. */
    final class Selected {
        static final CpuBlas BLAS = select(requested());

        private Selected() {
        }

        private static CpuBlas select(String choice) {
            if (choice.equals("openblas")) return OpenBlas.load("set by " + setting());
            if (choice.equals("mkl")) return Mkl.load("set by " + setting());
            BlasRule.Choice rule = BlasRule.choose(CpuInfo.host());
            boolean mklFirst = rule.library().equals("mkl");
            try {
                return mklFirst ? Mkl.load(rule.reason()) : OpenBlas.load(rule.reason());
            } catch (LinkageError e) {
                // The library's natives did not load (another platform, a missing jar): nothing of it
                // is in the process, so the other can take over safely.
                String other = mklFirst ? "OpenBLAS" : "Intel MKL";
                System.err.println("bptt4j: " + (mklFirst ? "Intel MKL" : "OpenBLAS") + " did not load (" + e + "); the CPU backend uses " + other);
                String reason = rule.reason() + ", " + (mklFirst ? "MKL" : "OpenBLAS") + " did not load";
                return mklFirst ? OpenBlas.load(reason) : Mkl.load(reason);
            }
        }

        private static String setting() {
            return System.getProperty("bptt4j.blas") != null ? "-Dbptt4j.blas" : "BPTT4J_BLAS";
        }
    }
}
