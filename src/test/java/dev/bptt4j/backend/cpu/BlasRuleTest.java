package dev.bptt4j.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code auto}'s rule on {@code /proc/cpuinfo} text as Linux prints it: MKL on Intel (Sapphire
 * Rapids, and an Intel without AVX-512), OpenBLAS on AMD (the EPYC Zen 5 these tests run on, a
 * Zen 4, a Zen 2 without AVX-512), Hygon and Zhaoxin; MKL where the vendor is unknown, OpenBLAS
 * off x86. And the one-line note when OPENBLAS_CORETYPE keeps OpenBLAS off a CPU's AVX-512.
 */
class BlasRuleTest {
    private static final String AVX512_FLAGS = "fpu vme sse sse2 avx fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16";
    private static final String AVX2_FLAGS = "fpu vme sse sse2 avx fma avx2";

    /** The first processor of this machine's /proc/cpuinfo (an AMD EPYC Zen 5), trimmed of lines the rule ignores. */
    private static final String EPYC_ZEN5 = "processor\t: 0\n"
            + "vendor_id\t: AuthenticAMD\n"
            + "cpu family\t: 26\n"
            + "model\t\t: 2\n"
            + "model name\t: AMD EPYC\n"
            + "stepping\t: 1\n"
            + "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx"
            + " mmxext lm constant_tsc rep_good nopl xtopology pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes"
            + " xsave avx f16c rdrand hypervisor lahf_lm bmi1 avx2 bmi2 erms avx512f avx512dq adx avx512ifma clflushopt clwb"
            + " avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 avx_vnni avx512_bf16 clzero avx512vbmi avx512_vbmi2"
            + " gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq movdiri movdir64b fsrm avx512_vp2intersect\n"
            + "bogomips\t: 4192.02\n"
            + "\n"
            + "processor\t: 1\n"
            + "vendor_id\t: AuthenticAMD\n"
            + "cpu family\t: 26\n";

    private static String cpuinfo(String vendor, int family, int model, String name, String flags) {
        return "processor\t: 0\nvendor_id\t: " + vendor + "\ncpu family\t: " + family + "\nmodel\t\t: " + model
                + "\nmodel name\t: " + name + "\nstepping\t: 8\nflags\t\t: " + flags + "\n\n";
    }

    private static String choose(String arch, String cpuinfo) {
        BlasRule.Choice c = BlasRule.choose(CpuInfo.parse(arch, cpuinfo));
        System.out.println(arch + " " + CpuInfo.parse(arch, cpuinfo).summary() + " -> " + c.library() + " (" + c.reason() + ")");
        return c.library();
    }

    @Test
    void parsesTheFirstProcessorOfProcCpuinfo() {
        CpuInfo cpu = CpuInfo.parse("amd64", EPYC_ZEN5);
        assertEquals("AuthenticAMD", cpu.vendor());
        assertEquals(26, cpu.family());
        assertEquals(2, cpu.model());
        assertEquals("AMD EPYC", cpu.modelName());
        assertTrue(cpu.avx512() && cpu.flags().contains("avx512_bf16"), cpu.flags().toString());
        assertTrue(cpu.x86());
        assertEquals("AuthenticAMD family 26 model 2 (AMD EPYC), AVX-512", cpu.summary());
    }

    @Test
    void intelGetsMkl() {
        assertEquals("mkl", choose("amd64", cpuinfo("GenuineIntel", 6, 143, "Intel(R) Xeon(R) Platinum 8480+", AVX512_FLAGS)));
        assertEquals("mkl", choose("amd64", cpuinfo("GenuineIntel", 6, 151, "12th Gen Intel(R) Core(TM) i7-12700", AVX2_FLAGS)));
        assertEquals("mkl", choose("x86_64", cpuinfo("GenuineIntel", 6, 85, "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", AVX512_FLAGS)));
    }

