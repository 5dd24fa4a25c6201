package dev.bptt4j.backend.cuda;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Whether a real GPU is usable here, decided once per JVM: the JCuda natives load, the driver
 * sees a device, cuBLAS loads and the kernels load ({@link JCudaApi#open} succeeds end to end).
 *
 * <p>Once is a must, not just thrift: without a driver the first touch of JCuda's driver class
 * throws UnsatisfiedLinkError and every later one NoClassDefFoundError, which would hide the
 * reason. So the probe catches any Throwable the attempt raises, keeps the verdict in a holder
 * class, and never loads anything again.
 */
public final class CudaProbe {
    private static final AtomicInteger ATTEMPTS = new AtomicInteger();

    private CudaProbe() {
    }

    /** {@code usable} with the device's description, or not, with the reason in one line. */
    public record Verdict(boolean usable, String detail) {
        @Override
        public String toString() {
            return (usable ? "usable: " : "not usable: ") + detail;
        }
    }

    private static final class Holder {
        static final Verdict VERDICT = attempt();
    }

    /** The verdict, computed on first call. */
    public static Verdict verdict() {
        return Holder.VERDICT;
    }

    /** How many times the native load was attempted in this JVM (0 or 1). */
    public static int attempts() {
        return ATTEMPTS.get();
    }

    private static Verdict attempt() {
        ATTEMPTS.incrementAndGet();
        try (JCudaApi api = JCudaApi.open()) {
            return new Verdict(true, api.description());
        } catch (Throwable t) {
            return new Verdict(false, reason(t));
        }
    }

    /**
     * A one-line reason. For a native library that did not load, the dynamic linker's own line
     * (JCuda's message buries it among stack traces), e.g. {@code JCudaDriver-12.6.0-linux-x86_64:
     * libcuda.so.1: cannot open shared object file: No such file or directory}.
     */
    static String reason(Throwable t) {
        if (t instanceof UnsatisfiedLinkError) {
            String m = String.valueOf(t.getMessage());
            String library = m.lines().findFirst().orElse("").replaceAll(".*native library \"([^\"]+)\".*", "$1");
            for (String line : m.lines().toList()) {
                int so = line.indexOf(".so: ");
                if (line.contains("cannot open shared object file") && so >= 0) {
                    return "the JCuda natives did not load (no CUDA driver?): " + library + ": " + line.substring(so + 5).strip();
                }
            }
            return "the JCuda natives did not load: " + firstLine(t);
        }
        StringBuilder s = new StringBuilder(t instanceof LinkageError ? "the JCuda natives did not load" : "CUDA initialisation failed");
        int depth = 0;
        for (Throwable c = t; c != null && depth < 3; c = c.getCause(), depth++) s.append(": ").append(firstLine(c));
        return s.toString();
    }

    private static String firstLine(Throwable t) {
        String m = t.getMessage();
        String first = m == null ? "" : m.strip().lines().findFirst().orElse("").strip();
        return t.getClass().getSimpleName() + (first.isEmpty() ? "" : " " + first);
    }
}
