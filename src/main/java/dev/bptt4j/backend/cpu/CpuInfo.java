package dev.bptt4j.backend.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the BLAS choice needs to know of the CPU: the architecture, the {@code cpuid} vendor string,
 * family and model, and whether it has AVX-512. On Linux these come from {@code /proc/cpuinfo} (the
 * kernel's copy of {@code cpuid}), read once; Java has no {@code cpuid} of its own. Fields the host
 * does not report are empty or -1, and the rule then keeps its conservative choice.
 */
record CpuInfo(String arch, String vendor, int family, int model, String modelName, Set<String> flags) {
    static final String INTEL = "GenuineIntel";

    /** Whether the architecture is x86 (the only one MKL ships for). */
    boolean x86() {
        String a = arch.toLowerCase(Locale.ROOT);
        return a.equals("amd64") || a.equals("x86_64") || a.equals("x86") || a.matches("i[3-6]86");
    }

    boolean avx512() {
        return flags.contains("avx512f");
    }

    /** One line for reports, e.g. "AuthenticAMD family 26 model 2 (AMD EPYC), AVX-512". */
    String summary() {
        if (vendor.isEmpty()) return arch + ", vendor unknown";
        return vendor + " family " + family + " model " + model + (modelName.isEmpty() ? "" : " (" + modelName + ")")
                + (avx512() ? ", AVX-512" : "");
    }

    /**
     * Parses {@code /proc/cpuinfo} text: the first processor's {@code vendor_id}, {@code cpu family},
     * {@code model}, {@code model name} and {@code flags}; other architectures' formats leave them empty.
     */
    static CpuInfo parse(String arch, String cpuinfo) {
        String vendor = "", modelName = "";
        int family = -1, model = -1;
        Set<String> flags = new TreeSet<>();
        for (String line : cpuinfo.split("\n")) {
            if (line.isBlank()) {
                if (!vendor.isEmpty()) break; // the first processor is enough: all report the same
                continue;
            }
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String key = line.substring(0, colon).trim(), value = line.substring(colon + 1).trim();
            switch (key) {
                case "vendor_id": vendor = value; break;
                case "cpu family": family = parseInt(value); break;
                case "model": model = parseInt(value); break;
                case "model name": modelName = value; break;
                case "flags": for (String f : value.split("\\s+")) if (!f.isEmpty()) flags.add(f); break;
                default: break;
            }
        }
        return new CpuInfo(arch, vendor, family, model, modelName, Set.copyOf(flags));
    }

    private static int parseInt(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** This machine's CPU, read once. */
    static CpuInfo host() {
        return Host.INFO;
    }

    private static final class Host {
        static final CpuInfo INFO = read();

        private static CpuInfo read() {
            String arch = System.getProperty("os.arch", "");
            try {
                return parse(arch, Files.readString(Path.of("/proc/cpuinfo")));
            } catch (IOException | RuntimeException e) {
                // Not Linux, or /proc not mounted: the rule sees an unknown vendor.
                return parse(arch, "");
            }
        }
    }
}