    @Test
    void amdAndOtherX86VendorsGetOpenBlas() {
        assertEquals("openblas", choose("amd64", EPYC_ZEN5));
        assertEquals("openblas", choose("amd64", cpuinfo("AuthenticAMD", 25, 17, "AMD EPYC 9654 96-Core Processor", AVX512_FLAGS)));
        assertEquals("openblas", choose("amd64", cpuinfo("AuthenticAMD", 23, 49, "AMD EPYC 7742 64-Core Processor", AVX2_FLAGS)));
        assertEquals("openblas", choose("amd64", cpuinfo("HygonGenuine", 24, 2, "Hygon C86 7285 32-core Processor", AVX2_FLAGS)));
        assertEquals("openblas", choose("amd64", cpuinfo("CentaurHauls", 7, 59, "ZHAOXIN KaiXian KX-U6780A@2.7GHz", AVX2_FLAGS)));
        assertEquals("openblas", choose("amd64", cpuinfo("  Shanghai  ", 7, 91, "ZHAOXIN KaiSheng KH-40000", AVX2_FLAGS)));
        BlasRule.Choice zen5 = BlasRule.choose(CpuInfo.parse("amd64", EPYC_ZEN5));
        assertEquals("auto on AMD family 26: MKL takes its AVX2 path off Intel", zen5.reason());
    }

    @Test
    void unknownVendorKeepsMklAndOtherArchitecturesGetOpenBlas() {
        assertEquals("mkl", choose("amd64", ""));
        assertEquals("mkl", choose("amd64", "processor\t: 0\nflags\t\t: fpu sse\n"));
        String graviton = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd sve\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\n\n";
        assertEquals("openblas", choose("aarch64", graviton));
        assertFalse(CpuInfo.parse("aarch64", graviton).x86());
        assertEquals("openblas", choose("ppc64le", ""));
    }

    @Test
    void theRuleIsAFunctionOfTheCpuAlone() {
        for (int run = 0; run < 3; run++) {
            assertEquals("openblas", choose("amd64", EPYC_ZEN5));
            assertEquals("mkl", choose("amd64", cpuinfo("GenuineIntel", 6, 143, "Intel(R) Xeon(R) Platinum 8480+", AVX512_FLAGS)));
        }
    }

    @Test
    void aCoretypeThatLeavesAvx512UnusedIsNamedInOneLine() {
        CpuInfo zen5 = CpuInfo.parse("amd64", EPYC_ZEN5);
        String notice = BlasRule.coretypeNotice(zen5, "Haswell", "haswell");
        assertEquals("note: OPENBLAS_CORETYPE=Haswell runs OpenBLAS's haswell kernels; this CPU has AVX-512, which OpenBLAS uses"
                + " when OPENBLAS_CORETYPE is unset", notice);
        assertFalse(notice.contains("\n"));
        assertNotNullNotice(BlasRule.coretypeNotice(zen5, "Zen", "zen"));
        // Unset, an AVX-512 core, or a CPU without AVX-512: nothing to say.
        assertNull(BlasRule.coretypeNotice(zen5, null, "cooperlake"));
        assertNull(BlasRule.coretypeNotice(zen5, "", "cooperlake"));
        assertNull(BlasRule.coretypeNotice(zen5, "SkylakeX", "skylakex"));
        assertNull(BlasRule.coretypeNotice(zen5, "COOPERLAKE", "cooperlake"));
        assertNull(BlasRule.coretypeNotice(CpuInfo.parse("amd64", cpuinfo("AuthenticAMD", 23, 49, "AMD EPYC 7742", AVX2_FLAGS)),
                "Haswell", "haswell"));
        assertTrue(BlasRule.avx512Core("SapphireRapids"));
        assertFalse(BlasRule.avx512Core("Zen"));
    }

    private static void assertNotNullNotice(String notice) {
        assertTrue(notice != null && notice.startsWith("note: OPENBLAS_CORETYPE=Zen runs OpenBLAS's zen kernels"), String.valueOf(notice));
    }

    /**
     * The library this process runs under auto is the rule's for this machine's CPU, and the
     * backend's notice is there exactly when the rule says (this environment may set OPENBLAS_CORETYPE).
     */
    @Test
    void thisProcessRunsWhatTheRuleSays() {
        try (CpuBackend backend = new CpuBackend()) {
            System.out.println(CpuInfo.host().summary() + ": " + backend.description());
            if (CpuBlas.requested().equals("auto")) assertEquals(BlasRule.choose(CpuInfo.host()).library(), backend.blas());
            String expected = backend.blas().equals("openblas")
                    ? BlasRule.coretypeNotice(CpuInfo.host(), System.getenv("OPENBLAS_CORETYPE"), OpenBlas.corename()) : null;
            assertEquals(expected, backend.notice());
            if (expected != null) System.out.println(expected);
        }
    }
}
