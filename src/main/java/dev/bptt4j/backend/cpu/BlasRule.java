package dev.bptt4j.backend.cpu;

import java.util.Locale;
import java.util.Map;

/**
 * What {@code auto} picks, from the CPU's {@code cpuid} vendor alone, so the choice is the same on
 * every run of one machine (a start-up timing race would not be).
 *
 * <ul>
 *   <li><b>Intel</b> ({@code GenuineIntel}): MKL. It dispatches to its AVX-512 kernels there and was
 *       the faster library on Sapphire Rapids (sgemm 1.46× OpenBLAS's at the per-step shape).</li>
 *   <li><b>Every other x86 vendor</b> (AMD, Hygon, Zhaoxin, VIA...): OpenBLAS. MKL runs its AVX2
 *       "Zen" path on AMD and never loads its AVX-512 library, while OpenBLAS picks its AVX-512
 *       kernels where the CPU has them: on an AMD EPYC Zen 5 sgemm 1024³ at 2 threads ran at
 *       360–372 GFLOP/s against MKL's 173 (issue 18).</li>
 *   <li><b>Vendor unknown</b> (no {@code /proc/cpuinfo}): MKL, as before this rule, falling back to
 *       OpenBLAS where MKL's natives do not load; <b>not x86</b>: OpenBLAS (MKL has no natives).</li>
 * </ul>
 *
 * <p><b>Both dtypes follow the CPU.</b> One library serves the whole process (see {@link CpuBlas})
 * and it is chosen before any model, and so any dtype, exists, so float64 cannot have a library of
 * its own. On AMD float64 then runs OpenBLAS's dgemm with {@code Math.tanh} for the Elman cell's
 * tanh (exact, but ~12 ns an element against MKL's ~0.8), which made float64 at 100×64×256×256
 * slower than with MKL in issue 18's figures (93 against 75 ms, Zen 5); float32, the dtype meant
 * for speed, gains more than that (39 → 21–23 ms). A float64-only process on AMD can set
 * {@code mkl}.
 */
final class BlasRule {
    private BlasRule() {
    }

    /** Known x86 vendors other than Intel, by their cpuid string, for the reason line. */
    private static final Map<String, String> OTHER_VENDORS = Map.of(
            "AuthenticAMD", "AMD", "HygonGenuine", "Hygon", "CentaurHauls", "Centaur/Zhaoxin", "  Shanghai  ", "Zhaoxin",
            "Shanghai", "Zhaoxin", "VIA VIA VIA ", "VIA");

    /** A library and why the rule picked it. */
    record Choice(String library, String reason) {
    }

    static Choice choose(CpuInfo cpu) {
        if (!cpu.x86()) return new Choice("openblas", "auto on " + cpu.arch() + ": MKL is x86-only");
        if (cpu.vendor().isEmpty()) return new Choice("mkl", "auto: CPU vendor unknown, MKL as on Intel");
        if (cpu.vendor().equals(CpuInfo.INTEL)) return new Choice("mkl", "auto on Intel");
        String name = OTHER_VENDORS.getOrDefault(cpu.vendor(), OTHER_VENDORS.getOrDefault(cpu.vendor().trim(), cpu.vendor().trim()));
        return new Choice("openblas", "auto on " + name + (cpu.family() >= 0 ? " family " + cpu.family() : "")
                + ": MKL takes its AVX2 path off Intel");
    }

    /**
     * OpenBLAS kernel cores (lower case, as {@code openblas_get_corename} reports them) that use
     * AVX-512; OpenBLAS also runs AMD Zen 4 and 5 on these.
     */
    static boolean avx512Core(String corename) {
        String c = corename.toLowerCase(Locale.ROOT);
        return c.equals("skylakex") || c.equals("cooperlake") || c.equals("sapphirerapids");
    }

    /**
     * One line when a user-set {@code OPENBLAS_CORETYPE} keeps OpenBLAS off AVX-512 on a CPU that
     * has it (OpenBLAS would otherwise choose an AVX-512 core itself), else null.
     */
    static String coretypeNotice(CpuInfo cpu, String coretype, String corename) {
        if (coretype == null || coretype.isBlank() || !cpu.avx512() || avx512Core(corename)) return null;
        return "note: OPENBLAS_CORETYPE=" + coretype.trim() + " runs OpenBLAS's " + corename
                + " kernels; this CPU has AVX-512, which OpenBLAS uses when OPENBLAS_CORETYPE is unset";
    }
}
